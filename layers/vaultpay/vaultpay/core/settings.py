"""Environment of each function, read through pydantic settings models.

Nothing here reads the environment at import time: each handler calls its ``get_*`` function
on first use, and the result is cached for the life of the execution environment.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vaultpay.core.money import MAX_TRANSFER_PAISE


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    stage: str = "dev"


class TokenClaimsSettings(_Settings):
    """What issuer and verifier of access tokens agree on (the ``iss`` and ``aud`` claims)."""

    jwt_issuer: str
    jwt_audience: str


class AuthorizerSettings(TokenClaimsSettings):
    main_table_name: str
    # The KMS key ids (the tokens' ``kid``) whose public keys verify access tokens, comma-separated:
    # the current signing key, and during a rotation the previous one too.
    token_verification_key_ids: str = Field(min_length=1)
    # A session's revocation state is cached in the container for this long. With the API's
    # authorizer cache (ReauthorizeEvery) it bounds how long a revoked session keeps working:
    # SESSION_CACHE_SECONDS + ReauthorizeEvery <= 60 (docs/architecture.md, Identity).
    session_cache_seconds: int = Field(default=15, ge=0, le=20)

    @property
    def verification_key_ids(self) -> frozenset[str]:
        return frozenset(key_id.strip() for key_id in self.token_verification_key_ids.split(",") if key_id.strip())


class LockoutSettings(_Settings):
    """Password-guessing limits (vaultpay.identity.lockout): per account, per account from one
    client address, and per client address, each counted before the password is checked."""

    # The account's free failures (from any address), then delays doubling from the base to the cap.
    login_max_failures: int = Field(default=5, ge=1)
    login_delay_base_seconds: int = Field(default=1, ge=1)
    login_delay_max_seconds: int = Field(default=300, ge=1)
    # Fixed windows: failures at one account from one address, and from one address at all accounts.
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_account_address_max_failures: int = Field(default=5, ge=1)
    login_address_max_failures: int = Field(default=20, ge=1)


class IdentitySettings(TokenClaimsSettings, LockoutSettings):
    main_table_name: str
    vault_table_name: str
    vault_key_arn: str
    # The KMS HMAC key of the Aadhaar uniqueness index (GenerateMac only; never exportable).
    aadhaar_index_key_arn: str
    # The asymmetric KMS key (ECC_NIST_P256) that signs access tokens; its id is the tokens' ``kid``.
    token_signing_key_id: str = Field(min_length=1)
    access_token_ttl_seconds: int = Field(default=300, ge=60, le=900)
    welcome_credit_paise: int = Field(default=0, ge=0)
    # Welcome credits are issued from this many shards of the system account (SYSTEM-00 ...), so
    # registrations at once do not all write one item (docs/capacity.md). Raise it freely; lowering
    # it leaves the higher shards as they are (the reconciler sums every shard it finds).
    system_account_shards: int = Field(default=16, ge=1, le=100)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # A session (a refresh-token family) ends this long after the login, whatever the refreshes.
    session_lifetime_seconds: int = Field(default=30 * 24 * 3600, ge=3600)


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
    max_transfer_paise: int = Field(default=MAX_TRANSFER_PAISE, ge=1, le=MAX_TRANSFER_PAISE)
    # Sent per person per calendar day in IST (UPI's person-to-person limit: Rs 1,00,000).
    daily_limit_paise: int = Field(default=10_000_000, ge=1)
    # A transfer above this needs a step-up grant (Rs 10,000).
    step_up_threshold_paise: int = Field(default=1_000_000, ge=0)
    idempotency_expiry_seconds: int = Field(default=24 * 3600, ge=60)
    transaction_conflict_retries: int = Field(default=4, ge=0)
    # Movements one monthly statement may hold: a Lambda answer is at most 6 MB (a line is < 0.5 KB).
    statement_max_lines: int = Field(default=5_000, ge=1, le=10_000)


class LendingSettings(_Settings):
    """The lending function and the loan sweeper. The caps default to the RBI Master Directions for
    NBFC-P2P platforms (as amended in 2024); amounts in paise."""

    main_table_name: str
    lender_cap_paise: int = Field(default=500_000_000, ge=1)  # one lender, all loans: Rs 50,00,000
    borrower_cap_paise: int = Field(default=100_000_000, ge=1)  # one borrower, all loans: Rs 10,00,000
    lender_to_borrower_cap_paise: int = Field(default=5_000_000, ge=1)  # one lender to one borrower: Rs 50,000
    max_tenure_months: int = Field(default=36, ge=1, le=36)
    min_loan_paise: int = Field(default=100_000, ge=1)  # Rs 1,000
    min_commitment_paise: int = Field(default=50_000, ge=1)  # Rs 500
    min_annual_rate_bp: int = Field(default=1000, ge=1)  # 10.00 %
    max_annual_rate_bp: int = Field(default=3600, ge=1, le=99_999)  # 36.00 %
    max_funding_days: int = Field(default=14, ge=1, le=14)
    # A repayment credits every lender in one transaction of 4 + 2 per lender items (DynamoDB: 100),
    # and the commitment that fills a request writes 10 + 2 per earlier lender: 44 at most (96 items).
    max_lenders_per_loan: int = Field(default=40, ge=1, le=44)
    late_fee_bp: int = Field(default=200, ge=0, le=2_000)  # once per overdue installment: 2 % of it
    default_after_days: int = Field(default=90, ge=1)
    transaction_conflict_retries: int = Field(default=4, ge=0)


class LendingApiSettings(LendingSettings):
    """The lending function (the sweeper takes no requests, so has no idempotency table)."""

    idempotency_table_name: str
    idempotency_expiry_seconds: int = Field(default=24 * 3600, ge=60)


class AuditSettings(_Settings):
    main_table_name: str
    audit_table_name: str


@lru_cache(maxsize=1)
def get_authorizer_settings() -> AuthorizerSettings:
    return AuthorizerSettings()  # type: ignore[call-arg]


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
def get_lending_settings() -> LendingSettings:
    return LendingSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_lending_api_settings() -> LendingApiSettings:
    return LendingApiSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_audit_settings() -> AuditSettings:
    return AuditSettings()  # type: ignore[call-arg]


SETTINGS_BY_FUNCTION: dict[str, type[_Settings]] = {
    "authorizer": AuthorizerSettings,
    "identity": IdentitySettings,
    "vault": VaultSettings,
    "wallet": WalletSettings,
    "lending": LendingApiSettings,
    "audit": AuditSettings,
}
"""The settings model each function folder reads (template parity tests use it)."""
