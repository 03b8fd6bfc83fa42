"""Lambda-like execution of the template's functions: each in its own worker processes.

A FunctionPool keeps up to ``max_concurrency`` execution environments (worker processes) of
one function, started on demand and reused, as Lambda reuses warm environments. An
environment whose invocation times out or whose process dies is discarded; the next
invocation gets a fresh one. Workers die with the process that started them (local.processes).

Each environment is a fresh interpreter, or, given a Preloader, a child forked from a process
that has imported the libraries every handler needs (local/preloader.py): the stack uses one, so
that the dozens of environments a concurrency test starts do not each pay 1.3 s of CPU to
import boto3, pydantic and Powertools; `make invoke` starts fresh interpreters.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local.processes import spawn, wait_or_kill

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
PRELOADER_SCRIPT = Path(__file__).with_name("preloader.py")
PRELOADER_READY_TIMEOUT_SECONDS = 120  # its imports, on a machine busy starting a whole stack
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


def _start_script(
    script: Path, arguments: list[str], environment: Mapping[str, str], pass_fds: tuple[int, ...]
) -> subprocess.Popen[str]:
    """``python -u script arguments...`` with only ``environment``, its output one line at a time."""
    return spawn(
        [sys.executable, "-u", str(script), *arguments],
        env=dict(environment),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=pass_fds,
        text=True,
        bufsize=1,
    )


def _pump_logs(output: IO[str] | None, source: str, log_sink: LogSink) -> None:
    """Each line a process writes, to the log, from a thread of its own until the process ends."""
    assert output is not None

    def pump() -> None:
        for line in output:
            log_sink(source, line.rstrip("\n"))

    threading.Thread(target=pump, name=f"{source}-logs", daemon=True).start()


def _worker_arguments(definition: FunctionDefinition) -> list[str]:
    """local/worker.py's arguments after its two pipes."""
    return [str(definition.code_dir), definition.handler, *(str(path) for path in definition.layer_dirs)]


class _Worker:
    def __init__(
        self,
        definition: FunctionDefinition,
        log_sink: LogSink,
        on_start: ProcessSink | None = None,
        preloader: Preloader | None = None,
    ) -> None:
        self.definition = definition
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        self.process: subprocess.Popen[str] | ForkedProcess
        if preloader is not None:
            self.process = preloader.fork(definition, request_read, response_write)
        else:
            self.process = _start_script(
                WORKER_SCRIPT,
                [str(request_read), str(response_write), *_worker_arguments(definition)],
                definition.environment,
                pass_fds=(request_read, response_write),
            )
        os.close(request_read)
        os.close(response_write)
        if on_start is not None:
            on_start(self.process.pid)
        self._buffer = b""
        self._ready = False
        _pump_logs(self.process.stdout, definition.name, log_sink)

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

    def kill(self) -> None:
        for descriptor in (self._request_write, self._response_read):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        if self.process.poll() is None:
            self.process.kill()

    def stop(self) -> None:
        self.kill()
        self.process.wait()


class FunctionPool:
    def __init__(
        self,
        definition: FunctionDefinition,
        log_sink: LogSink,
        max_concurrency: int,
        on_start: ProcessSink | None = None,
        preloader: Preloader | None = None,
    ) -> None:
        self.definition = definition
        self._log_sink = log_sink
        self._on_start = on_start  # told each new worker's pid
        self._preloader = preloader
        self._max = max_concurrency
        self._idle: list[_Worker] = []
        self._busy = 0
        self._condition = threading.Condition()
        self._closed = False

    def warm(self, *, wait: bool = False) -> None:
        """Start one execution environment ahead of the first invocation (``wait``: until its init is done)."""
        worker = _Worker(self.definition, self._log_sink, self._on_start, self._preloader)
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
            return _Worker(self.definition, self._log_sink, self._on_start, self._preloader)
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
        # All killed first, then waited for: a forked environment's exit is reported by the
        # preloader's next reap, up to its reap interval later, and one at a time that added up
        # to seconds per stop.
        for worker in idle:
            worker.kill()
        for worker in idle:
            worker.process.wait()


