"""Run one function once with an event, as `sam local invoke` does, without Docker.

    python -m local.invoke <function logical id or folder> <event file> [--isolated]
    make invoke FN=WalletFunction EVENT=events/transfer.json

The function runs in its own execution environment (a worker process) with its environment
from the template, against the local stack's services: the running `make run` stack when there
is one, else a fresh in-memory stack started for the call and stopped after it. Events that
come from an event source (a DynamoDB Streams batch) always get a fresh stack: replaying a
batch into a live, append-only audit trail would record the same changes twice.

Events in events/ name the data they need with placeholders ({{sender_id}}, {{reference_id}},
...). Before invoking, this command makes sure that data exists — two example users, a session
and a transfer between them, created through the API itself, idempotently — and fills them in.
The function's logs go to stderr, its response to stdout, then a REPORT line as Lambda prints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.runtime import FunctionDefinition, FunctionError, FunctionPool, InvocationFailed
from local.stack import DEFAULT_STATE_DIR, LocalStack
from local.template import SamTemplate, TemplateError
from vaultpay.aadhaar import verhoeff_check_digit

PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
FIXTURE_PASSWORD = "make-invoke-fixture-password"  # noqa: S105 - a local example user's password
FIXTURE_TRANSFER_KEY = "make-invoke-fixture-transfer"


@dataclass(frozen=True)
class Target:
    """Where the function runs: the stack's URL, stream ARN and each function's environment."""

    url: str
    stream_arn: str
    environments: dict[str, dict[str, str]]


def _fixture_person(role: str, aadhaar_body: str) -> dict[str, str]:
    return {
        "email": f"events.{role}@vaultpay.example",
        "full_name": f"Events {role.title()}",
        "password": FIXTURE_PASSWORD,
        "aadhaar": aadhaar_body + verhoeff_check_digit(aadhaar_body),
    }


SENDER = _fixture_person("sender", "98765432101")
RECEIVER = _fixture_person("receiver", "98765432102")


class InvokeError(RuntimeError):
    pass


def _checked(response: requests.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        request = response.request
        raise InvokeError(
            f"setting up the example data failed: {request.method} {request.url} -> {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def fixtures(url: str, stream_arn: str) -> dict[str, str]:
    """The values the events' placeholders stand for, creating the example data if needed."""
    with requests.Session() as http:
        for person in (SENDER, RECEIVER):
            _checked(http.post(f"{url}/api/users/register/", json=person, timeout=30), 201, 409)
        tokens = _checked(
            http.post(f"{url}/api/users/login/", json={"email": SENDER["email"], "password": SENDER["password"]}, timeout=30), 200
        )
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        sender = _checked(http.get(f"{url}/api/users/profile/", headers=auth, timeout=30), 200)
        transfer = _checked(
            http.post(
                f"{url}/api/wallet/transfer/",
                json={"receiver_email": RECEIVER["email"], "amount": "1.00", "note": "Fixture transfer for make invoke"},
                headers={**auth, "Idempotency-Key": FIXTURE_TRANSFER_KEY},
                timeout=30,
            ),
            201,
        )
        detail = _checked(http.get(f"{url}/api/wallet/transactions/{transfer['reference_id']}/", headers=auth, timeout=30), 200)
        history = _checked(
            http.get(f"{url}/api/wallet/history/", params={"limit": "100", "direction": "received"}, headers=auth, timeout=30),
            200,
        )
        balance = http.get(f"{url}/api/wallet/balance/", headers=auth, timeout=30)
    welcome = next(
        (entry["reference_id"] for entry in history["results"] if entry["counterparty"]["email"].startswith("system@")), ""
    )
    receiver_id = _receiver_id(url)
    return {
        "sender_id": sender["id"],
        "sender_email": SENDER["email"],
        "sender_name": SENDER["full_name"],
        "sender_password": SENDER["password"],
        "receiver_id": receiver_id,
        "receiver_email": RECEIVER["email"],
        "receiver_name": RECEIVER["full_name"],
        "access_token": tokens["access"],
        "refresh_token": tokens["refresh"],
        "reference_id": transfer["reference_id"],
        "reference_created_at": detail["created_at"],
        "welcome_reference_id": welcome,
        "balance_etag": balance.headers.get("ETag", ""),
        "stream_arn": stream_arn,
        "new_email": f"priya.{uuid.uuid4().hex[:8]}@example.in",
        "new_aadhaar": _fresh_aadhaar(),
        "idempotency_key": str(uuid.uuid4()),
        "request_id": uuid.uuid4().hex[:20],
        **{f"event_id_{index}": uuid.uuid4().hex for index in range(1, 10)},
    }


