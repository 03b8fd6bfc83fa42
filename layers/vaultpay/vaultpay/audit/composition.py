"""The audit function's composition."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.audit.dynamo import DynamoAuditStore
from vaultpay.audit.logic import AuditService
from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import get_audit_settings
from vaultpay.wallet.dynamo import DynamoWalletRepository


@lru_cache(maxsize=1)
def audit_service() -> AuditService:
    settings = get_audit_settings()
    client = aws.dynamodb()
    return AuditService(
        store=DynamoAuditStore(client, settings.audit_table_name),
        transactions=DynamoWalletRepository(client, settings.main_table_name),
        clock=utc_now,
    )
