"""The wallet function's composition root: the wallet service, and the transfer under Powertools
idempotency (its outcome stored and replayed as the typed ``TransferOutcome``).

Powertools idempotency is imported when the first transfer composes it: the balance, history
and detail routes never load it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.errors import IdempotencyKeyReused, OutcomeUnknown, RequestInFlight
from vaultpay.core.observability import logger
from vaultpay.core.settings import get_wallet_settings
from vaultpay.wallet.dynamo import DynamoWalletRepository
from vaultpay.wallet.logic import WalletService
from vaultpay.wallet.models import TransferCommand, TransferOutcome

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


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
    )


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' response hook: the stored outcome, deserialized by the PydanticSerializer, marked as a replay."""
    outcome: TransferOutcome = response
    return outcome.model_copy(update={"replayed": True})


@dataclass(frozen=True)
class IdempotentTransfer:
    """The transfer under Powertools idempotency; its failures become domain errors here, so the
    API maps them like any other (and the other routes never import the utility)."""

    run: Callable[..., TransferOutcome]
    config: IdempotencyConfig

    def __call__(self, command: TransferCommand, lambda_context: LambdaContext) -> TransferOutcome:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        self.config.register_lambda_context(lambda_context)
        try:
            return self.run(command=command)
        except IdempotencyAlreadyInProgressError:
            raise RequestInFlight() from None
        except IdempotencyValidationError:
            raise IdempotencyKeyReused() from None
        except IdempotencyPersistenceLayerError as failure:
            logger.exception("idempotency store failed", extra={"error": type(failure).__name__})
            raise OutcomeUnknown() from failure


@lru_cache(maxsize=1)
def idempotent_transfer() -> IdempotentTransfer:
    """The transfer wrapped in Powertools idempotency, keyed on (user, Idempotency-Key).

    Replays return the stored outcome marked ``replayed``; the same key with another payload is
    IdempotencyKeyReused; a key still in flight, RequestInFlight; a failing store, OutcomeUnknown.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

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

    @idempotent_function(
        data_keyword_argument="command",
        persistence_store=persistence,
        config=config,
        key_prefix="transfer",
        output_serializer=PydanticSerializer(TransferOutcome),
    )
    def run(command: TransferCommand) -> TransferOutcome:
        return service.transfer(
            command.user_id,
            command.idempotency_key,
            command.transfer,
            session_id=command.session_id,
            step_up_grant=command.step_up_grant,
        )

    return IdempotentTransfer(run=run, config=config)
