"""The local stack's command line.

python -m local run [--port 3000] [--in-memory] [--state-dir .local] [--faults PLAN] [--log-file F] [--verbose]
                   [--no-client-limits] [--trust-address NETWORK ...]

Exits with status 1, touching nothing, when another stack holds the state folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.stack import DEFAULT_STATE_DIR, LocalStack
from local.state_lock import StateFolderInUse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local", description="VaultPay's local stack (no AWS, no Docker)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start DynamoDB Local, moto, the gateway and the stream poller")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="gateway port (0: any free port)")
    run.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where data, keys and logs live")
    run.add_argument("--in-memory", action="store_true", help="keep nothing on disk (tests, benchmarks)")
    run.add_argument("--faults", type=Path, help="fault-injection plan file (reliability tests only)")
    run.add_argument("--max-concurrency", type=int, default=16, help="execution environments per function")
    run.add_argument("--log-file", type=Path, help="also write every line here, as each process printed it (JSON, metrics)")
    run.add_argument("--quiet", action="store_true", help="print nothing to the console")
    run.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("VERBOSE", "") not in ("", "0"),
        help="the console also shows metrics and INIT_REPORT lines (VERBOSE=1)",
    )
    run.add_argument("--seed-demo", action="store_true", help="add the demo data when the database is empty")
    run.add_argument(
        "--no-client-limits", action="store_true", help="do not apply the edge's per-address rate limits (edge/template.yaml)"
    )
    run.add_argument(
        "--trust-address",
        action="append",
        default=[],
        metavar="NETWORK",
        help="an address or network the per-address rate limits never apply to (repeatable)",
    )
    args = parser.parse_args()

    if args.command == "run":
        stack = LocalStack(
            state_dir=args.state_dir,
            port=args.port,
            in_memory=args.in_memory,
            fault_plan=args.faults,
            max_concurrency=args.max_concurrency,
            log_file=args.log_file,
            quiet=args.quiet,
            verbose=args.verbose,
            seed_demo=args.seed_demo,
            client_limits=not args.no_client_limits,
            trusted_addresses=tuple(args.trust_address),
        )
        try:
            stack.run_forever()
        except StateFolderInUse as in_use:
            sys.exit(str(in_use))


if __name__ == "__main__":
    main()
