"""Lambda-like execution of the template's functions: each in its own worker processes.

A FunctionPool keeps up to ``max_concurrency`` execution environments (worker processes) of
one function, started on demand and reused, as Lambda reuses warm environments. An
environment whose invocation times out or whose process dies is discarded; the next
invocation gets a fresh one. Workers die with the process that started them (local.processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.processes import spawn

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_SECONDS = 60  # Lambda allows 10 s; a laptop starting many environments at once needs more

LogSink = Callable[[str, str], None]
ProcessSink = Callable[[int], None]


class InvocationFailed(Exception):
    """The invocation did not return a result."""

    kind = "function-error"


class FunctionError(InvocationFailed):
    """The handler raised (Lambda's "Unhandled" function error)."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = dict(error)


class FunctionCrashed(InvocationFailed):
    """The execution environment's process died (out of memory, os._exit, a segfault)."""

    kind = "function-crashed"


class FunctionTimedOut(InvocationFailed):
    """The invocation ran past the function's Timeout."""

    kind = "function-timeout"


@dataclass(frozen=True)
class FunctionDefinition:
    name: str  # logical id
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout_seconds: int


class _Worker:
    def __init__(self, definition: FunctionDefinition, log_sink: LogSink, on_start: ProcessSink | None = None) -> None:
        self.definition = definition
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        self.process = spawn(
            [
                sys.executable,
                "-u",
                str(WORKER_SCRIPT),
                str(request_read),
                str(response_write),
                str(definition.code_dir),
                definition.handler,
                *(str(path) for path in definition.layer_dirs),
            ],
            env=dict(definition.environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(request_read, response_write),
            text=True,
            bufsize=1,
        )
        os.close(request_read)
        os.close(response_write)
        if on_start is not None:
            on_start(self.process.pid)
        self._buffer = b""
        self._ready = False
        threading.Thread(target=self._pump_logs, args=(log_sink,), daemon=True).start()

    def _pump_logs(self, log_sink: LogSink) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            log_sink(self.definition.name, line.rstrip("\n"))

    def wait_until_ready(self) -> None:
        """Init (imports, module-level setup) does not count against the function's timeout."""
        if not self._ready:
            self._read_line(time.time() + INIT_TIMEOUT_SECONDS)
            self._ready = True

    def invoke(self, event: Any, request_id: str) -> Any:
        self.wait_until_ready()
        deadline = time.time() + self.definition.timeout_seconds
        request = {"event": event, "request_id": request_id, "deadline_ms": int(deadline * 1000)}
        try:
            os.write(self._request_write, (json.dumps(request) + "\n").encode())
        except BrokenPipeError:
            raise FunctionCrashed("the execution environment is gone") from None
        reply = json.loads(self._read_line(deadline))
        if "error" in reply:
            raise FunctionError(reply["error"])
        return reply["result"]

    def _read_line(self, deadline: float) -> bytes:
        with selectors.DefaultSelector() as selector:
            selector.register(self._response_read, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise FunctionTimedOut(f"timed out after {self.definition.timeout_seconds} s")
                if not selector.select(remaining):
                    continue
                chunk = os.read(self._response_read, 1 << 16)
                if not chunk:
                    raise FunctionCrashed(f"the process exited with status {self.process.wait()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def stop(self) -> None:
        for descriptor in (self._request_write, self._response_read):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class FunctionPool:
    def __init__(
        self, definition: FunctionDefinition, log_sink: LogSink, max_concurrency: int, on_start: ProcessSink | None = None
    ) -> None:
        self.definition = definition
        self._log_sink = log_sink
        self._on_start = on_start  # told each new worker's pid
        self._max = max_concurrency
        self._idle: list[_Worker] = []
        self._busy = 0
        self._condition = threading.Condition()
        self._closed = False

    def warm(self, *, wait: bool = False) -> None:
        """Start one execution environment ahead of the first invocation (``wait``: until its init is done)."""
        worker = _Worker(self.definition, self._log_sink, self._on_start)
        if wait:
            worker.wait_until_ready()
        with self._condition:
            self._idle.append(worker)

    def _acquire(self) -> _Worker:
        with self._condition:
            while not self._idle and self._busy >= self._max:
                self._condition.wait()
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            return _Worker(self.definition, self._log_sink, self._on_start)
        except BaseException:
            with self._condition:
                self._busy -= 1
                self._condition.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._condition:
            self._busy -= 1
            if healthy and not self._closed:
                self._idle.append(worker)
            self._condition.notify()
        if not healthy or self._closed:
            worker.stop()

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        worker = self._acquire()
        healthy = False
        try:
            result = worker.invoke(event, request_id or str(uuid.uuid4()))
            healthy = True
            return result
        except FunctionError:
            healthy = True
            raise
        finally:
            self._release(worker, healthy)

    def idle_workers(self) -> list[_Worker]:
        with self._condition:
            return list(self._idle)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()
