"""The identity function's composition."""

from __future__ import annotations

from functools import lru_cache, partial

from vaultpay.clock import utc_now
from vaultpay.dal import aws
from vaultpay.dal.secrets import secret_value
from vaultpay.dal.tokens import DynamoTokenRepository
from vaultpay.dal.users import DynamoUserRepository
from vaultpay.dal.vault import KmsDataKeys
from vaultpay.logic.identity import IdentityService
from vaultpay.services.common import access_tokens, login_guard
from vaultpay.settings import get_identity_settings


@lru_cache(maxsize=1)
def identity_service() -> IdentityService:
    settings = get_identity_settings()
    client = aws.dynamodb()
    return IdentityService(
        users=DynamoUserRepository(client, settings.main_table_name, settings.vault_table_name),
        tokens=DynamoTokenRepository(client, settings.main_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=login_guard(settings, settings.main_table_name),
        access_tokens=access_tokens(settings),
        blind_index_key=partial(secret_value, settings.blind_index_secret_arn, settings.secret_cache_seconds),
        welcome_credit_paise=settings.welcome_credit_paise,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        clock=utc_now,
    )
