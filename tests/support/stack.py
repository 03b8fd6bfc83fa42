"""The real local stack, started as `python -m local run` would be, for integration tests."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.processes import wait_or_kill
from local.stack import ServiceEndpoints
from local.template import ROOT

STARTUP_TIMEOUT_SECONDS = 120
# The suite's own clients (tests.support.api.suite_address, the browser on 127.0.0.1) send far
# more than one client should: the edge's per-address limits leave them alone, and apply to the
# strangers of 127.128.0.0/9 (tests.support.api.stranger_address).
TRUSTED_TEST_CLIENTS = "127.0.0.0/9"
# DynamoDB Local's JVM in a test stack: the client compiler only (C2's compilations cost more CPU
# than they save in a stack that lives seconds to minutes: measured, half the JVM's CPU to
# start and to serve 2,500 transactions) and the serial collector (two cores, no GC threads to
# spare). Set from outside the stack, through the environment every JVM reads; `make run` and
# `make bench` keep the JVM's defaults.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass
class RunningStack:
    url: str
    info: dict[str, Any]
    state_dir: Path
    fault_plan: Path
    log_file: Path
    process: subprocess.Popen[bytes]

    def resource(self, logical_id: str) -> str:
        return str(self.info["resources"][logical_id])

    def client(self, service: str) -> Any:
        return ServiceEndpoints(**self.info["endpoints"]).client(service)

    def set_faults(self, *rules: dict[str, Any]) -> None:
        # Replaced whole (write aside, rename): workers reading the plan never see it half-written.
        partial = self.fault_plan.with_suffix(".partial")
        partial.write_text(json.dumps({"rules": list(rules)}))
        partial.replace(self.fault_plan)

    def fault_rules(self) -> list[dict[str, Any]]:
        return list(json.loads(self.fault_plan.read_text()).get("rules", []))

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            wait_or_kill(self.process, 30)


@contextmanager
def running_stack(
    state_dir: Path,
    *,
    extra_args: tuple[str, ...] = (),
    faults: bool = True,
    in_memory: bool = True,
    jvm_options: str = TEST_JVM_OPTIONS,
) -> Iterator[RunningStack]:
    """A local stack for the duration of a ``with`` block (``faults``: with an empty fault plan;
    ``in_memory=False``: data, keys and secrets kept in ``state_dir``, as ``make run`` keeps them;
    ``jvm_options``: for DynamoDB Local's JVM, empty for the JVM's defaults)."""
    running = start_stack(state_dir, extra_args=extra_args, faults=faults, in_memory=in_memory, jvm_options=jvm_options)
    try:
        yield running
    finally:
        running.stop()


_PR_SET_PDEATHSIG = 1


def stop_when_the_test_process_dies() -> None:
    """Linux sends the stack SIGTERM (its clean shutdown) if the test run is killed before its
    fixtures can stop it, e.g. by a timeout: no orphaned stack keeps ports and cores busy."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_stack(
    state_dir: Path,
    *,
    extra_args: tuple[str, ...] = (),
    faults: bool = True,
    in_memory: bool = True,
    jvm_options: str = TEST_JVM_OPTIONS,
) -> RunningStack:
    state_dir.mkdir(parents=True, exist_ok=True)
    fault_plan = state_dir / "faults.json"
    fault_plan.write_text('{"rules": []}')
    log_file = state_dir / "stack.log"
    stack_file = state_dir / "stack.json"
    stack_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "run",
            "--port",
            "0",
            *(("--in-memory",) if in_memory else ()),
            "--state-dir",
            str(state_dir),
            *(("--faults", str(fault_plan)) if faults else ()),
            "--log-file",
            str(log_file),
            "--quiet",
            "--trust-address",
            TRUSTED_TEST_CLIENTS,
            *extra_args,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'layers' / 'vaultpay'}:{ROOT}",
            **({"JAVA_TOOL_OPTIONS": jvm_options} if jvm_options else {}),
        },
        preexec_fn=stop_when_the_test_process_dies,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not stack_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited ({process.returncode}); see {log_file}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start in {STARTUP_TIMEOUT_SECONDS} s; see {log_file}")
        time.sleep(0.1)
    info = json.loads(stack_file.read_text())
    return RunningStack(info["url"], info, state_dir, fault_plan, log_file, process)
