"""template.yaml, read the way SAM and CloudFormation read it, for the local stack.

The local stack is built from the template itself (tables, keys, secrets, queues, each
function's environment, the HTTP API's routes and authorizer, the stream subscription), so
that what runs locally is what deploys. Parsing (local.cfn_yaml) understands the short forms
(!Ref, !GetAtt, !Sub, ...) and gives what cfn-lint's decoder gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
NO_VALUE = object()


class TemplateError(RuntimeError):
    pass


@dataclass(frozen=True)
class Route:
    method: str  # "GET", "POST", ... or "ANY"
    path: str  # "/api/wallet/transactions/{reference_id}/" or "$default"
    function: str  # logical id
    authorizer: str | None  # logical id of the authorizer's function, None when public

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: Mapping[str, Any]
    layers: tuple[Any, ...]


@dataclass(frozen=True)
class StreamSubscription:
    function: str
    table: str  # logical id of the table whose stream feeds the function
    batch_size: int
    batching_window_seconds: int
    maximum_retry_attempts: int
    maximum_record_age_seconds: int
    bisect_on_error: bool
    report_batch_item_failures: bool
    on_failure_destination: str | None  # logical id (SQS queue)
    starting_position: str


@dataclass
class Intrinsics:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::If and conditions."""

    parameters: Mapping[str, str]
    pseudo: Mapping[str, Any]
    refs: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[tuple[str, str], str] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((name, argument),) = value.items()
                function = _INTRINSICS.get(name)
                if function is not None:
                    return function(self, argument)
            resolved = {key: self.resolve(inner) for key, inner in value.items()}
            return {key: inner for key, inner in resolved.items() if inner is not NO_VALUE}
        if isinstance(value, list):
            return [inner for inner in (self.resolve(item) for item in value) if inner is not NO_VALUE]
        return value

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"cannot resolve Ref {name}")

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved_variables = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in resolved_variables:
                return str(resolved_variables[name])
            if "." in name:
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _join(self, argument: Any) -> str:
        delimiter, values = argument
        return str(delimiter).join(str(self.resolve(value)) for value in self.resolve(values))

    def _select(self, argument: Any) -> Any:
        index, values = argument
        return self.resolve(values)[int(self.resolve(index))]

    def _if(self, argument: Any) -> Any:
        condition, when_true, when_false = argument
        return self.resolve(when_true if self.condition(condition) else when_false)

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.conditions[name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, Mapping) and len(expression) == 1:
            ((name, argument),) = expression.items()
            if name == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            if name == "Fn::Not":
                return not self._evaluate(argument[0])
            if name == "Fn::And":
                return all(self._evaluate(item) for item in argument)
            if name == "Fn::Or":
                return any(self._evaluate(item) for item in argument)
            if name == "Condition":
                return self.condition(argument)
        return self.resolve(expression)


_INTRINSICS = {
    "Ref": lambda self, argument: self._ref(argument),
    "Fn::GetAtt": lambda self, argument: self._get_att(argument),
    "Fn::Sub": lambda self, argument: self._sub(argument),
    "Fn::Join": lambda self, argument: self._join(argument),
    "Fn::Select": lambda self, argument: self._select(argument),
    "Fn::If": lambda self, argument: self._if(argument),
}