def _receiver_id(url: str) -> str:
    with requests.Session() as http:
        tokens = _checked(
            http.post(f"{url}/api/users/login/", json={"email": RECEIVER["email"], "password": RECEIVER["password"]}, timeout=30),
            200,
        )
        profile = _checked(
            http.get(f"{url}/api/users/profile/", headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=30), 200
        )
        _checked(
            http.post(
                f"{url}/api/users/logout/",
                json={"refresh": tokens["refresh"]},
                headers={"Authorization": f"Bearer {tokens['access']}"},
                timeout=30,
            ),
            204,
        )
    return str(profile["id"])


def _fresh_aadhaar() -> str:
    body = str(2 + uuid.uuid4().int % 8) + f"{uuid.uuid4().int % 10**10:010d}"
    return body + verhoeff_check_digit(body)


def fill(event_text: str, values: dict[str, str]) -> Any:
    """The event with its placeholders replaced (an unknown placeholder is an error)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InvokeError(f"the event uses {{{{{name}}}}}, which make invoke does not know")
        return json.dumps(values[name])[1:-1]

    return json.loads(PLACEHOLDER.sub(replace, event_text))


@contextmanager
def target(state_dir: Path, *, isolated: bool) -> Iterator[Target]:
    stack_file = state_dir / "stack.json"
    if not isolated and stack_file.exists():
        info = json.loads(stack_file.read_text())
        if _alive(int(info["pid"])):
            yield Target(info["url"], info["resources"]["MainTable.StreamArn"], info["functions"])
            return
    with tempfile.TemporaryDirectory(prefix="vaultpay-invoke-") as scratch:
        stack = LocalStack(state_dir=Path(scratch), port=0, in_memory=True, quiet=True)
        try:
            stack.start()
            yield Target(stack.url, stack.physical["MainTable.StreamArn"], stack.function_environments)
        finally:
            stack.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _peak_memory_mb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def invoke(function: str, event_path: Path, *, state_dir: Path = DEFAULT_STATE_DIR, isolated: bool = False) -> tuple[Any, bool]:
    """Invoke; return (the response or error document, whether the function raised)."""
    template = SamTemplate.load()
    functions = template.functions()
    logical_id = function if function in functions else template.function_for_folder(function)
    spec = functions[logical_id]
    event_text = event_path.read_text(encoding="utf-8")
    from_event_source = "Records" in json.loads(event_text)
    with target(state_dir, isolated=isolated or from_event_source) as where:
        event = fill(event_text, fixtures(where.url, where.stream_arn))
        definition = FunctionDefinition(
            name=logical_id,
            code_dir=spec.code_uri,
            handler=spec.handler,
            layer_dirs=tuple(template.layer_paths()),
            environment=where.environments[logical_id],
            timeout_seconds=spec.timeout,
        )
        pool = FunctionPool(definition, lambda _source, line: print(line, file=sys.stderr, flush=True), max_concurrency=1)
        pool.warm(wait=True)  # init is reported by the worker itself, not counted in Duration
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            result: Any = pool.invoke(event, request_id)
            failed = False
        except FunctionError as error:
            result, failed = error.error, True
        except InvocationFailed as failure:
            result, failed = {"errorType": type(failure).__name__, "errorMessage": str(failure)}, True
        duration = (time.perf_counter() - started) * 1000
        memory = max((_peak_memory_mb(worker.process.pid) for worker in pool.idle_workers()), default=0)
        pool.close()
    report = f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tMemory Size: {spec.memory_size} MB"
    print(f"{report}\tMax Memory Used: {memory} MB", file=sys.stderr)
    return result, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="logical id (WalletFunction) or folder (wallet)")
    parser.add_argument("event", type=Path, help="an event file, e.g. events/transfer.json")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--isolated", action="store_true", help="use a fresh in-memory stack even if one is running")
    args = parser.parse_args()
    try:
        result, failed = invoke(args.function, args.event, state_dir=args.state_dir, isolated=args.isolated)
    except (TemplateError, InvokeError) as error:
        sys.exit(str(error))
    print(json.dumps(result, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
