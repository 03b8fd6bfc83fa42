"""Composition root: each function's service built from its settings, once per execution environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from vaultpay.dal import aws
from vaultpay.dal.audit import DynamoAuditStore
from vaultpay.dal.lockout import DynamoLoginFailureRepository
from vaultpay.dal.secrets import secret_value
from vaultpay.dal.tokens import DynamoTokenRepository
from vaultpay.dal.users import DynamoUserRepository
from vaultpay.dal.vault import DynamoVaultStore, KmsDataKeys
from vaultpay.dal.wallet import DynamoWalletRepository
from vaultpay.logic.audit import AuditService
from vaultpay.logic.identity import IdentityService
from vaultpay.logic.lockout import LockoutPolicy, LoginGuard
from vaultpay.logic.tokens import AccessTokenCodec
from vaultpay.logic.vault import VaultService
from vaultpay.logic.wallet import TransferCommand, WalletService
from vaultpay.settings import (
    JwtSettings,
    LockoutSettings,
    get_audit_settings,
    get_identity_settings,
    get_jwt_settings,
    get_vault_settings,
    get_wallet_settings,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord


def utc_now() -> datetime:
    return datetime.now(UTC)


def _access_tokens(settings: JwtSettings) -> AccessTokenCodec:
    return AccessTokenCodec(
        signing_key=partial(secret_value, settings.jwt_secret_arn, settings.secret_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )


def _login_guard(settings: LockoutSettings, main_table: str) -> LoginGuard:
    return LoginGuard(
        store=DynamoLoginFailureRepository(aws.dynamodb(), main_table),
        policy=LockoutPolicy(
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_failure_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
        ),
        clock=utc_now,
    )


@lru_cache(maxsize=1)
def access_token_verifier() -> AccessTokenCodec:
    return _access_tokens(get_jwt_settings())


@lru_cache(maxsize=1)
def identity_service() -> IdentityService:
    settings = get_identity_settings()
    client = aws.dynamodb()
    return IdentityService(
        users=DynamoUserRepository(client, settings.main_table_name, settings.vault_table_name),
        tokens=DynamoTokenRepository(client, settings.main_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=_login_guard(settings, settings.main_table_name),
        access_tokens=_access_tokens(settings),
        blind_index_key=partial(secret_value, settings.blind_index_secret_arn, settings.secret_cache_seconds),
        welcome_credit_paise=settings.welcome_credit_paise,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        clock=utc_now,
    )


@lru_cache(maxsize=1)
def vault_service() -> VaultService:
    settings = get_vault_settings()
    client = aws.dynamodb()
    return VaultService(
        profiles=DynamoUserRepository(client, settings.main_table_name),
        sealed=DynamoVaultStore(client, settings.vault_table_name),
        data_keys=KmsDataKeys(aws.kms(), settings.vault_key_arn),
        login_guard=_login_guard(settings, settings.main_table_name),
        clock=utc_now,
        reveal_event_ttl_seconds=settings.reveal_event_ttl_seconds,
    )


@lru_cache(maxsize=1)
def wallet_service() -> WalletService:
    settings = get_wallet_settings()
    return WalletService(
        store=DynamoWalletRepository(
            aws.dynamodb(), settings.main_table_name, conflict_retries=settings.transaction_conflict_retries
        ),
        max_transfer_paise=settings.max_transfer_paise,
        clock=utc_now,
    )


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


@lru_cache(maxsize=1)
def idempotent_transfer() -> IdempotentTransfer:
    """The transfer wrapped in Powertools idempotency, keyed on (user, Idempotency-Key).

    Replays return the stored outcome marked ``replayed``; the same key with another payload
    raises IdempotencyValidationError; a key still in flight, IdempotencyAlreadyInProgressError.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    settings = get_wallet_settings()
    config = IdempotencyConfig(
        event_key_jmespath="[user_id, idempotency_key]",
        payload_validation_jmespath="transfer",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_expiry_seconds,
        hash_function="sha256",
        response_hook=_mark_replayed,
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=aws.dynamodb())
    service = wallet_service()

    @idempotent_function(data_keyword_argument="command", persistence_store=persistence, config=config, key_prefix="transfer")
    def run(command: TransferCommand) -> dict[str, Any]:
        return service.transfer(command.user_id, command.idempotency_key, command.transfer).model_dump(mode="json")

    return IdempotentTransfer(run=run, config=config)


@dataclass(frozen=True)
class IdempotentTransfer:
    run: Callable[..., dict[str, Any]]
    config: IdempotencyConfig


@lru_cache(maxsize=1)
def audit_service() -> AuditService:
    settings = get_audit_settings()
    client = aws.dynamodb()
    return AuditService(
        store=DynamoAuditStore(client, settings.audit_table_name),
        transactions=DynamoWalletRepository(client, settings.main_table_name),
        clock=utc_now,
    )
