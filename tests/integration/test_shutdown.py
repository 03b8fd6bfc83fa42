"""Ctrl-C stops the whole local stack: every child process, every port."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.stack import start_stack

pytestmark = pytest.mark.stack


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_every_child_and_frees_every_port(tmp_path: Path) -> None:
    # Given a running stack that has served requests (so every function has a worker)
    running = start_stack(tmp_path)
    Api(running.url).new_user()
    info = json.loads((tmp_path / "stack.json").read_text())
    ports = {int(url.rsplit(":", 1)[1]) for url in (info["url"], *info["endpoints"].values())}
    children = descendants(running.process.pid)
    assert len(children) >= 3  # DynamoDB Local, moto and workers
    assert ports <= listening_ports()
    # When it gets Ctrl-C
    os.kill(running.process.pid, signal.SIGINT)
    assert running.process.wait(timeout=60) == 0
    # Then nothing it started is left running, no port is bound, and it says where it was no more
    assert [pid for pid in children if alive(pid)] == []
    assert not ports & listening_ports()
    assert not (tmp_path / "stack.json").exists()
