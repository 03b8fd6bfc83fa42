"""The local stack's Lambda emulation: execution environments and the stream event source mapping."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime import FunctionCrashed, FunctionDefinition, FunctionError, FunctionPool, FunctionTimedOut, Preloader
from local.streams import StreamPoller, _Shard
from local.template import StreamSubscription
from tests.support.processes import alive

HANDLER = """
import os, time
INITIALIZED = time.time()

def lambda_handler(event, context):
    if event.get("raise"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    return {
        "pid": os.getpid(),
        "remaining": context.get_remaining_time_in_millis(),
        "variable": os.environ.get("ONLY_HERE"),
        "inherited": "PYTEST_CURRENT_TEST" in os.environ,
    }
"""


@pytest.fixture
def definition(tmp_path: Path) -> FunctionDefinition:
    (tmp_path / "app.py").write_text(HANDLER)
    return FunctionDefinition(
        name="Test",
        code_dir=tmp_path,
        handler="app.lambda_handler",
        layer_dirs=(),
        environment={"PATH": os.environ["PATH"], "ONLY_HERE": "yes"},
        timeout_seconds=1,
    )


@pytest.fixture
def preloader(definition: FunctionDefinition) -> Iterator[Preloader]:
    # As in the stack: the preloader has what every function's environment shares, and another
    # function's ONLY_HERE differs from this one's.
    preloader = Preloader([definition.environment, {**definition.environment, "ONLY_HERE": "no"}], lambda _source, _line: None)
    yield preloader
    preloader.close()


@pytest.fixture(params=["fresh interpreter", "forked by the preloader"])
def pool(request: pytest.FixtureRequest, definition: FunctionDefinition) -> Iterator[FunctionPool]:
    preloader = request.getfixturevalue("preloader") if request.param == "forked by the preloader" else None
    logs: list[str] = []
    pool = FunctionPool(definition, lambda _source, line: logs.append(line), max_concurrency=2, preloader=preloader)
    yield pool
    pool.close()


def test_an_environment_is_reused_and_has_the_functions_own_variables(pool: FunctionPool) -> None:
    first, second = pool.invoke({}), pool.invoke({})
    assert first["pid"] == second["pid"]
    assert first["variable"] == "yes"
    assert 0 < first["remaining"] <= 1000


def test_a_raising_handler_is_a_function_error_and_the_environment_survives(pool: FunctionPool) -> None:
    before = pool.invoke({})["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"raise": True})
    assert raised.value.error["errorType"] == "ValueError"
    assert pool.invoke({})["pid"] == before


def test_a_timeout_replaces_the_environment(pool: FunctionPool) -> None:
    before = pool.invoke({})["pid"]
    with pytest.raises(FunctionTimedOut):
        pool.invoke({"sleep": 3})
    assert pool.invoke({})["pid"] != before


def test_a_crash_replaces_the_environment(pool: FunctionPool) -> None:
    before = pool.invoke({})["pid"]
    with pytest.raises(FunctionCrashed, match="exited with status 3"):
        pool.invoke({"exit": True})
    assert pool.invoke({})["pid"] != before


def test_a_forked_environment_is_a_child_of_the_preloader_and_dies_with_it(
    definition: FunctionDefinition, preloader: Preloader
) -> None:
    # Given an execution environment forked by the preloader, serving invocations
    pool = FunctionPool(definition, lambda _source, _line: None, max_concurrency=1, preloader=preloader)
    pid = pool.invoke({})["pid"]
    assert Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(preloader.process.pid)  # its parent
    # When the preloader stops (as the stack stops it, after its pools)
    preloader.close()
    # Then the environment is gone with it, and the next invocation says so instead of hanging
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    with pytest.raises(FunctionCrashed):
        pool.invoke({})
    pool.close()


class FakePool:
    """Answers like the audit function would, as told."""

    def __init__(self, fail_sequence: str | None = None, error: bool = False) -> None:
        self.fail_sequence = fail_sequence
        self.error = error
        self.batches: list[list[str]] = []

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        sequences = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        self.batches.append(sequences)
        if self.error and self.fail_sequence in sequences:
            raise FunctionError({"errorType": "RuntimeError", "errorMessage": "poison"})
        if self.fail_sequence in sequences:
            return {"batchItemFailures": [{"itemIdentifier": self.fail_sequence}]}
        return {"batchItemFailures": []}


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803 - boto3's names
        self.messages.append(json.loads(MessageBody))


def poller(pool: Any, queue: FakeQueue, *, retries: int = 2, bisect: bool = True) -> StreamPoller:
    subscription = StreamSubscription(
        function="Audit",
        table="Main",
        batch_size=10,
        batching_window_seconds=0,
        maximum_retry_attempts=retries,
        maximum_record_age_seconds=-1,
        bisect_on_error=bisect,
        report_batch_item_failures=True,
        on_failure_destination="Queue",
        starting_position="TRIM_HORIZON",
    )
    return StreamPoller(
        streams_client=None,
        sqs_client=queue,
        stream_arn="arn:stream",
        subscription=subscription,
        pool=pool,
        on_failure_queue_url="queue-url",
        region="ap-south-1",
        log_sink=lambda _source, _line: None,
    )


def shard_with(count: int) -> _Shard:
    shard = _Shard(shard_id="shard-1", parent_id=None)
    shard.pending = [{"eventID": f"e{index}", "dynamodb": {"SequenceNumber": f"{index:03d}"}} for index in range(count)]
    return shard


def test_a_reported_failure_resumes_from_it_and_then_goes_to_the_destination() -> None:
    # Given a batch whose fourth record keeps failing
    pool, queue = FakePool(fail_sequence="003"), FakeQueue()
    stream, shard = poller(pool, queue, retries=2), shard_with(6)
    # When it is delivered until the retries run out
    for _ in range(4):
        stream._deliver(shard)
    # Then the records before it are done, it was retried from itself, and then sent to the destination
    assert pool.batches[0] == ["000", "001", "002", "003", "004", "005"]
    assert all(batch[0] == "003" for batch in pool.batches[1:3])
    assert queue.messages[0]["DDBStreamBatchInfo"]["startSequenceNumber"] == "003"
    assert queue.messages[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert shard.pending == []


def test_a_function_error_bisects_the_batch_to_find_the_poison_record() -> None:
    pool, queue = FakePool(fail_sequence="002", error=True), FakeQueue()
    stream, shard = poller(pool, queue, retries=0), shard_with(4)
    stream._deliver(shard)
    assert ["000", "001"] in pool.batches  # the good half was delivered on its own
    assert ["002"] in pool.batches  # the poison record was isolated
    assert queue.messages[0]["DDBStreamBatchInfo"]["startSequenceNumber"] == "002"


def test_a_clean_batch_is_checkpointed(tmp_path: Path) -> None:
    pool, queue = FakePool(), FakeQueue()
    stream, shard = poller(pool, queue), shard_with(3)
    stream._deliver(shard)
    assert shard.pending == []
    assert stream._checkpoints["shard-1"] == "002"
    assert queue.messages == []


def test_the_worker_runs_with_only_the_functions_environment(pool: FunctionPool) -> None:
    # Given this test process has variables of its own, When the function runs, Then it sees none of them
    assert "PYTEST_CURRENT_TEST" in os.environ
    answer = pool.invoke({})
    assert answer["variable"] == "yes"
    assert answer["inherited"] is False


def test_a_stream_record_with_binary_attributes_is_delivered_as_lambda_would() -> None:
    # Given a GetRecords record whose image holds binary values (botocore gives them as bytes)
    from local.streams import lambda_record

    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "TOTP"}},
            "NewImage": {"PK": {"S": "USER#u1"}, "nonce": {"B": b"\x00\x01"}, "codes": {"BS": [b"a", b"b"]}},
            "SequenceNumber": "100",
        },
    }
    # When it becomes a Lambda event record
    delivered = lambda_record(record, "arn:aws:dynamodb:ap-south-1:123456789012:table/Main/stream/x", "ap-south-1")
    # Then it is JSON (binary base64-encoded, as Lambda encodes it), so the poller can hand it to the function
    image = json.loads(json.dumps(delivered))["dynamodb"]["NewImage"]
    assert image["nonce"] == {"B": "AAE="}
    assert image["codes"] == {"BS": ["YQ==", "Yg=="]}
