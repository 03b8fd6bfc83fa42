"""Unit tests: in-process, moto for AWS, resources created from template.yaml itself."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.moto_kms import honour_digest_signing
from local.provision import LOCAL_PARAMETERS, Clients, function_environment, intrinsics_for, provision
from local.template import ROOT, SamTemplate
from tests.support.events import LambdaContextStub
from vaultpay.audit import composition as audit_composition
from vaultpay.core import aws, settings
from vaultpay.identity import composition as identity_composition
from vaultpay.identity import verifier as identity_verifier
from vaultpay.lending import composition as lending_composition
from vaultpay.vault import composition as vault_composition
from vaultpay.wallet import composition as wallet_composition

REGION = "ap-south-1"
STACK = "unit"
TEMPLATE = SamTemplate.load()


def _clear_caches() -> None:
    for module in (
        audit_composition,
        identity_verifier,
        identity_composition,
        lending_composition,
        vault_composition,
        wallet_composition,
        settings,
        aws,
    ):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with the template's tables, keys and secrets; every function's environment set."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "VaultPay",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("VAULTPAY_FAULT_PLAN", raising=False)
    honour_digest_signing()
    with mock_aws():
        _clear_caches()
        clients = Clients(
            *(boto3.client(service, region_name=REGION) for service in ("dynamodb", "kms", "secretsmanager", "sqs"))
        )
        provisioned = provision(TEMPLATE, clients, stack_name=STACK, region=REGION, parameter_overrides=LOCAL_PARAMETERS)
        intrinsics = intrinsics_for(TEMPLATE, provisioned, stack_name=STACK, region=REGION, parameter_overrides=LOCAL_PARAMETERS)
        environment: dict[str, str] = {}
        for logical_id in TEMPLATE.functions():
            environment.update(function_environment(TEMPLATE, logical_id, intrinsics))
        environment.pop("POWERTOOLS_SERVICE_NAME", None)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        yield environment
        _clear_caches()


@pytest.fixture
def dynamodb(aws_stack: dict[str, str]) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def load_function(folder: str) -> ModuleType:
    """A function's handler module, imported under a name of its own (every handler is app.py)."""
    name = f"{folder}_handler"
    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def invoker(folder: str) -> Invoke:
    module = load_function(folder)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = module.lambda_handler(event, LambdaContextStub())
        return response

    return invoke


@pytest.fixture
def identity(aws_stack: dict[str, str]) -> Invoke:
    return invoker("identity")


@pytest.fixture
def vault(aws_stack: dict[str, str]) -> Invoke:
    return invoker("vault")


@pytest.fixture
def wallet(aws_stack: dict[str, str]) -> Invoke:
    return invoker("wallet")


@pytest.fixture
def lending(aws_stack: dict[str, str]) -> Invoke:
    return invoker("lending")


@pytest.fixture
def authorizer(aws_stack: dict[str, str]) -> Invoke:
    return invoker("authorizer")


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items


def table_snapshot(client: Any, environment: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    tables = {environment[name] for name in ("MAIN_TABLE_NAME", "VAULT_TABLE_NAME", "AUDIT_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME")}
    return {
        table: sorted(scan_all(client, table), key=lambda item: json.dumps(item, default=repr, sort_keys=True))
        for table in tables
    }


__all__ = ["Invoke", "Path", "body", "invoker", "scan_all", "table_snapshot"]
