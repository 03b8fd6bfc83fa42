"""Where the wallet function's CPU goes: py-spy on the wallet handler moving money.

    python -m tests.bench.profile [--transfers 600] [--rate 250] [--out DIR]

Starts its own local stack (DynamoDB Local in memory), then invokes the wallet function's handler
in this process, as Lambda would in a warm container (the template's environment, Powertools and
all), for ``--transfers`` transfers of Rs 1.00 among 32 users with fresh Idempotency-Keys, while
py-spy samples this process (non-blocking, and only while it holds the GIL: time spent waiting on
a socket is not counted, so the samples are where the CPU goes). Prints the CPU ms per transfer
(this process's CPU time: the function's own work, boto3 included; DynamoDB Local's is its own
process), the share of samples by the layer they are
spent in (botocore, the Powertools resolver, pydantic, logging, ...) and the hottest functions.
The collapsed stacks are kept in ``--out`` for a flame graph (any collapsed-stack viewer).

In-process rather than through the gateway: on a shared two-core machine the gateway's 16 cold
workers can take minutes to start, and the figure wanted is the function's own CPU, which the
gateway's process boundaries only add to (the local worker's JSON pipe).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.api import Api
from tests.support.stack import running_stack

PY_SPY = Path(sys.executable).with_name("py-spy")

# The innermost frame that matches names where a sample's time went (most specific first).
LAYERS: list[tuple[str, str]] = [
    ("logging: Powertools Logger", "aws_lambda_powertools/logging/"),
    ("metrics: Powertools Metrics", "aws_lambda_powertools/metrics/"),
    ("tracing: Powertools Tracer", "aws_lambda_powertools/tracing/"),
    ("idempotency: Powertools", "aws_lambda_powertools/utilities/idempotency/"),
    ("idempotency: jmespath", "jmespath/"),
    ("validation: Powertools OpenAPI (request/response)", "aws_lambda_powertools/event_handler/middlewares/"),
    ("validation: Powertools OpenAPI (request/response)", "aws_lambda_powertools/event_handler/openapi/"),
    ("resolver: Powertools event handler", "aws_lambda_powertools/event_handler/"),
    ("event: Powertools data classes", "aws_lambda_powertools/utilities/data_classes/"),
    ("pydantic", "pydantic"),
    ("HTTP: urllib3/http.client/socket", "urllib3/"),
    ("HTTP: urllib3/http.client/socket", "/http/client.py"),
    ("HTTP: urllib3/http.client/socket", "/socket.py"),
    ("botocore: SigV4 signing", "botocore/auth.py"),
    ("botocore: serialize", "botocore/serialize.py"),
    ("botocore: parse", "botocore/parsers.py"),
    ("botocore: validate parameters", "botocore/validate.py"),
    ("botocore: event hooks", "botocore/hooks.py"),
    ("botocore: endpoint rules", "botocore/endpoint_provider.py"),
    ("botocore: endpoint rules", "botocore/regions.py"),
    ("botocore: other", "botocore/"),
    ("boto3: TypeSerializer/Deserializer", "boto3/"),
    ("json (stdlib)", "/json/"),
    ("vaultpay layer", "vaultpay/"),
]


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, marker in LAYERS:
            if marker in frame:
                return name
    return "other"


def report(out: Path) -> str:
    leaves: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in (out / "wallet.txt").read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        frames = stack_text.split(";")
        samples = int(count)
        leaves[frames[-1]] += samples
        layers[layer_of(frames)] += samples
        for name in {name for name, marker in LAYERS for frame in frames if marker in frame}:
            inclusive[name] += samples
    total = sum(layers.values()) or 1
    lines = [f"{total} samples", "", "self, by layer (the innermost frame that names one):"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in layers.most_common()]
    lines += ["", "inclusive (a sample counts for every layer on its stack):"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in inclusive.most_common()]
    lines += ["", "hottest leaf functions:"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in leaves.most_common(30)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=600)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--pattern",
        choices=("everyone", "repeat"),
        default="everyone",
        help="everyone: all 32 users send to and receive from each other (a remembered balance is nearly "
        "always stale); repeat: 16 senders each pay their own payee again and again (it never is)",
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="vaultpay-profile-")))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_stack(Path(tempfile.mkdtemp(prefix="vaultpay-profile-stack-")), faults=False) as stack:
        api = Api(stack.url)
        users = [api.register() for _ in range(32)]
        # The function's environment, as the template gives it (Powertools reads it at import).
        for values in stack.info["functions"].values():
            os.environ.update(
                {name: value for name, value in values.items() if name not in ("POWERTOOLS_SERVICE_NAME", "VAULTPAY_FAULT_PLAN")}
            )
        os.environ["POWERTOOLS_SERVICE_NAME"] = "wallet"
        from tests.handlers.conftest import load_function
        from tests.support.events import LambdaContextStub, http_event

        wallet = load_function("wallet")

        def transfer(index: int) -> dict[str, Any]:
            if args.pattern == "repeat":
                sender, receiver = users[index % 16], users[16 + index % 16]
            else:
                sender, receiver = users[index % len(users)], users[(index * 7 + 1) % len(users)]
                if receiver is sender:
                    receiver = users[(index + 1) % len(users)]
            event = http_event(
                "POST",
                "/api/wallet/transfer/",
                body={"receiver_email": receiver.email, "amount": "1.00"},
                headers={"idempotency-key": str(uuid.uuid4())},
                user_id=sender.id,
            )
            return dict(wallet.lambda_handler(event, LambdaContextStub()))

        for index in range(64):  # warm: clients, caches, every sender and payee seen once
            assert transfer(index)["statusCode"] == 201
        record = ["record", "--pid", str(os.getpid()), "--rate", str(args.rate), "--nonblocking", "--gil", "--format", "raw"]
        spy = subprocess.Popen(
            [str(PY_SPY), *record, "--output", str(args.out / "wallet.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attached
        cpu, wall = time.process_time(), time.perf_counter()
        statuses = Counter(transfer(index)["statusCode"] for index in range(64, 64 + args.transfers))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        spy.send_signal(2)  # SIGINT: py-spy writes what it has
        spy.wait(timeout=60)
    summary = {
        "pattern": args.pattern,
        "transfers": args.transfers,
        "statuses": dict(statuses),
        "cpu_ms_per_transfer": round(cpu / args.transfers * 1000, 2),
        "wall_ms_per_transfer": round(wall / args.transfers * 1000, 2),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(summary))
    print(report(args.out))


if __name__ == "__main__":
    main()
