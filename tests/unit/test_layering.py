"""The layer's layering: each feature's domain (``logic`` and ``ports``, and the ``models`` they import) loads no AWS SDK,
no HTTP and no adapter; the layer never imports the local stack or the tests; the main table's
key formats live in ``core/table.py`` and the adapters only; the unit tests use neither moto nor boto3."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "vaultpay"
PACKAGE = LAYER / "vaultpay"
UNIT_TESTS = Path(__file__).resolve().parent

FEATURES = sorted(path.parent.name for path in PACKAGE.glob("*/logic.py"))
DOMAIN_PARTS = ("ports", "logic")  # in this order: see loaded_by
DOMAIN_MODULES = [f"vaultpay.{feature}.{part}" for feature in FEATURES for part in DOMAIN_PARTS]

FORBIDDEN_PACKAGES = ("boto3", "botocore", "moto", "aws_lambda_powertools.event_handler")
# The adapters, composition roots and AWS plumbing: what the domain must never pull in, even without boto3.
ADAPTER_PARTS = ("dynamo", "dynamo_lockout", "dynamo_tokens", "kms", "stream", "composition", "shared_composition", "verifier")
CORE_PLUMBING = (
    "vaultpay.core.aws",
    "vaultpay.core.dynamo",
    "vaultpay.core.table",
    "vaultpay.core.http",
)

KEY_FORMATS = ("USER#", "TXN#", "EMAIL#", "AADHAAR#", "LEDGER#", "EVENT#", "REFRESH#", "FAMILY#", "LOGIN#", "LIMIT#", "STEPUP#")

# Imports each module named on the command line in turn; prints, for each, what the process had loaded right after.
_LOADED = """
import importlib, json, sys
loaded = {}
for module in sys.argv[1:]:
    importlib.import_module(module)
    loaded[module] = sorted(sys.modules)
json.dump(loaded, sys.stdout)
"""


def test_the_features_are_found() -> None:
    assert {"audit", "identity", "vault", "wallet"} <= set(FEATURES)


@pytest.fixture(scope="module")
def loaded_by() -> dict[str, list[str]]:
    """What importing each domain module loads: one fresh interpreter per feature (started at once, as
    interpreters with pydantic cost ~0.5 s of CPU each), importing its ``ports`` then its ``logic``.

    ``ports`` is thus imported in a fresh interpreter; ``logic`` in one that had only its ports loaded
    (which it imports itself). As ``sys.modules`` only grows, what the process holds after ``logic``
    is everything either module loads: a forbidden module there is one that ``logic`` or ``ports``
    loads, exactly as if each had had an interpreter of its own."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    environment["PYTHONPATH"] = os.pathsep.join(["layers/vaultpay", "."])
    running = {
        feature: subprocess.Popen(
            [sys.executable, "-c", _LOADED, *(f"vaultpay.{feature}.{part}" for part in DOMAIN_PARTS)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for feature in FEATURES
    }
    loaded: dict[str, list[str]] = {}
    for feature, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"importing vaultpay.{feature} failed:\n{err}"
        loaded |= json.loads(out)
    return loaded


def _forbidden(module: str) -> bool:
    if any(module == package or module.startswith(f"{package}.") for package in FORBIDDEN_PACKAGES):
        return True
    if any(module == plumbing or module.startswith(f"{plumbing}.") for plumbing in CORE_PLUMBING):
        return True
    parts = module.split(".")
    return len(parts) == 3 and parts[0] == "vaultpay" and parts[1] in FEATURES and parts[2] in ADAPTER_PARTS


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_the_domain_loads_no_aws_sdk_no_http_and_no_adapter(loaded_by: dict[str, list[str]], module: str) -> None:
    loaded = loaded_by[module]
    assert module in loaded
    assert [name for name in loaded if _forbidden(name)] == []


def test_the_check_would_see_an_adapter() -> None:
    assert _forbidden("botocore.client")
    assert _forbidden("aws_lambda_powertools.event_handler.api_gateway")
    assert _forbidden("vaultpay.core.http.problems")
    assert _forbidden("vaultpay.wallet.dynamo")
    assert not _forbidden("aws_lambda_powertools.utilities.typing")
    assert not _forbidden("vaultpay.identity.lockout")


# ---------------------------------------------------------------- static checks
def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports by name (``import x``, ``from x import y``, ``import_module("x")``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _top_level(modules: set[str]) -> set[str]:
    return {module.split(".")[0] for module in modules}


def test_the_layer_never_imports_the_local_stack_or_the_tests() -> None:
    files = sorted(LAYER.rglob("*.py"))
    assert PACKAGE / "wallet" / "logic.py" in files
    offenders = {str(path.relative_to(ROOT)): sorted(_top_level(_imported_modules(path)) & {"local", "tests"}) for path in files}
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_table_key_formats_live_only_in_the_table_module_and_the_adapters() -> None:
    table = (PACKAGE / "core" / "table.py").read_text(encoding="utf-8")
    assert all(key_format in table for key_format in KEY_FORMATS)
    domain_files = sorted(path for name in ("logic.py", "ports.py", "models.py", "records.py") for path in PACKAGE.rglob(name))
    assert {path.parent.name for path in domain_files} >= {*FEATURES, "core"}
    found = {
        str(path.relative_to(PACKAGE)): [
            key_format for key_format in KEY_FORMATS if key_format in path.read_text(encoding="utf-8")
        ]
        for path in domain_files
    }
    assert {path: formats for path, formats in found.items() if formats} == {}


def test_no_unit_test_uses_moto_or_the_aws_sdk() -> None:
    files = sorted(UNIT_TESTS.rglob("*.py"))
    assert UNIT_TESTS / "fakes.py" in files
    offenders = {
        str(path.relative_to(ROOT)): sorted(_top_level(_imported_modules(path)) & {"moto", "boto3", "botocore", "aiobotocore"})
        for path in files
    }
    assert {path: found for path, found in offenders.items() if found} == {}
