"""Create the template's stateful resources on the local services, and resolve each function's environment.

Tables (with their keys, indexes, stream and TTL), KMS keys (with their key spec and usage: the
Aadhaar index key is an HMAC key) and aliases, secrets (generated
once and kept under .local/ so a restart finds the same values) and SQS queues. Idempotent:
what already exists is found, not created again. Works against DynamoDB Local and moto's
server, and against moto in-process for the unit tests.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.template import ACCOUNT_ID, Intrinsics, SamTemplate

LOCAL_PARAMETERS = {"Stage": "local", "WelcomeCreditPaise": "1000000", "DashboardOrigin": "http://127.0.0.1:3000"}
"""Parameter overrides of the local stack (Rs 10,000.00 welcome credit)."""


@dataclass
class Clients:
    dynamodb: Any
    kms: Any
    secretsmanager: Any
    sqs: Any


@dataclass
class Provisioned:
    """Physical ids (what Ref returns) and attributes (what GetAtt returns) by logical id."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)


def _table_arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"


def _create_table(client: Any, name: str, properties: Mapping[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": list(properties["AttributeDefinitions"]),
        "KeySchema": list(properties["KeySchema"]),
    }
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": index["IndexName"], "KeySchema": list(index["KeySchema"]), "Projection": dict(index["Projection"])}
            for index in properties["GlobalSecondaryIndexes"]
        ]
    if properties.get("StreamSpecification"):
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": properties["StreamSpecification"]["StreamViewType"],
        }
    try:
        client.create_table(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        _add_missing_indexes(client, name, request)
        return
    for _ in range(100):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def _add_missing_indexes(client: Any, name: str, request: Mapping[str, Any]) -> None:
    """A table kept from an older template (a state folder) gets the indexes added since, one per
    UpdateTable as CloudFormation adds them."""
    existing = {index["IndexName"] for index in client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])}
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in existing:
            continue
        client.update_table(
            TableName=name,
            AttributeDefinitions=request["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        for _ in range(200):
            indexes = client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
            if any(found["IndexName"] == index["IndexName"] and found.get("IndexStatus") == "ACTIVE" for found in indexes):
                break
            time.sleep(0.05)


def _find_alias_target(client: Any, alias: str) -> str | None:
    for page in client.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return str(entry["TargetKeyId"])
    return None


def _secret_value(state: dict[str, str], logical_id: str, properties: Mapping[str, Any]) -> str:
    if logical_id not in state:
        spec = properties.get("GenerateSecretString", {})
        alphabet = string.ascii_letters + string.digits
        if not spec.get("ExcludePunctuation"):
            alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
        state[logical_id] = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    return state[logical_id]


def table_names(template: SamTemplate, *, stack_name: str) -> dict[str, str]:
    """Physical table names by logical id."""
    return {logical_id: f"{stack_name}-{logical_id}" for logical_id in template.of_type("AWS::DynamoDB::Table")}


def provision_tables(template: SamTemplate, dynamodb: Any, *, stack_name: str, region: str) -> Provisioned:
    """The template's tables alone (those that exist are left as they are)."""
    result = Provisioned()
    tables = template.of_type("AWS::DynamoDB::Table")
    for logical_id, name in table_names(template, stack_name=stack_name).items():
        _create_table(dynamodb, name, tables[logical_id])
        result.refs[logical_id] = name
        result.attributes[(logical_id, "Arn")] = _table_arn(region, name)
        description = dynamodb.describe_table(TableName=name)["Table"]
        if description.get("LatestStreamArn"):
            result.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]
    return result


def provision(
    template: SamTemplate,
    clients: Clients,
    *,
    stack_name: str,
    region: str,
    parameter_overrides: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
) -> Provisioned:
    result = provision_tables(template, clients.dynamodb, stack_name=stack_name, region=region)
    early = template.intrinsics(stack_name=stack_name, region=region, parameter_overrides=parameter_overrides)

    aliases = {
        str(early.resolve(alias["AliasName"])): alias["TargetKeyId"]["Ref"]
        for alias in template.of_type("AWS::KMS::Alias").values()
    }
    for logical_id, properties in template.of_type("AWS::KMS::Key").items():
        alias = next((name for name, target in aliases.items() if target == logical_id), f"alias/{stack_name}/{logical_id}")
        key_id = _find_alias_target(clients.kms, alias)
        if key_id is None:
            key_id = clients.kms.create_key(
                Description=str(early.resolve(properties.get("Description", logical_id))),
                KeySpec=str(properties.get("KeySpec", "SYMMETRIC_DEFAULT")),
                KeyUsage=str(properties.get("KeyUsage", "ENCRYPT_DECRYPT")),
            )["KeyMetadata"]["KeyId"]
            clients.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            if properties.get("EnableKeyRotation"):
                clients.kms.enable_key_rotation(KeyId=key_id)
        arn = clients.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        result.refs[logical_id] = key_id
        result.attributes[(logical_id, "Arn")] = arn
        result.attributes[(logical_id, "KeyId")] = key_id

    stored: dict[str, str] = json.loads(secrets_file.read_text()) if secrets_file and secrets_file.exists() else {}
    for logical_id, properties in template.of_type("AWS::SecretsManager::Secret").items():
        name = f"{stack_name}/{logical_id}"
        value = _secret_value(stored, logical_id, properties)
        try:
            arn = clients.secretsmanager.describe_secret(SecretId=name)["ARN"]
            clients.secretsmanager.put_secret_value(SecretId=name, SecretString=value)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            arn = clients.secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        result.refs[logical_id] = arn
        result.attributes[(logical_id, "Id")] = arn
    if secrets_file is not None:
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        secrets_file.write_text(json.dumps(stored))
        secrets_file.chmod(0o600)

    for logical_id in template.of_type("AWS::SQS::Queue"):
        name = f"{stack_name}-{logical_id}"
        url = clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        result.refs[logical_id] = url
        result.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"
        result.attributes[(logical_id, "QueueName")] = name
        result.attributes[(logical_id, "QueueUrl")] = url

    return result


def intrinsics_for(
    template: SamTemplate,
    provisioned: Provisioned,
    *,
    stack_name: str,
    region: str,
    parameter_overrides: Mapping[str, str] | None = None,
) -> Intrinsics:
    return template.intrinsics(
        stack_name=stack_name,
        region=region,
        parameter_overrides=parameter_overrides,
        refs=provisioned.refs,
        attributes=provisioned.attributes,
    )


def function_environment(template: SamTemplate, logical_id: str, intrinsics: Intrinsics) -> dict[str, str]:
    """The function's Environment.Variables (Globals merged), resolved as CloudFormation would."""
    spec = template.functions()[logical_id]
    return {name: str(value) for name, value in intrinsics.resolve(dict(spec.environment)).items()}
