"""The audit function's composition."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.clock import utc_now
from vaultpay.dal import aws
from vaultpay.dal.audit import DynamoAuditStore
from vaultpay.dal.wallet import DynamoWalletRepository
from vaultpay.logic.audit import AuditService
from vaultpay.settings import get_audit_settings


@lru_cache(maxsize=1)
def audit_service() -> AuditService:
    settings = get_audit_settings()
    client = aws.dynamodb()
    return AuditService(
        store=DynamoAuditStore(client, settings.audit_table_name),
        transactions=DynamoWalletRepository(client, settings.main_table_name),
        clock=utc_now,
    )