class ForkedProcess:
    """An execution environment forked by the Preloader: what _Worker uses of a subprocess.Popen.
    Only the preloader can reap it, so its exit status arrives as a message from there."""

    def __init__(self, pid: int, stdout: IO[str]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"execution environment {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def exited(self, status: int) -> None:
        self.returncode = status
        self._exited.set()


class PreloaderFailed(Exception):
    """The preloader process did not start, or is gone."""


class Preloader:
    """One process (local/preloader.py) that imported the handlers' libraries and forks a child
    for each execution environment. Its environment is what every function's has in common, so
    that no function's own variable is seen by the libraries it imports."""

    def __init__(self, environments: Iterable[Mapping[str, str]], log_sink: LogSink, on_start: ProcessSink | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        self._lock = threading.Lock()  # one fork at a time: its "started" answer is the next message
        self._started: queue.Queue[ForkedProcess | PreloaderFailed] = queue.Queue()
        self._pending_stdout: IO[str] | None = None
        self._children: dict[int, ForkedProcess] = {}
        self._ready = threading.Event()
        self.process = _start_script(PRELOADER_SCRIPT, [str(theirs.fileno())], _shared(environments), pass_fds=(theirs.fileno(),))
        theirs.close()
        if on_start is not None:
            on_start(self.process.pid)
        _pump_logs(self.process.stdout, "preloader", log_sink)
        threading.Thread(target=self._read_messages, name="preloader", daemon=True).start()

    def _read_messages(self) -> None:
        while True:
            try:
                message = self._control.recv(1 << 16)
            except OSError:
                message = b""
            if not message:
                break
            reply = json.loads(message)
            if "ready" in reply:
                self._ready.set()
            elif "started" in reply:
                assert self._pending_stdout is not None
                child = ForkedProcess(int(reply["started"]), self._pending_stdout)
                self._children[child.pid] = child
                self._started.put(child)
            elif "exited" in reply:
                exited = self._children.pop(int(reply["exited"]), None)
                if exited is not None:
                    exited.exited(int(reply["status"]))
        # The preloader is gone, and Linux killed its children with it.
        for child in self._children.values():
            child.exited(-signal.SIGKILL)
        self._children.clear()
        self._started.put(PreloaderFailed("the preloader process is gone"))

    def fork(self, definition: FunctionDefinition, request_read: int, response_write: int) -> ForkedProcess:
        """A new execution environment of ``definition``, its pipes given (the caller closes its copies)."""
        if not self._ready.wait(PRELOADER_READY_TIMEOUT_SECONDS):
            raise PreloaderFailed(f"the preloader did not import its libraries in {PRELOADER_READY_TIMEOUT_SECONDS} s")
        output_read, output_write = os.pipe()
        with self._lock:
            self._pending_stdout = open(output_read, encoding="utf-8", buffering=1)  # noqa: SIM115 - the worker's, closed with it
            try:
                request = {
                    "name": definition.code_dir.name,  # what `ps` and `make bench` show for it
                    "arguments": _worker_arguments(definition),
                    "environment": dict(definition.environment),
                }
                socket.send_fds(self._control, [json.dumps(request).encode()], [output_write, request_read, response_write])
            except OSError as error:
                self._pending_stdout.close()
                raise PreloaderFailed("the preloader process is gone") from error
            finally:
                os.close(output_write)
            started = self._started.get()
        if isinstance(started, PreloaderFailed):
            raise started
        return started

    def close(self) -> None:
        """Closing the socket stops the preloader; Linux then kills whatever children it still has."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        self._control.close()
        wait_or_kill(self.process, 10)


def _shared(environments: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The variables every environment has, with the same value."""
    common: dict[str, str] | None = None
    for environment in environments:
        common = dict(environment) if common is None else {k: v for k, v in common.items() if environment.get(k) == v}
    return common or {}
