"""The identity function's composition."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import get_identity_settings
from vaultpay.identity.dynamo import DynamoUserRepository
from vaultpay.identity.dynamo_tokens import DynamoTokenRepository
from vaultpay.identity.kms import KmsTokenSigner
from vaultpay.identity.logic import IdentityService
from vaultpay.identity.shared_composition import login_guard
from vaultpay.identity.tokens import AccessTokenIssuer
from vaultpay.vault.kms import KmsDataKeys, KmsIndexMac


@lru_cache(maxsize=1)
def identity_service() -> IdentityService:
    settings = get_identity_settings()
    client = aws.dynamodb()
    return IdentityService(
        users=DynamoUserRepository(client, settings.main_table_name, settings.vault_table_name),
        tokens=DynamoTokenRepository(client, settings.main_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=login_guard(settings, settings.main_table_name),
        access_tokens=AccessTokenIssuer(
            signer=KmsTokenSigner(aws.kms(), settings.token_signing_key_id),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        index_mac=KmsIndexMac(aws.kms(), settings.aadhaar_index_key_arn),
        welcome_credit_paise=settings.welcome_credit_paise,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        session_lifetime_seconds=settings.session_lifetime_seconds,
        clock=utc_now,
        system_account_shards=settings.system_account_shards,
    )
