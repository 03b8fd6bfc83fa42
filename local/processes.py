"""Child processes that die with the local stack, however it dies.

Every child (DynamoDB Local, moto, each function's workers) asks Linux, before it runs, to be
sent SIGKILL when its parent dies (PR_SET_PDEATHSIG): a stack killed with SIGKILL, by a closed
terminal or by the OOM killer leaves nothing running. The kernel sends that signal when the
*thread* that started the child ends, not the process; so every child is started from one
thread that lives as long as the process does.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def _die_with(parent: int) -> None:
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took hold
        os._exit(1)


def spawn(command: list[str], **options: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen(command, **options), for a child that is killed when this process ends."""
    parent = os.getpid()
    return _SPAWNER.submit(lambda: subprocess.Popen(command, preexec_fn=lambda: _die_with(parent), **options)).result()


def wait_or_kill(process: subprocess.Popen[Any], timeout_seconds: float) -> int:
    """The process's exit status, once it has ended; killed if it has not within the timeout."""
    try:
        return process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot), None if it is gone: with the pid, it
    names one process, never another that reuses the pid later. A zombie counts as gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])
