"""What the local stack's console shows of the functions' output (local/console.py)."""

from __future__ import annotations

import json

import pytest

from local.console import readable

RECORD = {
    "level": "INFO",
    "location": "handle:136",
    "message": "request refused",
    "timestamp": "2026-11-30 03:13:33,585+0000",
    "service": "wallet",
    "cold_start": False,
    "function_request_id": "4f1c",
    "xray_trace_id": "1-abc",
    "problem": "insufficient-funds",
    "status": 422,
}
METRICS = {
    "_aws": {
        "Timestamp": 1796008319504,
        "CloudWatchMetrics": [
            {
                "Namespace": "VaultPay",
                "Dimensions": [["service", "problem"]],
                "Metrics": [{"Name": "RequestRefused", "Unit": "Count"}],
            }
        ],
    },
    "service": "wallet",
    "problem": "not-found",
    "RequestRefused": [1.0],
}


def test_a_log_record_is_its_level_message_and_own_fields() -> None:
    # When a Powertools record is shown
    shown = readable(json.dumps(RECORD), verbose=False)
    # Then it is one line: level, message, and only the fields the code added
    assert shown == "INFO request refused  problem=insufficient-funds status=422"


def test_an_exception_record_shows_its_traceback_below() -> None:
    record = {**RECORD, "level": "ERROR", "exception": "Traceback (most recent call last):\n  ...\nKeyError: 'x'"}
    record.update(exception_name="KeyError", stack_trace={"type": "KeyError"})
    shown = readable(json.dumps(record), verbose=False)
    assert shown is not None
    assert shown.splitlines() == [
        "ERROR request refused  problem=insufficient-funds status=422",
        "Traceback (most recent call last):",
        "  ...",
        "KeyError: 'x'",
    ]


@pytest.mark.parametrize("line", [json.dumps(METRICS), "INIT_REPORT Init Duration: 812.40 ms"])
def test_metrics_and_init_reports_are_hidden_unless_verbose(line: str) -> None:
    assert readable(line, verbose=False) is None
    assert readable(line, verbose=True) is not None


def test_metrics_are_summarized_when_verbose() -> None:
    assert readable(json.dumps(METRICS), verbose=True) == "metrics RequestRefused=1 (problem=not-found)"


@pytest.mark.parametrize("line", ["Traceback (most recent call last):", "{not json", "[1, 2]", '{"other": "shape"}', ""])
def test_anything_else_is_shown_as_it_was_printed(line: str) -> None:
    assert readable(line, verbose=False) == line
