"""Local equals deployed: the template, the handlers and the local stack agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.template import ROOT, SamTemplate
from tests.handlers.conftest import load_function
from vaultpay.core.settings import SETTINGS_BY_FUNCTION

TEMPLATE = SamTemplate.load()
FUNCTIONS = TEMPLATE.functions()


def handler_module(code_dir: Path, module: str = "app") -> object:
    return load_function(code_dir.name, module)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_in_the_template_has_its_handler(logical_id: str) -> None:
    # Given a function of the template
    spec = FUNCTIONS[logical_id]
    module_name, _, function_name = spec.handler.rpartition(".")
    # Then its code folder holds the handler module, which defines the handler
    assert (spec.code_uri / f"{module_name}.py").is_file()
    assert callable(getattr(handler_module(spec.code_uri, module_name), function_name))
    assert (spec.code_uri / "Makefile").is_file(), "sam build (BuildMethod: makefile) needs it"


def test_every_function_folder_is_in_the_template() -> None:
    folders = {path.parent.name for path in (ROOT / "functions").glob("*/app.py")}
    assert folders == {spec.code_uri.name for spec in FUNCTIONS.values()}


def _resolver_routes(folder: str) -> set[tuple[str, str]]:
    module = handler_module(ROOT / "functions" / folder)
    app = module.app  # type: ignore[attr-defined]
    routes = set()
    for route in app._static_routes + app._dynamic_routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        routes.add((route.method, path.rstrip("/")))
    return routes


@pytest.mark.parametrize("folder", ["health", "identity", "vault", "wallet", "lending"])
def test_every_route_a_handler_serves_is_in_the_template_with_and_without_slash(folder: str) -> None:
    # Given the routes a handler's resolver knows (openapi.json is served through the template too)
    logical_id = TEMPLATE.function_for_folder(folder)
    template_routes = {(route.method, route.path) for route in TEMPLATE.routes() if route.function == logical_id}
    for method, path in _resolver_routes(folder):
        # Then the template routes both spellings of it to that function
        assert (method, path) in template_routes
        if path not in ("/api/health", "/api/openapi.json"):
            assert (method, path + "/") in template_routes


def test_every_template_route_reaches_a_function_that_serves_it() -> None:
    for route in TEMPLATE.routes():
        if route.path == "$default":
            continue
        folder = FUNCTIONS[route.function].code_uri.name
        assert (route.method, route.path.rstrip("/")) in _resolver_routes(folder), route.route_key


@pytest.mark.parametrize("folder", sorted(SETTINGS_BY_FUNCTION))
def test_every_variable_a_function_reads_is_set_by_the_template(folder: str) -> None:
    # Given the settings model the function reads its environment through
    model = SETTINGS_BY_FUNCTION[folder]
    required = {name.upper() for name, field in model.model_fields.items() if field.is_required()}
    # Then the template sets every variable it requires (with Globals merged), and nothing unknown
    environment = set(FUNCTIONS[TEMPLATE.function_for_folder(folder)].environment)
    assert required <= environment
    known = {name.upper() for name in model.model_fields} | {
        "STAGE",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "POWERTOOLS_LOGGER_LOG_EVENT",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    }
    assert environment <= known, environment - known


def test_every_function_names_its_powertools_service() -> None:
    for spec in FUNCTIONS.values():
        assert spec.environment["POWERTOOLS_SERVICE_NAME"] == spec.code_uri.name


def test_the_template_never_switches_fault_injection_on() -> None:
    assert "VAULTPAY_FAULT_PLAN" not in TEMPLATE.path.read_text()


def test_the_stream_consumer_reports_partial_failures_and_has_a_destination() -> None:
    (subscription,) = TEMPLATE.stream_subscriptions()
    assert subscription.report_batch_item_failures
    assert subscription.bisect_on_error
    assert subscription.maximum_retry_attempts >= 0
    assert subscription.maximum_record_age_seconds > 0
    assert subscription.on_failure_destination == "AuditDeadLetterQueue"