class SamTemplate:
    def __init__(self, body: Mapping[str, Any], path: Path = TEMPLATE_PATH) -> None:
        self.body = body
        self.path = path

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> SamTemplate:
        try:
            return cls(cfn_yaml.load(path), path)
        except (OSError, cfn_yaml.CfnYamlError) as error:
            raise TemplateError(f"{path}: {error}") from error

    @property
    def resources(self) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = self.body.get("Resources", {})
        return resources

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type
        }

    def parameters(self, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
        values = {name: str(spec.get("Default", "")) for name, spec in self.body.get("Parameters", {}).items()}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise TemplateError(f"unknown parameter {name}")
            values[name] = str(value)
        return values

    def intrinsics(
        self,
        *,
        stack_name: str,
        region: str,
        parameter_overrides: Mapping[str, Any] | None = None,
        refs: Mapping[str, str] | None = None,
        attributes: Mapping[tuple[str, str], str] | None = None,
    ) -> Intrinsics:
        return Intrinsics(
            parameters=self.parameters(parameter_overrides),
            pseudo={
                "AWS::Region": region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::StackName": stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": NO_VALUE,
            },
            refs=refs or {},
            attributes=attributes or {},
            conditions=self.body.get("Conditions", {}),
        )

    # ------------------------------------------------------------ functions
    def _function_globals(self) -> Mapping[str, Any]:
        defaults: Mapping[str, Any] = self.body.get("Globals", {}).get("Function", {})
        return defaults

    def functions(self) -> dict[str, FunctionSpec]:
        defaults = self._function_globals()
        specs = {}
        for logical_id, properties in self.of_type("AWS::Serverless::Function").items():
            merged = {**defaults, **properties}
            environment = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **properties.get("Environment", {}).get("Variables", {}),
            }
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=(self.path.parent / merged["CodeUri"]).resolve(),
                handler=merged["Handler"],
                runtime=merged["Runtime"],
                timeout=int(merged.get("Timeout", 3)),
                memory_size=int(merged.get("MemorySize", 128)),
                environment=environment,
                layers=tuple(merged.get("Layers", ())),
            )
        return specs

    def function_for_folder(self, folder: str) -> str:
        """The logical id of the function whose CodeUri is ``functions/<folder>/``."""
        for logical_id, spec in self.functions().items():
            if spec.code_uri.name == folder:
                return logical_id
        raise TemplateError(f"no function with code in functions/{folder}/")

    def layer_paths(self) -> list[Path]:
        return [
            (self.path.parent / properties["ContentUri"]).resolve()
            for properties in self.of_type("AWS::Serverless::LayerVersion").values()
        ]

    # ------------------------------------------------------------ HTTP API
    def _http_api(self) -> tuple[str, Mapping[str, Any]]:
        apis = self.of_type("AWS::Serverless::HttpApi")
        if len(apis) != 1:
            raise TemplateError("the local gateway serves exactly one AWS::Serverless::HttpApi")
        return next(iter(apis.items()))

    def default_authorizer(self) -> str | None:
        """The logical id of the default Lambda authorizer's function."""
        _, api = self._http_api()
        auth = api.get("Auth", {})
        name = auth.get("DefaultAuthorizer")
        if not name:
            return None
        return _logical_id_of_get_att(auth["Authorizers"][name]["FunctionArn"])

    def authorizer_identity_headers(self) -> list[str]:
        _, api = self._http_api()
        auth = api.get("Auth", {})
        name = auth.get("DefaultAuthorizer")
        if not name:
            return []
        return [header.lower() for header in auth["Authorizers"][name].get("Identity", {}).get("Headers", [])]

    def routes(self) -> list[Route]:
        default_authorizer = self.default_authorizer()
        routes = []
        for logical_id, properties in self.of_type("AWS::Serverless::Function").items():
            for event in properties.get("Events", {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                event_properties = event.get("Properties", {})
                authorizer_name = event_properties.get("Auth", {}).get("Authorizer")
                authorizer = None if authorizer_name == "NONE" else default_authorizer
                path = event_properties.get("Path")
                method = str(event_properties.get("Method", "ANY")).upper()
                routes.append(Route(method=method, path=path or "$default", function=logical_id, authorizer=authorizer))
        return routes

    # ------------------------------------------------------------ streams
    def stream_subscriptions(self) -> list[StreamSubscription]:
        subscriptions = []
        for logical_id, properties in self.of_type("AWS::Serverless::Function").items():
            for event in properties.get("Events", {}).values():
                if event.get("Type") != "DynamoDB":
                    continue
                event_properties = event["Properties"]
                stream = event_properties["Stream"]["Fn::GetAtt"]
                table = stream[0] if isinstance(stream, list) else stream.split(".")[0]
                on_failure = event_properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                subscriptions.append(
                    StreamSubscription(
                        function=logical_id,
                        table=table,
                        batch_size=int(event_properties.get("BatchSize", 100)),
                        batching_window_seconds=int(event_properties.get("MaximumBatchingWindowInSeconds", 0)),
                        maximum_retry_attempts=int(event_properties.get("MaximumRetryAttempts", -1)),
                        maximum_record_age_seconds=int(event_properties.get("MaximumRecordAgeInSeconds", -1)),
                        bisect_on_error=bool(event_properties.get("BisectBatchOnFunctionError", False)),
                        report_batch_item_failures="ReportBatchItemFailures" in event_properties.get("FunctionResponseTypes", []),
                        on_failure_destination=_logical_id_of_get_att(on_failure) if on_failure else None,
                        starting_position=str(event_properties.get("StartingPosition", "LATEST")),
                    )
                )
        return subscriptions


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str  # rate(1 hour), rate(5 minutes)

    @property
    def period_seconds(self) -> int:
        match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", self.expression.strip())
        if match is None:
            raise TemplateError(f"{self.function}.{self.name}: only rate() schedules run locally, not {self.expression}")
        unit = match.group(2).rstrip("s")
        return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


def schedules(template: SamTemplate) -> list[Schedule]:
    """The functions' Schedule and ScheduleV2 events (EventBridge rules and Scheduler schedules)."""
    found = []
    for logical_id, properties in template.of_type("AWS::Serverless::Function").items():
        for name, event in properties.get("Events", {}).items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                expression = event["Properties"].get("ScheduleExpression") or event["Properties"]["Schedule"]
                found.append(Schedule(function=logical_id, name=name, expression=str(expression)))
    return found


def _logical_id_of_get_att(value: Mapping[str, Any]) -> str:
    target = value["Fn::GetAtt"]
    return str(target[0] if isinstance(target, list) else target.split(".")[0])
