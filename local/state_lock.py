"""One local stack per state folder, and nothing left running by one that died.

A stack holds an exclusive lock (flock) on ``<state dir>/stack.lock`` while it runs; the kernel
releases it however the process ends. The file names the holder (pid, then its URL), so a second
stack on the folder can say which one holds it, and leaves without touching the data. Every
process a stack starts is recorded in ``<state dir>/children.jsonl`` (pid and start time: a pid
reused by another process is never taken for it); the next stack on the folder stops whatever
of them still runs before it opens the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import IO

from local.processes import start_time

STOP_TIMEOUT_SECONDS = 10.0


class StateFolderInUse(RuntimeError):
    pass


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.lock_file = state_dir / "stack.lock"
        self.children_file = state_dir / "children.jsonl"
        self._handle: IO[str] | None = None
        self._record_lock = threading.Lock()

    def acquire(self) -> list[int]:
        """Hold the folder, or raise StateFolderInUse naming the stack that holds it. Returns the
        pids of what a previous stack left running there, stopped."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = os.fdopen(os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644), "r+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip()
            handle.close()
            raise StateFolderInUse(self._describe(holder)) from None
        self._handle = handle
        self.announce(url=None)
        stopped = stop_leftovers(self.children_file)
        self.children_file.write_text("")
        return stopped

    def _describe(self, holder: str) -> str:
        try:
            details = json.loads(holder)
        except ValueError:
            details = {}
        where = f"the stack at {details['url']}" if details.get("url") else "a stack that is starting"
        pid = f" (pid {details['pid']})" if details.get("pid") else ""
        return (
            f"{self.state_dir} is in use by {where}{pid}: stop that one first (Ctrl-C in its terminal),"
            " or give this one another --state-dir"
        )

    @property
    def held(self) -> bool:
        return self._handle is not None

    def announce(self, *, url: str | None) -> None:
        """Say who holds the folder, for a second stack to tell."""
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps({"pid": os.getpid(), "url": url}))
        self._handle.flush()

    def record_child(self, pid: int) -> None:
        with self._record_lock, self.children_file.open("a", encoding="utf-8") as records:
            records.write(json.dumps({"pid": pid, "start": start_time(pid)}) + "\n")

    def release(self) -> None:
        if self._handle is not None:
            self.children_file.write_text("")
            self._handle.close()  # closing the descriptor releases the lock
            self._handle = None


def stop_leftovers(children_file: Path) -> list[int]:
    """Stop the recorded processes that still run (SIGTERM, then SIGKILL); their pids."""
    if not children_file.exists():
        return []
    left = []
    for line in children_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["start"] is not None and start_time(record["pid"]) == record["start"]:
            left.append((int(record["pid"]), int(record["start"])))
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        for pid, started in left:
            if start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while any(start_time(pid) == started for pid, started in left) and time.monotonic() < deadline:
            time.sleep(0.05)
    running = [pid for pid, started in left if start_time(pid) == started]
    if running:
        raise RuntimeError(f"processes left by a previous stack did not stop: {running}")
    return [pid for pid, _ in left]
