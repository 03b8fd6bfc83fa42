"""The vault function's composition root: the reveal and step-up services with their adapters, once per execution environment."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import get_vault_settings
from vaultpay.identity.dynamo import DynamoProfileReader
from vaultpay.identity.shared_composition import login_guard
from vaultpay.vault.dynamo import DynamoRevealLog, DynamoStepUpStore, DynamoVaultStore
from vaultpay.vault.kms import KmsDataKeys
from vaultpay.vault.logic import StepUpService, VaultService


@lru_cache(maxsize=1)
def vault_service() -> VaultService:
    settings = get_vault_settings()
    client = aws.dynamodb()
    return VaultService(
        profiles=DynamoProfileReader(client, settings.main_table_name),
        reveals=DynamoRevealLog(client, settings.main_table_name),
        sealed=DynamoVaultStore(client, settings.vault_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=login_guard(settings, settings.main_table_name),
        clock=utc_now,
        reveal_event_ttl_seconds=settings.reveal_event_ttl_seconds,
        step_ups=DynamoStepUpStore(client, settings.main_table_name),
    )


@lru_cache(maxsize=1)
def step_up_service() -> StepUpService:
    settings = get_vault_settings()
    return StepUpService(
        profiles=DynamoProfileReader(aws.dynamodb(), settings.main_table_name),
        store=DynamoStepUpStore(aws.dynamodb(), settings.main_table_name),
        totp_keys=KmsDataKeys(aws.kms(), settings.totp_key_arn),
        login_guard=login_guard(settings, settings.main_table_name),
        clock=utc_now,
        grant_ttl_seconds=settings.step_up_grant_ttl_seconds,
        totp_issuer=settings.totp_issuer,
    )
