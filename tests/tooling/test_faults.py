"""Fault injection (local/faults.py): the switch, the rules' counting, and what botocore sees."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.retries.standard import ExponentialBackoff

from local import faults
from local.template import SamTemplate
from tests.reliability.fault_plan import BOTOCORE_ATTEMPTS
from vaultpay.core import aws

WALLET = "vaultpay-local-WalletFunction"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: a call that gets past the faults fails to connect


def plan_of(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [dict(rule) for rule in rules]}


def fault_of(taken: tuple[int, str] | None) -> str | None:
    return taken[1] if taken else None


def take(plan: dict[str, Any], calls: int, *, operation: str = "TransactWriteItems", pid: int = 1) -> list[str | None]:
    return [fault_of(faults.choose(plan, operation, "Main", WALLET, pid)) for _ in range(calls)]


class TestTheSwitch:
    @pytest.fixture(autouse=True)
    def _clean(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("VAULTPAY_FAULT_PLAN", "vaultpay_fault_plan", "fault_plan", "AWS_LAMBDA_RUNTIME_API"):
            monkeypatch.delenv(name, raising=False)

    def test_it_is_off_unless_the_variable_names_a_plan(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert faults.FaultSettings().plan is None
        monkeypatch.setenv("VAULTPAY_FAULT_PLAN", "  ")
        assert faults.FaultSettings().plan is None
        monkeypatch.setenv("VAULTPAY_FAULT_PLAN", "/tmp/plan.json")
        assert faults.FaultSettings().plan == Path("/tmp/plan.json")

    @pytest.mark.parametrize("name", ["vaultpay_fault_plan", "fault_plan"])
    def test_only_the_exact_variable_name_turns_it_on(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        monkeypatch.setenv(name, "/tmp/plan.json")
        assert faults.FaultSettings().plan is None

    def test_it_stays_off_in_a_real_lambda_runtime(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VAULTPAY_FAULT_PLAN", "/tmp/plan.json")
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
        assert faults.FaultSettings().plan is None

    def test_install_hooks_the_events_only_when_on(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        registered: list[str] = []

        class Events:
            def register(self, event: str, _handler: Any) -> None:
                registered.append(event)

        assert faults.install(Events()) is None
        assert registered == []
        monkeypatch.setenv("VAULTPAY_FAULT_PLAN", str(tmp_path / "plan.json"))
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", WALLET)
        assert faults.install(Events()) is not None
        assert registered == ["before-send.dynamodb"]

    def test_the_template_never_names_the_switch_in_any_case(self) -> None:
        text = SamTemplate.load().path.read_text().lower()
        assert "vaultpay_fault_plan" not in text
        assert "fault_plan" not in text


class TestRules:
    def test_a_rule_applies_only_to_its_operation_table_and_function(self) -> None:
        plan = plan_of({"fault": "throttle", "operation": "TransactWriteItems", "table": "Main", "function": "WalletFunction"})
        assert faults.choose(plan, "GetItem", "Main", WALLET, 1) is None
        assert faults.choose(plan, "TransactWriteItems", "Other", WALLET, 1) is None
        assert faults.choose(plan, "TransactWriteItems", "Main", "vaultpay-local-IdentityFunction", 1) is None
        assert faults.choose(plan, "TransactWriteItems", "Main", WALLET, 1) == (0, "throttle")

    def test_every_and_remaining_fire_deterministically(self) -> None:
        plan = plan_of({"fault": "conflict", "every": 3, "remaining": 2})
        fired = take(plan, 12)
        assert fired == [None, None, "conflict", None, None, "conflict", None, None, None, None, None, None]
        assert plan["rules"][0] | {} == {"fault": "conflict", "every": 3, "remaining": 0, "seen": 6, "fired": 2, "injected": 2}

    def test_a_burst_takes_the_next_calls_of_the_same_process_only(self) -> None:
        plan = plan_of({"fault": "throttle", "burst": 3, "remaining": 1})
        assert take(plan, 1, pid=1) == ["throttle"]
        assert take(plan, 1, pid=2) == [None]  # another process: the rule has no firing left
        assert take(plan, 3, pid=1) == ["throttle", "throttle", None]
        rule = plan["rules"][0]
        assert (rule["fired"], rule["injected"]) == (1, 3)

    def test_a_burst_in_progress_comes_before_every_other_rule(self) -> None:
        plan = plan_of({"fault": "conflict"}, {"fault": "throttle", "burst": 2, "remaining": 1})
        plan["rules"][1]["bursting"] = {"7": 1}
        assert faults.choose(plan, "TransactWriteItems", "Main", WALLET, 7) == (1, "throttle")
        assert faults.choose(plan, "TransactWriteItems", "Main", WALLET, 7) == (0, "conflict")

    def test_the_first_rule_that_fires_wins_and_later_rules_do_not_count_its_call(self) -> None:
        plan = plan_of({"fault": "conflict", "every": 2}, {"fault": "server_error", "every": 2})
        assert take(plan, 4) == [None, "conflict", "server_error", "conflict"]
        assert (plan["rules"][0]["seen"], plan["rules"][1]["seen"]) == (4, 2)

    def test_a_firing_given_back_is_uncounted_and_fires_again(self) -> None:
        plan = plan_of({"fault": "crash_after_commit", "every": 2, "remaining": 1})
        assert take(plan, 2) == [None, "crash_after_commit"]
        faults.give_back(plan, 0, "crash_after_commit")
        assert (plan["rules"][0]["fired"], plan["rules"][0]["injected"], plan["rules"][0]["remaining"]) == (0, 0, 1)
        assert take(plan, 2) == [None, "crash_after_commit"]
        faults.give_back(plan, 0, "throttle")  # not that rule (the plan was replaced): nothing happens
        assert plan["rules"][0]["fired"] == 1

    def test_probability_zero_never_fires_and_an_unknown_fault_never_applies(self) -> None:
        plan = plan_of({"fault": "throttle", "probability": 0.0}, {"fault": "meteor"})
        assert take(plan, 50) == [None] * 50
        assert "injected" not in plan["rules"][0]


class TestWhatBotocoreSees:
    """The injector installed as the local worker installs it (on boto3's default session), in a
    DynamoDB client built as core/aws.py builds it (retries and all)."""

    @pytest.fixture
    def client(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
        plan = tmp_path / "plan.json"
        plan.write_text('{"rules": []}')
        for name, value in {
            "VAULTPAY_FAULT_PLAN": str(plan),
            "AWS_LAMBDA_FUNCTION_NAME": WALLET,
            "AWS_ENDPOINT_URL_DYNAMODB": NOWHERE,
            "AWS_ENDPOINT_URL": NOWHERE,
            "AWS_DEFAULT_REGION": "ap-south-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda _self, _context: 0)  # no backoff sleeps
        aws.dynamodb.cache_clear()
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        assert faults.install_in_default_session() is not None
        yield aws.dynamodb()
        aws.dynamodb.cache_clear()

    @staticmethod
    def write(client: Any, *rules: dict[str, Any]) -> Path:
        path = Path(faults.FaultSettings().plan or "")
        path.write_text(json.dumps(plan_of(*rules)))
        return path

    @staticmethod
    def transact(client: Any) -> None:
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "Main", "Item": {"PK": {"S": "a"}}}}])

    def test_botocore_makes_as_many_attempts_as_the_bank_plan_assumes(self, client: Any) -> None:
        path = self.write(client, {"fault": "throttle"})
        with pytest.raises(ClientError) as raised:
            self.transact(client)
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert json.loads(path.read_text())["rules"][0]["injected"] == BOTOCORE_ATTEMPTS

    def test_a_burst_as_long_as_botocores_attempts_fails_the_call(self, client: Any) -> None:
        path = self.write(client, {"fault": "throttle", "burst": BOTOCORE_ATTEMPTS, "remaining": 1})
        with pytest.raises(ClientError) as raised:
            self.transact(client)
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        rule = json.loads(path.read_text())["rules"][0]
        assert (rule["fired"], rule["injected"]) == (1, BOTOCORE_ATTEMPTS)

    @pytest.mark.parametrize("fault", ["throttle", "server_error"])
    def test_a_shorter_burst_is_absorbed_by_botocores_retries(self, client: Any, fault: str) -> None:
        self.write(client, {"fault": fault, "burst": BOTOCORE_ATTEMPTS - 1, "remaining": 1})
        with pytest.raises(EndpointConnectionError):  # past the faults: the real request was sent
            self.transact(client)

    def test_a_conflict_is_a_cancelled_transaction_with_a_reason_per_item(self, client: Any) -> None:
        self.write(client, {"fault": "conflict", "remaining": 1})
        with pytest.raises(ClientError) as raised:
            self.transact(client)
        assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert [reason["Code"] for reason in raised.value.response["CancellationReasons"]] == ["TransactionConflict"]


def _take_many(plan: str, calls: int) -> int:
    injector = faults.FaultInjector(Path(plan), WALLET)
    return sum(injector._take("TransactWriteItems", "Main") is not None for _ in range(calls))


def test_counts_hold_across_processes_sharing_the_plan_file(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_of({"fault": "conflict", "every": 2, "remaining": 30})))
    with multiprocessing.get_context("fork").Pool(4) as pool:
        injected = sum(pool.starmap(_take_many, [(str(plan), 25)] * 4))
    rule = json.loads(plan.read_text())["rules"][0]
    assert injected == rule["injected"] == rule["fired"] == 30
    assert (rule["remaining"], rule["seen"]) == (0, 60)


class _StubHttp:
    def __init__(self, status: int) -> None:
        self.status = status
        self.sent = 0

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        self.sent += 1
        return AWSResponse(request.url, self.status, HTTPHeaders(), None)


@pytest.mark.parametrize(("status", "committed"), [(200, True), (400, False)])
def test_an_after_commit_fault_counts_only_when_the_write_committed(tmp_path: Path, status: int, committed: bool) -> None:
    # Given an error-after-commit rule, and DynamoDB answering the write with this status
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_of({"fault": "error_after_commit", "remaining": 1})))
    injector = faults.FaultInjector(plan, WALLET)
    injector._http = _StubHttp(status)  # type: ignore[assignment]
    request = AWSPreparedRequest(
        "POST",
        NOWHERE,
        HTTPHeaders.from_dict({"X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"}),
        b'{"TransactItems": []}',
        False,
    )
    # When the write is sent
    if committed:
        with pytest.raises(faults.InjectedFault):
            injector.before_send(request)
    else:
        assert injector.before_send(request).status_code == 400  # type: ignore[union-attr]
    # Then the rule counts a firing only when the fault really happened, and keeps it for later otherwise
    rule = json.loads(plan.read_text())["rules"][0]
    assert (rule["fired"], rule["remaining"]) == ((1, 0) if committed else (0, 1))


def test_a_plan_nothing_applies_to_is_never_rewritten(tmp_path: Path) -> None:
    # A test may be replacing the file (without the lock): a worker must not write over it.
    plan = tmp_path / "plan.json"
    injector = faults.FaultInjector(plan, WALLET)
    for text in ("", '{"rules": []}', json.dumps(plan_of({"fault": "throttle", "function": "IdentityFunction"}))):
        plan.write_text(text)
        before = plan.stat().st_mtime_ns
        assert injector._take("TransactWriteItems", "Main") is None
        assert plan.read_text() == text
        assert plan.stat().st_mtime_ns == before


def test_a_plan_being_replaced_injects_nothing(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{}rules": []}')  # what two writers without a common lock can leave
    assert faults.FaultInjector(plan, WALLET)._take("TransactWriteItems", "Main") is None
    assert plan.read_text() == '{}rules": []}'
