"""The short report `make stress` prints at the end: each part of the suite adds its lines.

Tests call ``record``; it writes only when ``VAULTPAY_RELIABILITY_REPORT`` names a file (the
stress runner sets it), so `make test` prints nothing extra.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPORT_ENV = "VAULTPAY_RELIABILITY_REPORT"


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]
    violations: int


def record(title: str, lines: list[str], violations: int = 0) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"title": title, "lines": lines, "violations": violations}) + "\n")


def read(path: Path) -> list[Section]:
    if not path.exists():
        return []
    return [Section(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def render(sections: list[Section]) -> str:
    return "\n".join(line for section in sections for line in (section.title, *section.lines))
