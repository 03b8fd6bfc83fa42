"""DynamoDB Local, AWS's own emulator, fetched from the npm registry and run with the machine's Java.

The jar ships inside the npm package ``amplify-dynamodb-simulator`` (folder
``package/emulator/``). It is fetched with ``npm pack`` at a pinned version, its sha256
checked, and unpacked under .local/ (git-ignored).

    python -m local.dynamodb_local fetch
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from local.template import ROOT

NPM_PACKAGE = "amplify-dynamodb-simulator"
NPM_VERSION = "2.9.30"
TARBALL_SHA256 = "3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9"
INSTALL_DIR = ROOT / ".local" / "dynamodb-local"
JAR = INSTALL_DIR / "DynamoDBLocal.jar"


class FetchError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(install_dir: Path = INSTALL_DIR) -> Path:
    """Install the pinned DynamoDB Local under ``install_dir`` (no-op when present); return the jar."""
    jar = install_dir / "DynamoDBLocal.jar"
    if jar.exists():
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is needed to fetch DynamoDB Local (apt-get install nodejs npm)")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--silent", "--pack-destination", scratch],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tarball = next(Path(scratch).glob("*.tgz"))
        actual = _sha256(tarball)
        if actual != TARBALL_SHA256:
            raise FetchError(f"{tarball.name}: sha256 {actual}, expected {TARBALL_SHA256}")
        with tarfile.open(tarball) as archive:
            members = [member for member in archive.getmembers() if member.name.startswith("package/emulator/")]
            archive.extractall(scratch, members=members, filter="data")
        staging = install_dir.with_name(install_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(Path(scratch) / "package" / "emulator", staging)
        staging.replace(install_dir)
    return jar


def command(port: int, *, db_path: Path | None, jar: Path = JAR) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise FetchError("Java is needed to run DynamoDB Local (apt-get install openjdk-17-jre-headless)")
    storage = ["-dbPath", str(db_path)] if db_path is not None else ["-inMemory"]
    return [
        java,
        "-Xms64m",
        "-Xmx1g",
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-sharedDb",
        "-port",
        str(port),
        *storage,
    ]


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m local.dynamodb_local fetch")
    print(fetch())
