"""Builders that the identity, vault and authorizer composition roots share: access tokens and the login guard."""

from __future__ import annotations

from functools import partial

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.secrets import secret_value
from vaultpay.core.settings import JwtSettings, LockoutSettings
from vaultpay.identity.dynamo_lockout import DynamoLoginFailureRepository
from vaultpay.identity.lockout import LockoutPolicy, LoginGuard
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
        store=DynamoLoginFailureRepository(aws.dynamodb(), main_table),
        policy=LockoutPolicy(
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_failure_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
        ),
        clock=utc_now,
    )
