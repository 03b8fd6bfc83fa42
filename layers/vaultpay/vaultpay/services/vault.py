"""The vault function's composition."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.clock import utc_now
from vaultpay.dal import aws
from vaultpay.dal.users import DynamoUserRepository
from vaultpay.dal.vault import DynamoVaultStore, KmsDataKeys
from vaultpay.logic.vault import VaultService
from vaultpay.services.common import login_guard
from vaultpay.settings import get_vault_settings


@lru_cache(maxsize=1)
def vault_service() -> VaultService:
    settings = get_vault_settings()
    client = aws.dynamodb()
    return VaultService(
        profiles=DynamoUserRepository(client, settings.main_table_name),
        sealed=DynamoVaultStore(client, settings.vault_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=login_guard(settings, settings.main_table_name),
        clock=utc_now,
        reveal_event_ttl_seconds=settings.reveal_event_ttl_seconds,
    )
