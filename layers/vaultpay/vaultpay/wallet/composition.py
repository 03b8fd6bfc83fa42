"""The wallet function's composition root: the wallet service, and the transfer under Powertools
idempotency (its outcome stored and replayed as the typed ``TransferOutcome``)."""

from __future__ import annotations

from functools import lru_cache

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.idempotency import IdempotentOperation, idempotent_operation
from vaultpay.core.settings import get_wallet_settings
from vaultpay.wallet.dynamo import DynamoWalletRepository
from vaultpay.wallet.logic import WalletService
from vaultpay.wallet.models import TransferCommand, TransferOutcome


@lru_cache(maxsize=1)
def wallet_service() -> WalletService:
    settings = get_wallet_settings()
    return WalletService(
        store=DynamoWalletRepository(
            aws.dynamodb(), settings.main_table_name, conflict_retries=settings.transaction_conflict_retries
        ),
        max_transfer_paise=settings.max_transfer_paise,
        clock=utc_now,
        daily_limit_paise=settings.daily_limit_paise,
        step_up_threshold_paise=settings.step_up_threshold_paise,
        statement_max_lines=settings.statement_max_lines,
    )


@lru_cache(maxsize=1)
def idempotent_transfer() -> IdempotentOperation[TransferCommand, TransferOutcome]:
    """The transfer under Powertools idempotency, keyed on (user, Idempotency-Key); its payload,
    checked on every retry, is the normalized transfer."""
    settings = get_wallet_settings()
    service = wallet_service()

    def transfer(command: TransferCommand) -> TransferOutcome:
        return service.transfer(
            command.user_id,
            command.idempotency_key,
            command.transfer,
            session_id=command.session_id,
            step_up_grant=command.step_up_grant,
        )

    return idempotent_operation(
        transfer,
        outcome=TransferOutcome,
        key_prefix="transfer",
        payload_path="transfer",
        table_name=settings.idempotency_table_name,
        expires_after_seconds=settings.idempotency_expiry_seconds,
        client=aws.dynamodb(),
    )
