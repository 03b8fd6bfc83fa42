"""What the local stack's console shows of a function's output: one readable line per log record.

Functions print what they print in Lambda: Powertools' JSON log records, its metrics as EMF
documents, tracebacks, an INIT_REPORT per execution environment. The console shows a log record
as its level, message and own fields; metrics and INIT_REPORT only when asked for (VERBOSE=1),
metrics summarized. The log file (--log-file) keeps every line as it was printed.
"""

from __future__ import annotations

import json
from typing import Any

# What Powertools adds to every record: the console leaves it out.
STANDARD_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "stack_trace",
    }
)


def _value(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value)


def _metrics(document: dict[str, Any]) -> str:
    directives = document["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for directive in directives for metric in directive["Metrics"]]
    dimensions = {name for directive in directives for group in directive["Dimensions"] for name in group} - {"service"}
    shown = " ".join(f"{name}={_value(document.get(name))}" for name in names)
    if dimensions:
        shown += " (" + ", ".join(f"{name}={_value(document.get(name))}" for name in sorted(dimensions)) + ")"
    return f"metrics {shown}"


def readable(line: str, *, verbose: bool) -> str | None:
    """The console's form of one line a function printed; None when the console leaves it out."""
    if line.startswith("INIT_REPORT"):
        return line if verbose else None
    if not line.startswith("{"):
        return line
    try:
        document = json.loads(line)
    except ValueError:
        return line
    if not isinstance(document, dict):
        return line
    if "_aws" in document:
        return _metrics(document) if verbose else None
    if "level" not in document or "message" not in document:
        return line
    fields = " ".join(f"{key}={_value(value)}" for key, value in document.items() if key not in STANDARD_KEYS)
    text = f"{document['level']} {_value(document['message'])}" + (f"  {fields}" if fields else "")
    if "exception" in document:
        text += "\n" + str(document["exception"])
    return text
