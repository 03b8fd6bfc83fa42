"""AWS clients, created once per execution environment and reused across invocations.

Endpoints come from the standard variables (AWS_ENDPOINT_URL_DYNAMODB, ...), which is how
the local stack points the same code at DynamoDB Local and moto.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Standard retry mode retries throttling and transient errors with jittered backoff.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    max_pool_connections=32,
)


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def kms() -> KMSClient:
    return boto3.client("kms", config=_CONFIG)


@lru_cache(maxsize=1)
def secrets_manager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CONFIG)
