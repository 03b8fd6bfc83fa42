"""What `make run` keeps between runs, what `make reset` wipes, and the demo data it adds once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from local import seed
from local.template import ROOT
from tests.support.api import Api, User
from tests.support.data import registration
from tests.support.stack import RunningStack, running_stack

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]

SEED_TIMEOUT_SECONDS = 600  # people, transfers and loans, on a machine the other tiers keep busy


def seeding_outcome(stack: RunningStack, since: int) -> str:
    """Wait for this run's seeding thread to finish; its console lines (the log file is shared
    by the runs on one folder, so only what follows ``since`` counts)."""
    deadline = time.monotonic() + SEED_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        lines = [line for line in stack.logs()[since:].splitlines() if line.startswith("[seed]")]
        if any("demo login:" in line for line in lines):
            return "\n".join(lines)
        time.sleep(0.5)
    raise AssertionError(f"seeding did not finish in {SEED_TIMEOUT_SECONDS} s")


def log_size(state_dir: Path) -> int:
    log = state_dir / "stack.log"
    return len(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else 0


def demo_user() -> User:
    return User(id="", email=seed.DEMO_EMAIL, password=seed.DEMO_PASSWORD, aadhaar="")


def test_data_keys_index_key_and_sessions_survive_a_restart_and_make_reset_wipes_them(tmp_path: Path) -> None:
    # Given `make run` on an empty folder: it seeds the demo data
    with running_stack(tmp_path, extra_args=("--seed-demo",), in_memory=False) as first:
        outcome = seeding_outcome(first, 0)
        assert "empty database: adding 20 people, 100 transfers and loans in every state" in outcome
        assert "failed" not in outcome
        api = Api(first.url)
        newcomer = api.new_user()
        assert api.transfer(newcomer, seed.DEMO_EMAIL, "25.00").status_code == 201
        balance_before = api.get("/api/wallet/balance/", newcomer).json()
    # When it starts again on the same folder
    since = log_size(tmp_path)
    with running_stack(tmp_path, extra_args=("--seed-demo",), in_memory=False) as second:
        outcome = seeding_outcome(second, since)
        # Then it adds no demo data, and what was there is intact: accounts, balances, the access and
        # refresh tokens, the vault (its KMS key kept), the audit trail's position on the stream
        assert "data found" in outcome
        assert "empty database" not in outcome
        api = Api(second.url)
        # the access token signed before the restart (the token key kept, private half included)
        assert api.get("/api/wallet/balance/", newcomer).json() == balance_before
        again = api.login(User(id=newcomer.id, email=newcomer.email, password=newcomer.password, aadhaar=""))
        assert api.get("/api/wallet/balance/", again).json() == balance_before
        refreshed = api.post("/api/users/token/refresh/", {"refresh": newcomer.refresh})
        assert refreshed.status_code == 200
        revealed = api.post("/api/users/profile/aadhaar/", {"password": newcomer.password}, user=again)
        assert revealed.json() == {"aadhaar": newcomer.aadhaar}
        # and the Aadhaar index key (an HMAC key inside KMS) too: the newcomer's guard still refuses
        # the same number
        duplicate = api.post("/api/users/register/", registration("copycat@example.com", aadhaar=newcomer.aadhaar))
        assert duplicate.status_code == 409
        assert api.login(demo_user()).access
    # When `make reset` wipes that folder, then the stack starts again
    subprocess.run(["make", "--no-print-directory", "reset", f"STATE_DIR={tmp_path}"], cwd=ROOT, check=True)
    assert not (tmp_path / "dynamodb").exists()
    assert not (tmp_path / "clock-offset").exists()  # the demo data's move of the clock goes with it
    with running_stack(tmp_path, extra_args=("--seed-demo",), in_memory=False) as third:
        # Then the newcomer is gone, and the demo data is there anew
        assert "empty database" in seeding_outcome(third, 0)
        api = Api(third.url)
        gone = api.post("/api/users/login/", {"email": newcomer.email, "password": newcomer.password})
        assert gone.status_code == 401
        assert api.login(demo_user()).access
