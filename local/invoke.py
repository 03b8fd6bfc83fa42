"""Run one function once with an event, as `sam local invoke` does, without Docker.

    python -m local.invoke <function logical id or folder> <event file> [--isolated]
    make invoke FN=WalletFunction EVENT=events/transfer.json
    python -m local.invoke --print-event <event file> [--stack NAME]   # the event with live values
    python -m local.invoke --env-vars [--stack NAME]                   # for sam local invoke --env-vars

The function runs in its own execution environment (a worker process) with its environment
from the template, against the local stack's services: the running `make run` stack when there
is one, else a fresh in-memory stack started for the call and stopped after it. Events that
come from an event source (a DynamoDB Streams batch) always get a fresh stack: replaying a
batch into a live, append-only audit trail would record the same changes twice.

The files in events/ are ready as they are: they carry fixed example values (the example
sender's and receiver's ids, an access token, a transfer's reference id, a stream ARN, ...).
Before invoking, this command makes sure the example data exists — two example users, a
session and a transfer between them, created through the API itself, idempotently — and puts
the live values in place of the example ones; an Idempotency-Key, a request id and a new
user's e-mail and Aadhaar number are fresh on every call. The function's logs go to stderr,
its response to stdout, then a REPORT line as Lambda prints.

`sam local invoke` (Docker) runs the function against AWS itself: `--stack` takes the live
values from a deployed stack instead (its API creates the example data), and `--env-vars`
writes the deployed stack's physical names for the variables the template declares, which
`sam local invoke` would otherwise fill with logical ids (it resolves `!Ref MainTable` to
"MainTable").
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError

from local.provision import function_environment
from local.runtime import FunctionDefinition, FunctionError, FunctionPool, InvocationFailed
from local.stack import DEFAULT_STATE_DIR, REGION, LocalStack, ServiceEndpoints
from local.template import Intrinsics, SamTemplate, TemplateError
from vaultpay.core.aadhaar import verhoeff_check_digit

FIXTURE_PASSWORD = "make-invoke-fixture-password"  # noqa: S105 - a local example user's password
FIXTURE_TRANSFER_KEY = "make-invoke-fixture-transfer"
DEFAULT_STACK_NAME = "vaultpay-dev"  # samconfig.toml's dev stack
STREAM_TABLE = "MainTable"

# The example values the files in events/ carry. Each stands for something that only exists once
# data exists; `fill` puts the live value in its place.
EXAMPLE_SENDER_ID = "6e7545ab-44f7-483d-91b3-4ac9e6ea93a0"
# The session (access token's sid) in the authorizer context of the events of routes that need one
# (step-up): any session id will do, the grant is bound to whichever is given.
EXAMPLE_SESSION_ID = "0b6f5c1e-2d7a-4c39-9e41-7a3f0c2b8d15"
EXAMPLE_RECEIVER_ID = "5cccbb20-e84d-420c-bf1c-a15b437bdf44"
EXAMPLE_REFERENCE_ID = "8ce16c01-cac8-5053-b280-bb57cf7d5461"  # the example transfer (₹1.00, sender to receiver)
EXAMPLE_WELCOME_REFERENCE_ID = "e96c6f6d-58c5-4942-9d45-cc63c698c8e4"  # the sender's welcome credit
EXAMPLE_CREATED_AT = "2026-11-24T09:58:31.204518Z"  # when the example transfer happened
# An ES256 access token for the example sender (issuer vaultpay-dev), signed with an example key
# (not any stack's KMS key): no stack accepts it, so make invoke mints a real one through the API.
EXAMPLE_ACCESS_TOKEN = ".".join(
    (
        "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEyMzRhYmNkLTEyYWItMzRjZC01NmVmLTEyMzQ1Njc4OTBhYiIsInR5cCI6IkpXVCJ9",
        # header {"alg": "ES256", "kid": <an example key id>, "typ": "JWT"}; claims
        # {"aud": "vaultpay-api", "exp": iat + 300, "iat": ..., "iss": "vaultpay-dev", "jti": ..., "nbf": ...,
        #  "sid": <an example session>, "sub": <the example sender>, "token_use": "access"}
        "eyJhdWQiOiJ2YXVsdHBheS1hcGkiLCJleHAiOjE3OTU1MTQ1ODAsImlhdCI6MTc5NTUxNDI4MCwiaXNzIjoidmF1bHRwYXktZGV2IiwianRpIjoiMjky"
        "YjJiZTIxZTUwNDVhMmJlZjFmYTAyM2YwMzBlNTMiLCJuYmYiOjE3OTU1MTQyODAsInNpZCI6IjNmMGM5YTUyLTdkMWUtNGI4YS05YzZmLTJlNWQ4YjFh"
        "NGM3MCIsInN1YiI6IjZlNzU0NWFiLTQ0ZjctNDgzZC05MWIzLTRhYzllNmVhOTNhMCIsInRva2VuX3VzZSI6ImFjY2VzcyJ9",
        "eoUwR5ufwLCiSBolTazj5gbCbCmVfr6-qRoFh2BeySekMXh6nhxZwBdukhk47B0H0CMDddT0eb8PIOCxHHyg7A",
    )
)
EXAMPLE_REFRESH_TOKEN = "5mUEkkCFUTaycxhoJv_SKQuUisruqqc1P-FZT9zOPa4"  # noqa: S105 - an example, replaced by a live one
EXAMPLE_STREAM_ARN = (
    "arn:aws:dynamodb:ap-south-1:123456789012:table/vaultpay-dev-MainTable-1Q2W3E4R5T6Y/stream/2026-11-20T09:15:42.318"
)
EXAMPLE_NEW_EMAIL = "priya.sharma@example.in"  # register.json's new user (fresh on every call)
EXAMPLE_NEW_AADHAAR = "739148250611"


@dataclass(frozen=True)
class Target:
    """Where the function runs: the stack's URL, stream ARN, each function's environment and,
    for a local stack, its services and physical resource names."""

    url: str
    stream_arn: str
    environments: dict[str, dict[str, str]]
    resources: dict[str, str] = dataclasses.field(default_factory=dict)
    endpoints: ServiceEndpoints | None = None


@dataclass(frozen=True)
class LiveData:
    """The example data as it exists on a stack (created if needed)."""

    sender_id: str
    receiver_id: str
    access_token: str
    refresh_token: str
    reference_id: str
    reference_created_at: str
    welcome_reference_id: str
    balance_etag: str
    stream_arn: str

    def replacements(self) -> dict[str, str]:
        """Example value -> live value, for every example value that has a live one."""
        pairs = {
            EXAMPLE_SENDER_ID: self.sender_id,
            EXAMPLE_RECEIVER_ID: self.receiver_id,
            EXAMPLE_ACCESS_TOKEN: self.access_token,
            EXAMPLE_REFRESH_TOKEN: self.refresh_token,
            EXAMPLE_REFERENCE_ID: self.reference_id,
            EXAMPLE_CREATED_AT: self.reference_created_at,
            EXAMPLE_WELCOME_REFERENCE_ID: self.welcome_reference_id,
            EXAMPLE_STREAM_ARN: self.stream_arn,
            EXAMPLE_NEW_EMAIL: f"priya.{uuid.uuid4().hex[:8]}@example.in",
            EXAMPLE_NEW_AADHAAR: _fresh_aadhaar(),
        }
        return {example: live for example, live in pairs.items() if live}


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


def fixtures(url: str, stream_arn: str) -> LiveData:
    """The example data on the stack at ``url``, created through its API if needed."""
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
    return LiveData(
        sender_id=sender["id"],
        receiver_id=_receiver_id(url),
        access_token=tokens["access"],
        refresh_token=tokens["refresh"],
        reference_id=transfer["reference_id"],
        reference_created_at=detail["created_at"],
        welcome_reference_id=welcome,
        balance_etag=balance.headers.get("ETag", ""),
        stream_arn=stream_arn,
    )


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


def fill(event: Any, live: LiveData) -> Any:
    """The event with live values in place of the example ones (in every string, a base64 body
    included), a fresh Idempotency-Key and request id, and If-None-Match set to the live ETag."""
    replacements = sorted(live.replacements().items(), key=lambda pair: -len(pair[0]))

    def text(value: str) -> str:
        for example, actual in replacements:
            value = value.replace(example, actual)
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    filled = walk(event)
    if not isinstance(filled, dict) or "Records" in filled:
        return filled
    if filled.get("isBase64Encoded") and isinstance(event.get("body"), str):
        try:
            body = base64.b64decode(event["body"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pass
        else:
            filled["body"] = base64.b64encode(text(body).encode("utf-8")).decode("ascii")
    headers = filled.get("headers") or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = str(uuid.uuid4())
        elif name.lower() == "if-none-match" and live.balance_etag:
            headers[name] = live.balance_etag
    context = filled.get("requestContext")
    if isinstance(context, dict) and "requestId" in context:
        context["requestId"] = base64.b64encode(uuid.uuid4().bytes[:11]).decode("ascii")
    return filled


# ---------------------------------------------------------------- where the function runs
def running_target(state_dir: Path) -> Target | None:
    """The `make run` stack whose state is in ``state_dir``, if it is running."""
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        return None
    info = json.loads(stack_file.read_text())
    if not _alive(int(info["pid"])):
        return None
    return Target(
        url=info["url"],
        stream_arn=info["resources"][f"{STREAM_TABLE}.StreamArn"],
        environments=info["functions"],
        resources=info["resources"],
        endpoints=ServiceEndpoints(**info["endpoints"]),
    )


@contextmanager
def target(state_dir: Path, *, isolated: bool) -> Iterator[Target]:
    running = None if isolated else running_target(state_dir)
    if running is not None:
        yield running
        return
    with tempfile.TemporaryDirectory(prefix="vaultpay-invoke-") as scratch:
        stack = LocalStack(state_dir=Path(scratch), port=0, in_memory=True, quiet=True)
        try:
            stack.start()
            yield Target(
                url=stack.url,
                stream_arn=stack.physical[f"{STREAM_TABLE}.StreamArn"],
                environments=stack.function_environments,
                resources=dict(stack.physical),
                endpoints=stack.endpoints,
            )
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


# ---------------------------------------------------------------- a deployed stack (sam local invoke)
@dataclass(frozen=True)
class DeployedStack:
    """What `sam local invoke` needs of a deployed stack: its physical resources and outputs."""

    name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    physical: dict[str, str]  # logical id -> physical id (what Ref returns)

    @classmethod
    def describe(cls, name: str, region: str, cloudformation: Any = None) -> DeployedStack:
        client = cloudformation or boto3.client("cloudformation", region_name=region)
        stack = client.describe_stacks(StackName=name)["Stacks"][0]
        physical = {}
        for page in client.get_paginator("list_stack_resources").paginate(StackName=name):
            for resource in page["StackResourceSummaries"]:
                if resource.get("PhysicalResourceId"):
                    physical[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
        return cls(
            name=name,
            region=region,
            account_id=str(stack["StackId"]).split(":")[4],
            parameters={item["ParameterKey"]: item["ParameterValue"] for item in stack.get("Parameters", [])},
            outputs={item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])},
            physical=physical,
        )

    def intrinsics(self, template: SamTemplate) -> Intrinsics:
        arns = {
            "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
            "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{id}",
        }
        attributes = {
            (logical_id, "Arn"): arns[resource["Type"]].format(
                region=self.region, account=self.account_id, id=self.physical[logical_id]
            )
            for logical_id, resource in template.resources.items()
            if resource.get("Type") in arns and logical_id in self.physical
        }
        known = set(template.parameters())
        resolved = template.intrinsics(
            stack_name=self.name,
            region=self.region,
            parameter_overrides={name: value for name, value in self.parameters.items() if name in known},
            refs=self.physical,
            attributes=attributes,
        )
        return dataclasses.replace(resolved, pseudo={**resolved.pseudo, "AWS::AccountId": self.account_id})

    def target(self) -> Target:
        if "ApiUrl" not in self.outputs:
            raise InvokeError(f"stack {self.name} has no ApiUrl output")
        table = self.physical.get(STREAM_TABLE)
        if not table:
            raise InvokeError(f"stack {self.name} has no {STREAM_TABLE}")
        stream_arn = boto3.client("dynamodb", region_name=self.region).describe_table(TableName=table)["Table"]["LatestStreamArn"]
        return Target(url=self.outputs["ApiUrl"].rstrip("/"), stream_arn=stream_arn, environments={}, resources=self.physical)


def env_vars(template: SamTemplate, intrinsics: Intrinsics) -> dict[str, dict[str, str]]:
    """A `sam local invoke --env-vars` file: every function's template variables, resolved.
    SAM overrides only the variables the template declares, so that is all it holds."""
    return {logical_id: function_environment(template, logical_id, intrinsics) for logical_id in template.functions()}


# ---------------------------------------------------------------- invoke
def _resolve_function(template: SamTemplate, function: str) -> str:
    return function if function in template.functions() else template.function_for_folder(function)


def _read_event(event_path: Path) -> Any:
    try:
        return json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvokeError(f"cannot read the event {event_path}: {error}") from None


def invoke(
    function: str,
    event_path: Path,
    *,
    state_dir: Path = DEFAULT_STATE_DIR,
    isolated: bool = False,
    inspect: Callable[[Target, Any], None] | None = None,
) -> tuple[Any, bool]:
    """Invoke; return (the response or error document, whether the function raised).

    ``inspect`` is called with the stack the function ran against and the event it got, after
    the invocation and before a stack started for the call is stopped."""
    template = SamTemplate.load()
    logical_id = _resolve_function(template, function)
    spec = template.functions()[logical_id]
    example = _read_event(event_path)
    from_event_source = isinstance(example, dict) and "Records" in example
    with target(state_dir, isolated=isolated or from_event_source) as where:
        event = fill(example, fixtures(where.url, where.stream_arn))
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
        if inspect is not None:
            inspect(where, event)
    report = f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tMemory Size: {spec.memory_size} MB"
    print(f"{report}\tMax Memory Used: {memory} MB", file=sys.stderr)
    return result, failed


def print_event(event_path: Path, *, state_dir: Path = DEFAULT_STATE_DIR, stack: DeployedStack | None = None) -> Any:
    """The event with the live values of the running local stack, or of a deployed stack."""
    example = _read_event(event_path)
    where = stack.target() if stack is not None else running_target(state_dir)
    if where is None:
        raise InvokeError("--print-event needs a running stack: start `make run`, or name a deployed one with --stack")
    return fill(example, fixtures(where.url, where.stream_arn))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", nargs="?", help="logical id (WalletFunction) or folder (wallet)")
    parser.add_argument("event", nargs="?", type=Path, help="an event file, e.g. events/transfer.json")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--isolated", action="store_true", help="use a fresh in-memory stack even if one is running")
    parser.add_argument("--print-event", type=Path, metavar="EVENT", help="print the event with live values, do not invoke")
    parser.add_argument("--env-vars", action="store_true", help="print a `sam local invoke --env-vars` file for --stack")
    parser.add_argument("--stack", metavar="NAME", help=f"a deployed stack (for --env-vars: default {DEFAULT_STACK_NAME})")
    parser.add_argument("--region", default=REGION)
    args = parser.parse_args(argv)
    try:
        if args.env_vars or args.print_event:
            if args.function or args.event or (args.env_vars and args.print_event):
                parser.error("--print-event EVENT and --env-vars take no function and are not used together")
            deployed = None
            if args.stack or args.env_vars:
                deployed = DeployedStack.describe(args.stack or DEFAULT_STACK_NAME, args.region)
            if args.env_vars:
                assert deployed is not None
                template = SamTemplate.load()
                output: Any = env_vars(template, deployed.intrinsics(template))
            else:
                output = print_event(args.print_event, state_dir=args.state_dir, stack=deployed)
            print(json.dumps(output, indent=2))
            return
        if not args.function or not args.event:
            parser.error("give a function and an event (or --print-event EVENT, or --env-vars)")
        result, failed = invoke(args.function, args.event, state_dir=args.state_dir, isolated=args.isolated)
    except (TemplateError, InvokeError, BotoCoreError, ClientError) as error:
        sys.exit(str(error))
    print(json.dumps(result, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
