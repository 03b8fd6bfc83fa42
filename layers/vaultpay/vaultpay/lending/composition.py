"""The lending function's composition root (and the loan sweeper's): the lending service, and its
three money-moving requests under Powertools idempotency, each with its own key prefix."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from pydantic import BaseModel

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.idempotency import IdempotentOperation, idempotent_operation
from vaultpay.core.settings import get_lending_api_settings, get_lending_settings
from vaultpay.lending.dynamo import DynamoLoanRepository
from vaultpay.lending.logic import LendingPolicy, LendingService
from vaultpay.lending.models import (
    CommitmentCommand,
    CommitmentOutcome,
    LoanCreated,
    LoanRequestCommand,
    RepaymentCommand,
    RepaymentOutcome,
)
from vaultpay.lending.ports import Caps

Command = TypeVar("Command", bound=BaseModel)
Outcome = TypeVar("Outcome", bound=BaseModel)


@lru_cache(maxsize=1)
def lending_service() -> LendingService:
    settings = get_lending_settings()
    return LendingService(
        store=DynamoLoanRepository(
            aws.dynamodb(), settings.main_table_name, conflict_retries=settings.transaction_conflict_retries
        ),
        policy=LendingPolicy(
            caps=Caps(
                lender_total=settings.lender_cap_paise,
                borrower_total=settings.borrower_cap_paise,
                lender_to_borrower=settings.lender_to_borrower_cap_paise,
                lenders_per_loan=settings.max_lenders_per_loan,
            ),
            min_request=settings.min_loan_paise,
            min_commitment=settings.min_commitment_paise,
            max_tenure_months=settings.max_tenure_months,
            min_rate_bp=settings.min_annual_rate_bp,
            max_rate_bp=settings.max_annual_rate_bp,
            max_funding_days=settings.max_funding_days,
            late_fee_bp=settings.late_fee_bp,
            default_after_days=settings.default_after_days,
        ),
        clock=utc_now,
    )


def _idempotent(
    operation: Callable[[Command], Outcome], outcome: type[Outcome], key_prefix: str
) -> IdempotentOperation[Command, Outcome]:
    settings = get_lending_api_settings()
    return idempotent_operation(
        operation,
        outcome=outcome,
        key_prefix=key_prefix,
        payload_path="[loan_id, request]",
        table_name=settings.idempotency_table_name,
        expires_after_seconds=settings.idempotency_expiry_seconds,
        client=aws.dynamodb(),
    )


@lru_cache(maxsize=1)
def idempotent_loan_request() -> IdempotentOperation[LoanRequestCommand, LoanCreated]:
    service = lending_service()

    def request_loan(command: LoanRequestCommand) -> LoanCreated:
        return service.request_loan(command.user_id, command.idempotency_key, command.request)

    return _idempotent(request_loan, LoanCreated, "loan-request")


@lru_cache(maxsize=1)
def idempotent_commitment() -> IdempotentOperation[CommitmentCommand, CommitmentOutcome]:
    service = lending_service()

    def commit(command: CommitmentCommand) -> CommitmentOutcome:
        return service.commit(command.user_id, command.idempotency_key, command.loan_id, command.request)

    return _idempotent(commit, CommitmentOutcome, "loan-commitment")


@lru_cache(maxsize=1)
def idempotent_repayment() -> IdempotentOperation[RepaymentCommand, RepaymentOutcome]:
    service = lending_service()

    def repay(command: RepaymentCommand) -> RepaymentOutcome:
        return service.repay(command.user_id, command.idempotency_key, command.loan_id, command.request)

    return _idempotent(repay, RepaymentOutcome, "loan-repayment")
