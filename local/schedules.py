"""Time on the local stack: its clock, which can be moved forward, and the template's schedules,
run as EventBridge Scheduler runs them.

The clock is the real time plus an offset kept in the state folder (``clock-offset``); every
function's execution environment reads it (``local/worker.py`` installs it in place of
``vaultpay.core.clock.utc_now``, from outside the code under test). Moving it forward is
local-only, for tests and demos:

    POST /_local/clock       {"advance_days": 31}        -> {"now": ..., "offset_seconds": ...}
    GET  /_local/clock
    POST /_local/schedules/<FunctionLogicalId>/run         -> the function's result

Each schedule runs its function every period of stack time; after the clock jumps, a schedule
that fell due runs once at once (EventBridge would have run it at each period on the way; the
sweeper catches up in one run, as it does after any outage).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

from local.runtime import FunctionPool, InvocationFailed
from local.template import Schedule

CLOCK_FILE_VARIABLE = "VAULTPAY_CLOCK_FILE"
CONTROL_PREFIX = "/_local/"


def read_offset(path: Path) -> float:
    try:
        return float(path.read_text(encoding="utf-8").strip() or 0)
    except FileNotFoundError:
        return 0.0


@dataclass
class LocalClock:
    path: Path

    def offset_seconds(self) -> float:
        return read_offset(self.path)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_seconds())

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        offset = self.offset_seconds() + seconds
        aside = self.path.with_suffix(".tmp")
        aside.write_text(f"{offset}\n", encoding="utf-8")
        aside.replace(self.path)
        return offset


def scheduled_event(schedule: Schedule, at: datetime) -> dict[str, Any]:
    """What EventBridge Scheduler hands a Lambda target with no input of its own."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:scheduler:ap-south-1:123456789012:schedule/default/{schedule.function}-{schedule.name}"],
        "detail": {},
    }


@dataclass
class Scheduler:
    schedules: list[Schedule]
    pools: dict[str, FunctionPool]
    clock: LocalClock
    log: Any
    _next: dict[str, datetime] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        now = self.clock.now()
        for schedule in self.schedules:
            self._next[schedule.function] = now + timedelta(seconds=schedule.period_seconds)
        if self.schedules:
            threading.Thread(target=self._loop, name="scheduler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            now = self.clock.now()
            for schedule in self.schedules:
                with self._lock:
                    due = self._next[schedule.function] <= now
                    if due:
                        self._next[schedule.function] = now + timedelta(seconds=schedule.period_seconds)
                if due:
                    try:
                        self.run(schedule.function)
                    except InvocationFailed as failure:
                        # Scheduler retries a failed target; so does the next period here.
                        self.log("scheduler", f"{schedule.function} failed: {failure}")

    def run(self, function: str) -> Any:
        schedule = next(s for s in self.schedules if s.function == function)
        result = self.pools[function].invoke(scheduled_event(schedule, self.clock.now()))
        self.log("scheduler", f"{function} ran: {json.dumps(result, default=str)}")
        return result


@dataclass
class LocalControl:
    """The local-only routes under /_local/: the clock, and running a schedule now."""

    clock: LocalClock
    scheduler: Scheduler

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = [part for part in path.removeprefix(CONTROL_PREFIX).split("/") if part]
        if parts == ["clock"] and method == "GET":
            return HTTPStatus.OK, self._clock_state()
        if parts == ["clock"] and method == "POST":
            try:
                request = json.loads(body or b"{}")
                seconds = float(request.get("advance_seconds", 0)) + 86400 * float(request.get("advance_days", 0))
                self.clock.advance(seconds)
            except (ValueError, TypeError, AttributeError) as error:
                return HTTPStatus.BAD_REQUEST, {"detail": f"send {{'advance_days': n}} or {{'advance_seconds': n}}: {error}"}
            return HTTPStatus.OK, self._clock_state()
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "run" and method == "POST":
            if parts[1] not in {schedule.function for schedule in self.scheduler.schedules}:
                return HTTPStatus.NOT_FOUND, {"detail": f"no schedule runs {parts[1]}"}
            try:
                return HTTPStatus.OK, {"function": parts[1], "result": self.scheduler.run(parts[1])}
            except InvocationFailed as failure:
                return HTTPStatus.BAD_GATEWAY, {"detail": f"{parts[1]} failed: {failure}"}
        return HTTPStatus.NOT_FOUND, {"detail": "no such local control route"}

    def _clock_state(self) -> dict[str, Any]:
        return {"now": self.clock.now().isoformat(), "offset_seconds": self.clock.offset_seconds(), "real": time.time()}
