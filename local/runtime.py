"""Lambda-like execution of the template's functions: each in its own worker processes.

A FunctionPool keeps up to ``max_concurrency`` execution environments (worker processes) of
one function, started on demand and reused, as Lambda reuses warm environments. An
environment whose invocation times out or whose process dies is discarded; the next
invocation gets a fresh one. Workers die with the process that started them (local.processes).
The local stack's pools fork each environment from one initialized environment of the function
(``fork=True``): a new environment costs a fork, not an interpreter importing the function anew.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

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


class _Process(Protocol):
    """What a worker needs of its process: a Popen, or a forked environment's handle."""

    pid: int

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass(frozen=True)
class _Environment:
    pid: int
    request_write: int
    response_read: int
    output_read: int


class _ForkServer:
    """A function's execution environment, initialized once, that serves no invocation itself:
    every environment of the pool is forked from it after init (local/worker.py, --fork-server),
    as Lambda SnapStart resumes environments from a snapshot taken after init, rather than a new
    interpreter importing the function's code again (about 1.5 CPU-s each; a burst of sixteen
    concurrent requests needs sixteen environments). Its environments die with it."""

    def __init__(self, definition: FunctionDefinition, log_sink: LogSink, on_start: ProcessSink | None) -> None:
        self.definition = definition
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = spawn(
                [
                    sys.executable,
                    "-u",
                    str(WORKER_SCRIPT),
                    "--fork-server",
                    str(theirs.fileno()),
                    str(definition.code_dir),
                    definition.handler,
                    *(str(path) for path in definition.layer_dirs),
                ],
                env=dict(definition.environment),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(theirs.fileno(),),
                text=True,
                bufsize=1,
            )
        finally:
            theirs.close()
        if on_start is not None:
            on_start(self.process.pid)
        self._socket = ours
        self._condition = threading.Condition()
        self._pending: deque[Future[_Environment]] = deque()
        self._exits: dict[int, int] = {}
        self._gone = False
        assert self.process.stdout is not None
        _pump_logs(definition.name, self.process.stdout, log_sink)
        threading.Thread(target=self._read, name=f"fork-server-{definition.name}", daemon=True).start()

    @property
    def gone(self) -> bool:
        with self._condition:
            return self._gone

    def request(self) -> Future[_Environment]:
        """A new environment, once the server has finished its init and forked it."""
        future: Future[_Environment] = Future()
        with self._condition:
            if self._gone:
                future.set_exception(FunctionCrashed(f"the initialized environment exited ({self.process.poll()})"))
                return future
            self._pending.append(future)
            try:
                self._socket.send(b"fork")
            except OSError:
                self._pending.remove(future)
                future.set_exception(FunctionCrashed("the initialized environment is gone"))
        return future

    def _read(self) -> None:
        while True:
            try:
                message, descriptors, _flags, _address = socket.recv_fds(self._socket, 256, 3)
            except OSError:
                message = b""
            if not message:
                break
            kind, _, rest = message.decode().partition(" ")
            if kind == "environment":
                with self._condition:
                    future = self._pending.popleft()
                future.set_result(_Environment(int(rest), *descriptors))
            elif kind == "exited":
                pid, status = (int(part) for part in rest.split())
                with self._condition:
                    self._exits[pid] = status
                    self._condition.notify_all()
        with self._condition:
            self._gone = True
            pending, self._pending = list(self._pending), deque()
            self._condition.notify_all()
        status = self.process.wait()
        for future in pending:
            future.set_exception(FunctionCrashed(f"the initialized environment exited with status {status}"))

    def exit_status(self, pid: int, timeout: float | None = 0) -> int | None:
        """How the environment ended (as Popen.returncode); None while it runs. Once the server is
        gone, so are its environments (killed with it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while pid not in self._exits and not self._gone:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._condition.wait(remaining)
            return self._exits.pop(pid, -signal.SIGKILL)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._socket.close()


class _ForkedProcess:
    """A forked environment's process (its parent is the fork server, not this process)."""

    def __init__(self, server: _ForkServer, pid: int) -> None:
        self._server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exit_status(self.pid)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server.exit_status(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"environment {self.pid}", timeout or 0)
        return self.returncode


