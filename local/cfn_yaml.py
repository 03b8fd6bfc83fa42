"""CloudFormation YAML, read as CloudFormation reads it: the short forms (!Ref, !GetAtt, !Sub, ...)
become their long forms ({"Ref": ...}, {"Fn::GetAtt": [...]}, {"Fn::Sub": ...}), and a key given
twice in one mapping is an error.

The same data cfn-lint's decoder gives (tests/tooling/test_template.py compares the two), without
importing cfn-lint: its import (sympy, networkx) costs about five seconds of CPU, which every
process of the local stack, its tools and the test runs paid just to read template.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML has it (it does on every platform with a wheel): ten times faster.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_UNPREFIXED = {"Ref", "Condition"}


class CfnYamlError(ValueError):
    """The file is not a CloudFormation template YAML can read."""


class _CfnLoader(_BaseLoader):  # type: ignore[misc,valid-type]  # PyYAML has no types
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key is None:
            raise CfnYamlError(f"null key {key_node.value!r} (line {key_node.start_mark.line + 1})")
        if key in mapping:
            raise CfnYamlError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in _UNPREFIXED else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = _mapping(loader, node)
    else:  # pragma: no cover - PyYAML has no other kind of node
        raise CfnYamlError(f"bad tag !{suffix}")
    return {name: value}


_CfnLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
_CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict[str, Any]:
    """The template at ``path`` as plain dicts, lists and scalars."""
    try:
        with path.open(encoding="utf-8") as stream:
            body = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader with CloudFormation's tags
    except yaml.YAMLError as error:
        raise CfnYamlError(f"{path}: {error}") from error
    if not isinstance(body, dict):
        raise CfnYamlError(f"{path}: not a mapping at the top")
    return body
