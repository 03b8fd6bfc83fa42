"""Handler tests: in-process, moto for AWS, resources created from template.yaml itself, once per package."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.model_instances import reset_model_data

from local.moto_kms import honour_digest_signing
from local.provision import (
    LOCAL_PARAMETERS,
    Clients,
    function_environment,
    intrinsics_for,
    provision,
    provision_tables,
    table_names,
)
from local.template import ROOT, SamTemplate
from tests.support.data import registration
from tests.support.events import LambdaContextStub, http_event
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


AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "VaultPay",
}


@dataclass(frozen=True)
class MotoStack:
    """The template's resources in moto, provisioned once for the whole package."""

    clients: Clients
    environment: dict[str, str]  # every function's Environment.Variables, resolved (service name dropped)
    tables: tuple[str, ...]  # physical table names

    def empty_tables(self) -> None:
        """Every table as it was provisioned: no items, a fresh stream. KMS keys, secrets and queues
        keep no per-test state the functions read back, so they stay."""
        for name in self.tables:
            self.clients.dynamodb.delete_table(TableName=name)
        provision_tables(TEMPLATE, self.clients.dynamodb, stack_name=STACK, region=REGION)
        # moto tracks every model instance it ever made (for its dashboard), transaction copies
        # of whole tables included: let them go, or memory grows test after test.
        reset_model_data()


def _set_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("VAULTPAY_FAULT_PLAN", raising=False)


@pytest.fixture(scope="package")
def moto_stack() -> Iterator[MotoStack]:
    """moto with the template's tables, keys, secrets and queues: created once (about a second),
    not per test. Tests take ``aws_stack``, which empties the tables before each test."""
    honour_digest_signing()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set_aws_environment(monkeypatch)
        with mock_aws():
            clients = Clients(
                *(boto3.client(service, region_name=REGION) for service in ("dynamodb", "kms", "secretsmanager", "sqs"))
            )
            provisioned = provision(TEMPLATE, clients, stack_name=STACK, region=REGION, parameter_overrides=LOCAL_PARAMETERS)
            intrinsics = intrinsics_for(
                TEMPLATE, provisioned, stack_name=STACK, region=REGION, parameter_overrides=LOCAL_PARAMETERS
            )
            environment: dict[str, str] = {}
            for logical_id in TEMPLATE.functions():
                environment.update(function_environment(TEMPLATE, logical_id, intrinsics))
            environment.pop("POWERTOOLS_SERVICE_NAME", None)
            tables = tuple(table_names(TEMPLATE, stack_name=STACK).values())
            yield MotoStack(clients, environment, tables)


@pytest.fixture
def aws_stack(moto_stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with the template's tables (empty), keys and secrets; every function's environment set;
    the functions' cached settings and clients dropped, so each test starts cold."""
    _set_aws_environment(monkeypatch)
    moto_stack.empty_tables()
    for name, value in moto_stack.environment.items():
        monkeypatch.setenv(name, value)
    _clear_caches()
    yield dict(moto_stack.environment)
    _clear_caches()


@pytest.fixture
def dynamodb(aws_stack: dict[str, str]) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def load_function(folder: str, module: str = "app") -> ModuleType:
    """A function's handler module (``app.py`` unless named), imported under a name of its own."""
    name = f"{folder}_{module}_handler"
    path = ROOT / "functions" / folder / f"{module}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    handler = importlib.util.module_from_spec(spec)
    sys.modules[name] = handler
    spec.loader.exec_module(handler)
    return handler


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


def register_people(identity: Invoke, *names: str) -> dict[str, str]:
    """Registers each name as <name>@example.com (with the welcome credit): name -> user id."""
    ids = {}
    for name in names:
        response = identity(
            http_event("POST", "/api/users/register/", body=registration(f"{name}@example.com", full_name=name.title()))
        )
        ids[name] = body(response)["id"]
    return ids


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


__all__ = ["Invoke", "Path", "body", "invoker", "register_people", "scan_all", "table_snapshot"]
