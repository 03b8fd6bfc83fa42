"""`make stress`: the bank workload at full size, with and without injected faults, and a report.

    python -m tests.reliability.stress [--transfers 1500] [--clients 16] [--accounts 10]

Starts its own in-memory local stack (127.0.0.1 only), stops by itself, exits 1 on any
invariant violation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.bank import BankConfig, BankWorkload
from tests.reliability.test_bank import FAULTS
from tests.support.stack import running_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=10)
    args = parser.parse_args()
    violations = 0
    with running_stack(Path(tempfile.mkdtemp(prefix="vaultpay-stress-"))) as stack:
        for title, faults, seed in (("bank", [], 101), ("bank with injected faults", FAULTS, 102)):
            started = time.monotonic()
            config = BankConfig(
                clients=args.clients,
                accounts=args.accounts,
                transfers=args.transfers if not faults else args.transfers * 2 // 3,
                faults=faults,
                seed=seed,
            )
            result = BankWorkload(stack, config).run()
            print(result.render(f"{title} ({time.monotonic() - started:.0f} s)"), flush=True)
            violations += len(result.violations)
    print(f"invariant violations: {violations}")
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
