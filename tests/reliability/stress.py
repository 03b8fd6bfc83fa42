"""`make stress`: the whole reliability suite at full size, then a short report.

    python -m tests.reliability.stress [--size full|reduced] [pytest arguments, e.g. -k bank]

Runs tests/reliability with ``VAULTPAY_RELIABILITY_SIZE=full`` (the bank workload with and
without faults, the state machine, the fuzzer and the security checks), each on the suite's
own in-memory local stack (127.0.0.1 only), and prints what each part recorded: requests
sent, transfers acknowledged, duplicates absorbed, faults injected (per kind), invariant
violations. Exits 1 when a test failed or any invariant was violated.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from xml.etree import ElementTree

from local.template import ROOT
from tests.reliability.report import REPORT_ENV, read, render
from tests.reliability.sizes import SIZE_ENV

SUITE = "tests/reliability"


def outcomes_by_module(junit: Path) -> dict[str, Counter[str]]:
    """passed / failed / skipped per test module, from pytest's JUnit XML."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    if not junit.exists():
        return found
    for case in ElementTree.parse(junit).iter("testcase"):  # noqa: S314 - our own pytest's output
        module = case.get("classname", "").split(".")
        name = next((part for part in module if part.startswith("test_")), ".".join(module))
        children = {child.tag for child in case}
        outcome = "failed" if children & {"failure", "error"} else "skipped" if "skipped" in children else "passed"
        found[name][outcome] += 1
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("full", "reduced"), default="full")
    args, pytest_args = parser.parse_known_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vaultpay-stress-"))
    report, junit = work / "report.jsonl", work / "junit.xml"
    environment = {**os.environ, SIZE_ENV: args.size, REPORT_ENV: str(report)}
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *pytest_args]
    exit_code = subprocess.run(command, cwd=ROOT, env=environment, check=False).returncode
    sections = read(report)
    violations = sum(section.violations for section in sections)
    print(f"\nreliability suite at {args.size} size ({time.monotonic() - started:.0f} s): pytest exit code {exit_code}")
    for module, counts in sorted(outcomes_by_module(junit).items()):
        print(f"  {module:<24} " + ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())))
    print(render(sections))
    print(f"invariant violations: {violations}", flush=True)
    return 1 if exit_code or violations else 0


if __name__ == "__main__":
    sys.exit(main())
