"""`sam build` on this machine (no Docker) produces artifacts for the Lambda runtime: arm64, CPython 3.13."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from local.template import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"
COMPILED = ("cryptography", "argon2_cffi_bindings", "pydantic_core", "cffi", "wrapt")
ELF_MACHINE_AARCH64 = 0xB7
LAMBDA_GLIBC = (2, 34)  # Amazon Linux 2023, the python3.13 runtime's OS
WHEEL_TAG = re.compile(r"^cp3(\d+)-(cp313|abi3)-(manylinux2014|manylinux_(\d+)_(\d+))_aarch64$")

pytestmark = pytest.mark.skipif(not SAM.exists(), reason="the SAM CLI is installed by `make test` (.venv-sam)")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sam-build")
    subprocess.run(
        [str(SAM), "build", "--build-dir", str(target), "--template-file", str(ROOT / "template.yaml")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "PIP_CACHE_DIR": str(ROOT / ".local" / "pip-cache")},
    )
    return target


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int.from_bytes(header[18:20], "little")


def test_compiled_dependencies_are_aarch64_wheels_for_cpython_313(build_dir: Path) -> None:
    site = build_dir / "VaultPayLayer" / "python"
    for package in COMPILED:
        (wheel,) = site.glob(f"{package}-*.dist-info/WHEEL")
        tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
        assert tags, package
        for tag in tags:
            match = WHEEL_TAG.match(tag)
            assert match, (package, tag)  # CPython 3.13 (or the stable ABI of an older 3.x), manylinux, aarch64
            assert int(match.group(1)) <= 13, (package, tag)
            if match.group(4):
                assert (int(match.group(4)), int(match.group(5))) <= LAMBDA_GLIBC, (package, tag)


def test_every_shared_object_is_for_arm64(build_dir: Path) -> None:
    shared_objects = list((build_dir / "VaultPayLayer" / "python").rglob("*.so"))
    assert len(shared_objects) >= len(COMPILED)
    assert {path.name for path in shared_objects if elf_machine(path) != ELF_MACHINE_AARCH64} == set()
    assert not [path.name for path in shared_objects if "x86_64" in path.name or "cpython-311" in path.name]


def test_the_layer_carries_the_vaultpay_package_and_the_functions_their_handlers(build_dir: Path) -> None:
    layer = build_dir / "VaultPayLayer" / "python" / "vaultpay"
    for feature in ("core", "identity", "vault", "wallet", "audit"):
        assert (layer / feature / "composition.py").is_file() or feature == "core"
        assert (layer / feature / "__init__.py").is_file()
    assert (layer / "core" / "data" / "common_passwords.txt").is_file()
    assert not list(layer.rglob("__pycache__"))
    for function in (
        "HealthFunction",
        "AuthorizerFunction",
        "IdentityFunction",
        "VaultFunction",
        "WalletFunction",
        "AuditFunction",
    ):
        assert (build_dir / function / "app.py").is_file()
    assert (build_dir / "HealthFunction" / "openapi.json").is_file()


TEST_ONLY_MARKERS = re.compile(
    r"VAULTPAY_FAULT_PLAN|VAULTPAY_CLOCK_FILE|fault_plan|clock-offset|/_local/|fcntl|os\._exit|^\s*(?:import|from)\s+(?:moto|pytest|local|tests)\b",
    re.MULTILINE,
)


def test_nothing_that_exists_only_for_tests_ships_in_the_layer(build_dir: Path) -> None:
    # Given the layer as sam build makes it
    layer = build_dir / "VaultPayLayer" / "python" / "vaultpay"
    sources = {path.relative_to(layer).as_posix(): path.read_text(encoding="utf-8") for path in layer.rglob("*.py")}
    # Then no fault injection, test setting or test helper is in it, by name or by content
    assert sources
    assert not [name for name in sources if "fault" in name or "test" in name or "fake" in name]
    assert {name: found.group(0) for name, text in sources.items() if (found := TEST_ONLY_MARKERS.search(text))} == {}
    assert not (build_dir / "VaultPayLayer" / "python" / "local").exists()
    assert not (build_dir / "VaultPayLayer" / "python" / "tests").exists()
