"""Builders that the identity and vault composition roots share: the login guard."""

from __future__ import annotations

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import LockoutSettings
from vaultpay.identity.dynamo_lockout import DynamoLoginFailureRepository
from vaultpay.identity.lockout import LockoutPolicy, LoginGuard


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
