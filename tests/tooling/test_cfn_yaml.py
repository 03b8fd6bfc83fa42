"""local.cfn_yaml reads the templates exactly as cfn-lint's decoder does, without importing cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from local import cfn_yaml
from local.template import ROOT


def plain(value: Any) -> Any:
    """cfn-lint's nodes are dict, list and str subclasses carrying line marks: their plain values."""
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def typed(value: Any) -> str:
    """A rendering that tells 1 from True from "1" (== would not)."""
    return json.dumps(value, sort_keys=True, default=lambda other: f"{type(other).__name__}:{other!r}")


@pytest.mark.parametrize("template", ["template.yaml", "edge/template.yaml"])
def test_the_templates_read_the_same_as_with_cfn_lint(template: str) -> None:
    # Given what cfn-lint's decoder makes of the template
    expected, matches = decode(str(ROOT / template))
    assert matches == []
    # Then local.cfn_yaml makes the same of it, value for value and type for type
    assert typed(cfn_yaml.load(ROOT / template)) == typed(plain(expected))


def test_short_forms_become_long_forms(tmp_path: Path) -> None:
    # Given every kind of short form: scalar, sequence and mapping arguments, GetAtt's dotted string
    path = tmp_path / "template.yaml"
    path.write_text(
        "Conditions:\n"
        "  IsProd: !Equals [!Ref Stage, prod]\n"
        "Resources:\n"
        "  Thing:\n"
        "    Condition: IsProd\n"
        "    Properties:\n"
        "      Arn: !GetAtt Table.StreamArn\n"
        "      Listed: !GetAtt [Table, Arn]\n"
        "      Name: !Sub '${AWS::StackName}-thing'\n"
        "      Mapped: !Sub\n"
        "        - '${Name}-x'\n"
        "        - Name: !Ref Stage\n"
        "      Either: !If [IsProd, !Condition IsProd, !Ref AWS::NoValue]\n"
        "      Date: 2010-09-09\n"
        "      Number: 30\n",
        encoding="utf-8",
    )
    # When it is read
    body = cfn_yaml.load(path)
    # Then each is its long form, as CloudFormation reads it, and scalars keep their YAML types
    assert body["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    properties = body["Resources"]["Thing"]["Properties"]
    assert properties["Arn"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert properties["Listed"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert properties["Name"] == {"Fn::Sub": "${AWS::StackName}-thing"}
    assert properties["Mapped"] == {"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]}
    assert properties["Either"] == {"Fn::If": ["IsProd", {"Condition": "IsProd"}, {"Ref": "AWS::NoValue"}]}
    assert typed(properties["Date"]) == typed(plain(decode(str(path))[0])["Resources"]["Thing"]["Properties"]["Date"])
    assert properties["Number"] == 30


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    # Given a mapping with a key twice (YAML alone would keep the last one silently)
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  A: {Type: x}\n  A: {Type: y}\n", encoding="utf-8")
    # Then reading it fails, naming the key and the line, as cfn-lint refuses it too
    with pytest.raises(cfn_yaml.CfnYamlError, match=r"duplicate key 'A' \(line 3\)"):
        cfn_yaml.load(path)
    assert decode(str(path))[1] != []


def test_reading_the_template_does_not_import_cfn_lint() -> None:
    # Given a fresh interpreter that loads the template as the local stack does
    script = "import sys; from local.template import SamTemplate; SamTemplate.load(); print('cfnlint' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    # Then cfn-lint (seconds of imports: sympy, networkx) was never loaded
    assert completed.stdout.strip() == "False"
