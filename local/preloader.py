"""The local stack's execution environments, forked from one process that imported the libraries.

A fresh interpreter spends about 1.3 s of CPU on this project's 2-core machine importing boto3,
botocore, pydantic, Powertools and the X-Ray SDK before a handler's own code runs; a stack under
a concurrency test starts dozens of environments at once, and the test suite hundreds. This
process imports those libraries once, then forks one child per execution environment: the child
takes the function's own environment (variables, code folder, pipes) and runs local/worker.py as
a fresh process would, importing the function's code (the handler, the layer) itself. Only
libraries are shared, imported with no function's variables set and no client, session or
connection made; each child makes its own. `make invoke` and `make bench`'s cold starts still
start fresh interpreters (local/runtime.py): what a real cold start costs is measured there.

    python -u local/preloader.py <control socket fd>

The control socket (AF_UNIX, SOCK_SEQPACKET) carries one JSON message per packet. To it:
``{"name": code folder, "arguments": [code dir, module.handler, layer dir, ...], "environment": {...}}`` with three
SCM_RIGHTS file descriptors: the child's stdout, its request pipe's read end and its response
pipe's write end (local/worker.py's arguments, which come first). From it:
``{"started": pid}`` after each fork, and ``{"exited": pid, "status": code}`` when a child ends
(negative: killed by that signal), since only this process can reap its children. The stack
closing its end stops this process; Linux then kills every child (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import runpy
import select
import signal
import socket
import sys
from pathlib import Path
from typing import Any

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# What every handler imports from site-packages, heaviest first (python -X importtime).
PRELOADED_MODULES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_xray_sdk.core",
    "boto3",
    "botocore.client",
    "botocore.session",
    "pydantic",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "jwt",
)
MAX_MESSAGE_BYTES = 1 << 20
FILE_DESCRIPTORS_PER_CHILD = 3  # stdout (and stderr), the request pipe, the response pipe
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_REAP_INTERVAL_SECONDS = 0.2


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def _become_worker(control: socket.socket, request: dict[str, Any], descriptors: list[int], preloader: int) -> None:
    """In the child: die with this process, take the function's descriptors and environment, and
    run the worker as ``python -u local/worker.py ...`` would. Never returns."""
    status = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # as local.processes does for the stack's children
        if os.getppid() != preloader:  # the preloader died before the request took hold
            os._exit(1)
        # Every child shows the preloader's command line: its name (the function's code folder,
        # /proc/<pid>/comm, what `ps` prints) tells them apart.
        libc.prctl(_PR_SET_NAME, request["name"].encode()[:15])
        control.close()
        output, request_pipe, response_pipe = descriptors
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(devnull)
        os.close(output)
        os.environ.clear()
        os.environ.update(request["environment"])
        sys.argv = [str(WORKER_SCRIPT), str(request_pipe), str(response_pipe), *request["arguments"]]
        runpy.run_path(str(WORKER_SCRIPT), run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the preloader's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"exited": pid, "status": os.waitstatus_to_exitcode(wait_status)})


def serve(control: socket.socket) -> None:
    preloader = os.getpid()
    while True:
        readable, _, _ = select.select([control], [], [], _REAP_INTERVAL_SECONDS)
        _reap(control)
        if not readable:
            continue
        message, descriptors, _, _ = socket.recv_fds(control, MAX_MESSAGE_BYTES, FILE_DESCRIPTORS_PER_CHILD)
        if not message:
            return  # the stack closed its end: it is stopping
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            _become_worker(control, request, descriptors, preloader)
        for descriptor in descriptors:
            os.close(descriptor)
        _send(control, {"started": pid})


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the stack stops its children itself
    control = socket.socket(fileno=int(sys.argv[1]))
    for module in PRELOADED_MODULES:
        importlib.import_module(module)
    try:
        _send(control, {"ready": True})
        serve(control)
    except (BrokenPipeError, ConnectionResetError):
        return  # the stack closed its end while this process was telling it something: it is stopping


if __name__ == "__main__":
    main()
