"""One Lambda execution environment: imports a handler once, then runs invocations one at a time.

Started by the local gateway (or ``make invoke``) as its own process, with the function's own
environment, its code folder first on sys.path and the layer after it, as Lambda lays out
/var/task and /opt/python. The function's stdout and stderr are its logs; invocations arrive
on one inherited pipe and results leave on another, one JSON document per line.

    python local/worker.py <request fd> <response fd> <code dir> <module.handler> [<layer dir> ...]

    request:  {"event": {...}, "request_id": "...", "deadline_ms": 1732460000000}
    response: {"result": ...} | {"error": {"errorType": "...", "errorMessage": "...", "stackTrace": [...]}}
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any


class LocalLambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'ap-south-1')}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def install_faults() -> None:
    """Reliability tests only: when the stack runs with a fault plan, hook fault injection into
    boto3's default session from here, outside the function's code (which never knows of it)."""
    if not os.environ.get("VAULTPAY_FAULT_PLAN", "").strip():
        return
    root = str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, root)
    try:
        from local import faults
    finally:
        sys.path.remove(root)
    faults.install_in_default_session()


def install_clock() -> None:
    """The local stack's clock (real time plus the offset in its state folder, which tests and
    demos move forward: local/schedules.py) in place of the layer's, before any of the function's
    code binds it. Lambda's own clock cannot be moved; nothing in the layer knows of this."""
    clock_file = os.environ.get("VAULTPAY_CLOCK_FILE", "").strip()
    if not clock_file:
        return
    from datetime import UTC, datetime, timedelta

    from vaultpay.core import clock

    path = Path(clock_file)

    def local_now() -> datetime:
        try:
            offset = float(path.read_text(encoding="utf-8").strip() or 0)
        except FileNotFoundError:
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)

    clock.utc_now = local_now


def load_handler(code_dir: str, handler: str, layer_dirs: list[str]) -> Any:
    sys.path[:1] = [code_dir, *layer_dirs]
    os.chdir(code_dir)
    install_clock()
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _error(exception: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exception).__name__,
        "errorMessage": str(exception),
        "stackTrace": traceback.format_exception(exception),
    }


def serve(handler: Any, request_fd: int, response_fd: int) -> None:
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    responses = os.fdopen(response_fd, "w", encoding="utf-8")
    responses.write(json.dumps({"ready": True}) + "\n")
    responses.flush()
    for line in requests:
        request = json.loads(line)
        context = LocalLambdaContext(request["request_id"], int(request["deadline_ms"]))
        try:
            reply: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as exception:  # noqa: BLE001 - reported to the caller, exactly as Lambda reports it
            traceback.print_exc()
            reply = {"error": _error(exception)}
        sys.stdout.flush()
        sys.stderr.flush()
        responses.write(json.dumps(reply, default=str) + "\n")
        responses.flush()


def main() -> None:
    # Ctrl-C in the terminal reaches every process of its group: the stack stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A warning is one log line (file:line: Category: message), not two with the source line.
    warnings.formatwarning = lambda message, category, filename, lineno, line=None: (
        f"{filename}:{lineno}: {category.__name__}: {message}\n"
    )
    request_fd, response_fd, code_dir, handler, *layer_dirs = sys.argv[1:]
    started = time.perf_counter()
    install_faults()
    function = load_handler(code_dir, handler, layer_dirs)
    init_ms = (time.perf_counter() - started) * 1000
    print(f"INIT_REPORT Init Duration: {init_ms:.2f} ms", file=sys.stderr, flush=True)
    serve(function, int(request_fd), int(response_fd))


if __name__ == "__main__":
    main()
