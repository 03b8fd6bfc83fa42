"""The edge's per-client limits, for the local gateway: the rate-based rules of edge/template.yaml.

In a deployment, AWS WAF (CLOUDFRONT scope, in front of the distribution that serves the API)
counts requests per viewer address over each rule's evaluation window and blocks with the rule's
custom 429 response. Locally the gateway reads the same rules from the same template and applies
them per peer address with fixed windows: exactly ``Limit`` requests admitted per window, then 429
problem+json with ``Retry-After`` (the seconds to the window's end). WAF's own counting is a sliding
estimate "near the limit"; the numbers are the same.

Only what the template uses is understood: ``AggregateKeyType: IP`` and a scope-down
``ByteMatchStatement`` on ``UriPath`` (STARTS_WITH or EXACTLY) with URL_DECODE, NORMALIZE_PATH and
LOWERCASE transformations. Anything else is an error, so the local limits can never silently
differ from the deployed ones.
"""

from __future__ import annotations

import ipaddress
import math
import posixpath
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from local import cfn_yaml
from local.template import ROOT, TemplateError

EDGE_TEMPLATE_PATH = ROOT / "edge" / "template.yaml"
_TRANSFORMATIONS: dict[str, Callable[[str], str]] = {
    "NONE": lambda path: path,
    "URL_DECODE": unquote,
    "LOWERCASE": str.lower,
    "NORMALIZE_PATH": lambda path: posixpath.normpath(path) + ("/" if path.endswith("/") and path != "/" else ""),
}


@dataclass(frozen=True)
class RateRule:
    name: str
    limit: int
    window_seconds: int
    path: str
    positional_constraint: str  # STARTS_WITH or EXACTLY
    transformations: tuple[str, ...]

    def matches(self, raw_path: str) -> bool:
        path = raw_path
        for name in self.transformations:
            path = _TRANSFORMATIONS[name](path)
        if self.positional_constraint == "EXACTLY":
            return path == self.path
        return path.startswith(self.path)


def _rate_rule(rule: Mapping[str, Any]) -> RateRule | None:
    statement = rule.get("Statement", {}).get("RateBasedStatement")
    if statement is None:
        return None
    name = str(rule["Name"])
    if statement.get("AggregateKeyType") != "IP":
        raise TemplateError(f"{name}: the local gateway aggregates by IP only")
    match = statement.get("ScopeDownStatement", {}).get("ByteMatchStatement")
    if match is None or "UriPath" not in match.get("FieldToMatch", {}):
        raise TemplateError(f"{name}: the local gateway understands a UriPath ByteMatchStatement scope-down only")
    constraint = str(match["PositionalConstraint"])
    transformations = tuple(
        str(item["Type"]) for item in sorted(match.get("TextTransformations", []), key=lambda item: int(item["Priority"]))
    )
    if constraint not in ("STARTS_WITH", "EXACTLY") or not set(transformations) <= set(_TRANSFORMATIONS):
        raise TemplateError(f"{name}: {constraint} with {transformations} is not understood by the local gateway")
    return RateRule(
        name=name,
        limit=int(statement["Limit"]),
        window_seconds=int(statement.get("EvaluationWindowSec", 300)),
        path=str(match["SearchString"]),
        positional_constraint=constraint,
        transformations=transformations,
    )


def load_rate_rules(path: Path = EDGE_TEMPLATE_PATH) -> list[RateRule]:
    """The web ACL's rate-based rules, in priority order."""
    try:
        template = cfn_yaml.load(path)
    except (OSError, cfn_yaml.CfnYamlError) as error:
        raise TemplateError(f"cannot read {path}: {error}") from error
    acls = [resource for resource in template["Resources"].values() if resource["Type"] == "AWS::WAFv2::WebACL"]
    if len(acls) != 1:
        raise TemplateError(f"{path} should hold one web ACL, not {len(acls)}")
    ordered = sorted(acls[0]["Properties"].get("Rules", []), key=lambda rule: int(rule["Priority"]))
    return [rate for rate in map(_rate_rule, ordered) if rate is not None]


@dataclass
class ClientLimiter:
    """Fixed-window counters per (rule, client address); ``trusted`` networks are never limited."""

    rules: list[RateRule]
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    clock: Callable[[], float] = time.time
    _counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_template(cls, trusted: Iterable[str] = (), path: Path = EDGE_TEMPLATE_PATH) -> ClientLimiter:
        return cls(load_rate_rules(path), tuple(ipaddress.ip_network(network, strict=False) for network in trusted))

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.trusted)

    def admit(self, address: str, raw_path: str) -> tuple[str, int] | None:
        """None if the request may pass (and is counted by every rule it matches); otherwise the
        refusing rule's name and the seconds until its window ends."""
        if self._is_trusted(address):
            return None
        now = self.clock()
        matching = [rule for rule in self.rules if rule.matches(raw_path)]
        with self._lock:
            keys = []
            for rule in matching:
                window_start = int(now // rule.window_seconds) * rule.window_seconds
                key = (rule.name, address, window_start)
                if self._counts.get(key, 0) >= rule.limit:
                    return rule.name, max(1, math.ceil(window_start + rule.window_seconds - now))
                keys.append(key)
            for key in keys:
                self._counts[key] = self._counts.get(key, 0) + 1
            if len(self._counts) > 100_000:  # forget windows that have ended
                floor = now - max(rule.window_seconds for rule in self.rules)
                self._counts = {key: count for key, count in self._counts.items() if key[2] >= floor}
        return None
