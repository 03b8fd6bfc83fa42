"""Builders that the identity, vault and authorizer composition roots share: access tokens and the login guard."""

from __future__ import annotations

from functools import partial

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.secrets import secret_value
from vaultpay.core.settings import JwtSettings, LockoutSettings
from vaultpay.identity.dynamo_lockout import DynamoLoginAttemptRepository
from vaultpay.identity.lockout import LoginGuard, LoginLimits
from vaultpay.identity.tokens import AccessTokenCodec


def access_tokens(settings: JwtSettings) -> AccessTokenCodec:
    return AccessTokenCodec(
        signing_key=partial(secret_value, settings.jwt_secret_arn, settings.secret_cache_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )


def login_guard(settings: LockoutSettings, main_table: str) -> LoginGuard:
    return LoginGuard(
        store=DynamoLoginAttemptRepository(aws.dynamodb(), main_table),
        limits=LoginLimits(
            free_failures=settings.login_max_failures,
            base_delay_seconds=settings.login_delay_base_seconds,
            max_delay_seconds=settings.login_delay_max_seconds,
            pair_max_failures=settings.login_account_address_max_failures,
            address_max_failures=settings.login_address_max_failures,
            window_seconds=settings.login_failure_window_seconds,
        ),
        clock=utc_now,
    )
