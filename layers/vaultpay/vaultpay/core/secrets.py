"""Secrets from Secrets Manager, cached in the execution environment by Powertools Parameters."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from vaultpay.core import aws


@lru_cache(maxsize=1)
def _provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=aws.secrets_manager())


def secret_value(secret_arn: str, max_age_seconds: int) -> str:
    value = _provider().get(secret_arn, max_age=max_age_seconds)
    if not isinstance(value, str) or not value:
        raise RuntimeError("secret is empty or not a string")
    return value
