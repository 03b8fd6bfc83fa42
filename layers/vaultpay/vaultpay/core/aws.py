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
# No client-side parameter validation: it walked every request against the service model and was
# about a sixth of the wallet function's CPU per transfer (docs/performance.md). The requests are
# built by typed code and checked by mypy against the boto3 stubs, and the service validates each
# request anyway (a ValidationException, never a half-applied write).
_CONFIG = Config(
    parameter_validation=False,
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
