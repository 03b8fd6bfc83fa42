"""Exactly once under retries: an operation under Powertools idempotency, keyed on (user,
Idempotency-Key), its typed outcome stored and replayed (``PydanticSerializer``), and the
utility's failures turned into domain errors so the API maps them like any other.

Powertools idempotency is imported when the first such operation is composed: routes that move
no money never load it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from vaultpay.core.errors import IdempotencyKeyReused, OutcomeUnknown, RequestInFlight
from vaultpay.core.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

Command = TypeVar("Command", bound=BaseModel)
Outcome = TypeVar("Outcome", bound=BaseModel)


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' response hook: the stored outcome, deserialized by the PydanticSerializer, marked as a replay."""
    outcome: BaseModel = response
    return outcome.model_copy(update={"replayed": True})


@dataclass(frozen=True)
class IdempotentOperation(Generic[Command, Outcome]):
    run: Callable[..., Outcome]
    config: IdempotencyConfig

    def __call__(self, command: Command, lambda_context: LambdaContext) -> Outcome:
        """Replays return the stored outcome marked ``replayed``; the same key with another payload
        is IdempotencyKeyReused; a key still in flight, RequestInFlight; a failing store, OutcomeUnknown."""
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


def idempotent_operation(
    operation: Callable[[Command], Outcome],
    *,
    outcome: type[Outcome],
    key_prefix: str,
    payload_path: str,
    table_name: str,
    expires_after_seconds: int,
    client: Any,
) -> IdempotentOperation[Command, Outcome]:
    """``operation`` under Powertools idempotency: the command's ``user_id`` and ``idempotency_key``
    are the key, ``payload_path`` (JMESPath into the command) what a retry must repeat exactly."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

    config = IdempotencyConfig(
        event_key_jmespath="[user_id, idempotency_key]",
        payload_validation_jmespath=payload_path,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
        hash_function="sha256",
        response_hook=_mark_replayed,
    )
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)

    @idempotent_function(
        data_keyword_argument="command",
        persistence_store=persistence,
        config=config,
        key_prefix=key_prefix,
        output_serializer=PydanticSerializer(outcome),
    )
    def run(command: Command) -> Outcome:
        return operation(command)

    return IdempotentOperation(run=run, config=config)
