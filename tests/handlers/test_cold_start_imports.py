"""What each function loads at cold start: libraries only some routes need load on first use.

Timings belong to `make bench`; this checks the behaviour behind them, in a fresh interpreter
with the variables Lambda's runtime sets.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.stack import lambda_runtime_environment
from local.template import ROOT

HEAVY = {
    "argon2": "password hashing: register, login, reveal",
    "cryptography": "AES-GCM: register, reveal (PyJWT loads it too)",
    "jwt": "signing and verifying tokens: login, refresh, the authorizer",
    "email_validator": "checking an address: register, transfer",
    "aws_lambda_powertools.utilities.idempotency": "the transfer only",
    "pyotp": "TOTP: step-up with a code, enrolment",
    "segno": "the enrolment's QR code",
}
LOADED_AT_INIT = {
    "authorizer": {"jwt", "cryptography"},  # every request verifies a token
}


@pytest.mark.parametrize("folder", ["health", "authorizer", "identity", "vault", "wallet", "audit"])
def test_a_cold_start_loads_only_what_every_request_needs(folder: str) -> None:
    # Given the handler module imported as Lambda would (fresh process, Lambda's variables)
    code_dir = ROOT / "functions" / folder
    environment = {
        **lambda_runtime_environment(folder, 512, code_dir),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{code_dir}:{ROOT / 'layers' / 'vaultpay'}",
        "AWS_REGION": "ap-south-1",
        "POWERTOOLS_SERVICE_NAME": folder,
        "POWERTOOLS_METRICS_NAMESPACE": "VaultPay",
    }
    script = "import json, sys, app; print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=code_dir, env=environment, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(completed.stdout))
    # Then none of the libraries only some routes need is loaded, but what every request needs
    expected = LOADED_AT_INIT.get(folder, set())
    assert {name for name in HEAVY if name in loaded} == expected
