"""Environment of each function, read through pydantic settings models.

Nothing here reads the environment at import time: each handler calls its ``get_*`` function
on first use, and the result is cached for the life of the execution environment.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    stage: str = "dev"


class JwtSettings(_Settings):
    jwt_secret_arn: str
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # Secrets are cached in the container for this long (Powertools Parameters).
    secret_cache_seconds: int = Field(default=300, ge=0)


class LockoutSettings(_Settings):
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)


class IdentitySettings(JwtSettings, LockoutSettings):
    main_table_name: str
    vault_table_name: str
    vault_key_arn: str
    blind_index_secret_arn: str
    welcome_credit_paise: int = Field(default=0, ge=0)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)


class VaultSettings(LockoutSettings):
    main_table_name: str
    vault_table_name: str
    vault_key_arn: str
    # The reveal event only has to live until the stream has carried it to the audit table.
    reveal_event_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600)
    # Step-up: TOTP secrets are sealed under their own KMS key (purpose "totp"); a grant lives this long.
    totp_key_arn: str
    totp_issuer: str = "VaultPay"
    step_up_grant_ttl_seconds: int = Field(default=300, ge=30, le=900)


class WalletSettings(_Settings):
    main_table_name: str
    idempotency_table_name: str
    max_transfer_paise: int = Field(default=10_000_000, ge=1)
    # Sent per person per calendar day in IST (UPI's person-to-person limit: Rs 1,00,000).
    daily_limit_paise: int = Field(default=10_000_000, ge=1)
    # A transfer above this needs a step-up grant (Rs 10,000).
    step_up_threshold_paise: int = Field(default=1_000_000, ge=0)
    idempotency_expiry_seconds: int = Field(default=24 * 3600, ge=60)
    transaction_conflict_retries: int = Field(default=4, ge=0)


class AuditSettings(_Settings):
    main_table_name: str
    audit_table_name: str


@lru_cache(maxsize=1)
def get_jwt_settings() -> JwtSettings:
    return JwtSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_identity_settings() -> IdentitySettings:
    return IdentitySettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_vault_settings() -> VaultSettings:
    return VaultSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_wallet_settings() -> WalletSettings:
    return WalletSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_audit_settings() -> AuditSettings:
    return AuditSettings()  # type: ignore[call-arg]


SETTINGS_BY_FUNCTION: dict[str, type[_Settings]] = {
    "authorizer": JwtSettings,
    "identity": IdentitySettings,
    "vault": VaultSettings,
    "wallet": WalletSettings,
    "audit": AuditSettings,
}
"""The settings model each function folder reads (template parity tests use it)."""
