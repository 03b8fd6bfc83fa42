"""Builders that the identity and vault composition roots share: the login guard."""

from __future__ import annotations

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import LockoutSettings
from vaultpay.identity.dynamo_lockout import DynamoLoginAttemptRepository
from vaultpay.identity.lockout import LoginGuard, LoginLimits


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
