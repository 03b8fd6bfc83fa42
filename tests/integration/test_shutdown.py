"""Ctrl-C stops the whole local stack: every child process, every port, quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from local.template import ROOT
from tests.support.api import Api
from tests.support.processes import alive, descendants, listening_ports
from tests.support.stack import start_stack, stop_when_the_test_process_dies

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]


def test_ctrl_c_stops_every_child_and_frees_every_port(tmp_path: Path) -> None:
    # Given a running stack that has served requests (so every function has a worker)
    running = start_stack(tmp_path)
    Api(running.url).new_user()
    info = json.loads((tmp_path / "stack.json").read_text())
    ports = {int(url.rsplit(":", 1)[1]) for url in (info["url"], *info["endpoints"].values())}
    children = descendants(running.process.pid)
    assert len(children) >= 3  # DynamoDB Local, moto and workers
    assert ports <= listening_ports()
    # When it gets Ctrl-C
    os.kill(running.process.pid, signal.SIGINT)
    assert running.process.wait(timeout=60) == 0
    # Then nothing it started is left running, no port is bound, and it says where it was no more
    assert [pid for pid in children if alive(pid)] == []
    assert not ports & listening_ports()
    assert not (tmp_path / "stack.json").exists()


def test_ctrl_c_in_the_terminal_stops_quietly_with_one_line(tmp_path: Path) -> None:
    # Given `python -m local run` in a terminal of its own (its own process group, as a shell's
    # job is), its console read line by line, and a request served (every worker started)
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "run", "--port", "0", "--in-memory", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'vaultpay'}:{ROOT}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=stop_when_the_test_process_dies,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "VaultPay is running at " in line:
            url = line.rsplit(" ", 1)[1].strip()
            break
    Api(url).new_user()
    # When Ctrl-C reaches the whole group, workers included
    os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    # Then it exits cleanly, saying so in one line, and no process prints a traceback
    assert process.returncode == 0
    after = rest[rest.index("[stack] stopping everything") :]
    assert after.splitlines() == ["[stack] stopping everything (Ctrl-C)"]
    assert "Traceback" not in rest
    assert "KeyboardInterrupt" not in rest