def _pump_logs(name: str, stream: IO[str], log_sink: LogSink) -> None:
    def pump() -> None:
        for line in stream:
            log_sink(name, line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()


def _discard(forking: Future[_Environment]) -> None:
    """An environment that came too late for the worker that asked for it: ended unused."""
    if forking.cancelled() or forking.exception() is not None:
        return
    environment = forking.result()
    for descriptor in (environment.request_write, environment.response_read, environment.output_read):
        os.close(descriptor)
    with contextlib.suppress(ProcessLookupError):
        os.kill(environment.pid, signal.SIGKILL)


class _Worker:
    def __init__(
        self,
        definition: FunctionDefinition,
        log_sink: LogSink,
        on_start: ProcessSink | None = None,
        server: _ForkServer | None = None,
    ) -> None:
        """A new execution environment: its own interpreter, or (``server``) forked from the
        function's initialized environment."""
        self.definition = definition
        self._log_sink = log_sink
        self._on_start = on_start
        self._buffer = b""
        self._ready = False
        self._forking: Future[_Environment] | None = None
        self._made = False  # an environment (a process and its pipes) exists
        self.process: _Process
        if server is not None:
            self._server = server
            self._forking = server.request()
            return
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        process = spawn(
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
        self.process = process
        self._made = True
        if on_start is not None:
            on_start(process.pid)
        assert process.stdout is not None
        _pump_logs(definition.name, process.stdout, log_sink)

    def _forked(self, timeout: float) -> None:
        """Take the forked environment (its pid and pipes) once the server has made it."""
        if self._forking is None:
            return
        forking, self._forking = self._forking, None
        try:
            environment = forking.result(timeout)
        except FutureTimeout:
            forking.add_done_callback(_discard)
            raise FunctionTimedOut(f"no environment in {timeout:.0f} s") from None
        self._request_write, self._response_read = environment.request_write, environment.response_read
        self.process = _ForkedProcess(self._server, environment.pid)
        self._made = True
        if self._on_start is not None:
            self._on_start(environment.pid)
        _pump_logs(self.definition.name, os.fdopen(environment.output_read, "r", encoding="utf-8"), self._log_sink)

    def wait_until_ready(self) -> None:
        """Init (imports, module-level setup) does not count against the function's timeout."""
        if not self._ready:
            deadline = time.time() + INIT_TIMEOUT_SECONDS
            self._forked(INIT_TIMEOUT_SECONDS)
            self._read_line(deadline)
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
        try:
            self._forked(INIT_TIMEOUT_SECONDS)
        except InvocationFailed:
            return  # no environment came of it: nothing to stop
        if not self._made:
            return
        for descriptor in (self._request_write, self._response_read):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class FunctionPool:
    def __init__(
        self,
        definition: FunctionDefinition,
        log_sink: LogSink,
        max_concurrency: int,
        on_start: ProcessSink | None = None,
        *,
        fork: bool = False,
    ) -> None:
        """``fork``: environments are forked from one initialized environment of the function
        (started on first need, started again if it ends) instead of each being a new interpreter."""
        self.definition = definition
        self._log_sink = log_sink
        self._on_start = on_start  # told each new worker's pid
        self._max = max_concurrency
        self._idle: list[_Worker] = []
        self._busy = 0
        self._condition = threading.Condition()
        self._closed = False
        self._fork = fork
        self._server: _ForkServer | None = None
        self._server_lock = threading.Lock()

    def _new_worker(self) -> _Worker:
        if not self._fork:
            return _Worker(self.definition, self._log_sink, self._on_start)
        with self._server_lock:
            if self._server is None or self._server.gone:
                self._server = _ForkServer(self.definition, self._log_sink, self._on_start)
            server = self._server
        return _Worker(self.definition, self._log_sink, self._on_start, server=server)

    def warm(self, *, wait: bool = False) -> None:
        """Start one execution environment ahead of the first invocation (``wait``: until its init is done)."""
        worker = self._new_worker()
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
            return self._new_worker()
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
        with self._server_lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()  # environments still busy end with it
