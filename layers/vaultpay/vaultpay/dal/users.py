"""Users: registration (one transaction across the main and vault tables), lookups, reveal events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from vaultpay.dal import items as keys
from vaultpay.dal.dynamo import epoch, error_code, failed_conditions, iso, marshal, marshal_values, read_item, transact_write
from vaultpay.errors import AadhaarAlreadyRegistered, EmailAlreadyRegistered
from vaultpay.models.records import (
    SYSTEM_PARTY,
    NewUser,
    ProfileRecord,
    SealedAadhaar,
    TransactionRecord,
)

_EMAIL_GUARD_INDEX = 2
_AADHAAR_GUARD_INDEX = 3


class DynamoUserRepository:
    def __init__(self, client: Any, main_table: str, vault_table: str | None = None) -> None:
        self._client = client
        self._main = main_table
        self._vault = vault_table

    def create_user(
        self,
        user: NewUser,
        sealed_aadhaar: SealedAadhaar,
        aadhaar_blind_index: str,
        welcome_credit: TransactionRecord | None,
        *,
        conflict_retries: int = 2,
    ) -> None:
        """Profile, account, both uniqueness guards, the vault entry and (when there is one) the
        welcome credit from the system account: all or nothing, in one TransactWriteItems."""
        if self._vault is None:
            raise RuntimeError("create_user needs the vault table")
        created = iso(user.created_at)
        opening_balance = welcome_credit.amount if welcome_credit else 0
        transact_items: list[dict[str, Any]] = [
            keys.put(
                self._main,
                {
                    **keys.key(keys.user_pk(user.user_id), keys.PROFILE_SK),
                    "type": keys.TYPE_PROFILE,
                    "user_id": user.user_id,
                    "email": user.email,
                    "full_name": user.full_name,
                    "password_hash": user.password_hash,
                    "aadhaar_last4": user.aadhaar_last4,
                    "created_at": created,
                },
                unique=True,
            ),
            keys.put(
                self._main,
                {
                    **keys.key(keys.user_pk(user.user_id), keys.ACCOUNT_SK),
                    "type": keys.TYPE_ACCOUNT,
                    "user_id": user.user_id,
                    "email": user.email,
                    "full_name": user.full_name,
                    "balance": opening_balance,
                    "version": 1,
                    "last_txn": welcome_credit.reference_id if welcome_credit else None,
                    "created_at": created,
                    "updated_at": created,
                },
                unique=True,
            ),
            keys.put(
                self._main,
                {
                    **keys.key(keys.email_pk(user.email), keys.EMAIL_SK),
                    "type": keys.TYPE_EMAIL_GUARD,
                    "user_id": user.user_id,
                    "full_name": user.full_name,
                },
                unique=True,
            ),
            keys.put(
                self._main,
                {
                    **keys.key(keys.aadhaar_pk(aadhaar_blind_index), keys.AADHAAR_SK),
                    "type": keys.TYPE_AADHAAR_GUARD,
                    "user_id": user.user_id,
                },
                unique=True,
            ),
            keys.put(
                self._vault,
                {
                    "pk": keys.user_pk(user.user_id),
                    "key_id": sealed_aadhaar.key_id,
                    "wrapped_key": sealed_aadhaar.wrapped_key,
                    "nonce": sealed_aadhaar.nonce,
                    "ciphertext": sealed_aadhaar.ciphertext,
                    "algorithm": sealed_aadhaar.algorithm,
                    "created_at": created,
                },
                unique=True,
            ),
        ]
        if welcome_credit is not None:
            transact_items.append(self._issue_from_system_account(welcome_credit))
            transact_items.append(keys.put(self._main, keys.transaction_item(welcome_credit), unique=True))
            transact_items.extend(keys.put(self._main, entry) for entry in keys.ledger_items(welcome_credit))
        try:
            transact_write(self._client, transact_items, conflict_retries=conflict_retries)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                failed = failed_conditions(error)
                if _EMAIL_GUARD_INDEX in failed:
                    raise EmailAlreadyRegistered() from None
                if _AADHAAR_GUARD_INDEX in failed:
                    raise AadhaarAlreadyRegistered() from None
            raise

    def _issue_from_system_account(self, credit: TransactionRecord) -> dict[str, Any]:
        """Debit the system (issuance) account, creating it on first use. It alone may go below zero."""
        return {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.key(keys.user_pk(SYSTEM_PARTY.user_id), keys.ACCOUNT_SK)),
                "UpdateExpression": (
                    "SET balance = if_not_exists(balance, :zero) - :amount, "
                    "version = if_not_exists(version, :zero) + :one, last_txn = :ref, updated_at = :now, "
                    "#type = :type, user_id = :user_id, email = :email, full_name = :full_name"
                ),
                "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": marshal_values(
                    {
                        ":zero": 0,
                        ":amount": credit.amount,
                        ":one": 1,
                        ":ref": credit.reference_id,
                        ":now": iso(credit.created_at),
                        ":type": keys.TYPE_ACCOUNT,
                        ":user_id": SYSTEM_PARTY.user_id,
                        ":email": SYSTEM_PARTY.email,
                        ":full_name": SYSTEM_PARTY.full_name,
                    }
                ),
            }
        }

    def find_by_email(self, email: str) -> ProfileRecord | None:
        guard = read_item(
            self._client, self._main, keys.key(keys.email_pk(email), keys.EMAIL_SK), projection="user_id", consistent=False
        )
        if guard is None:
            return None
        return self.get_profile(guard["user_id"])

    def get_profile(self, user_id: str) -> ProfileRecord | None:
        item = read_item(self._client, self._main, keys.key(keys.user_pk(user_id), keys.PROFILE_SK))
        return keys.profile_from_item(item) if item else None

    def record_aadhaar_reveal(self, user_id: str, request_id: str, at: datetime, keep_until: datetime) -> None:
        """A reveal event in the main table; the stream carries it to the append-only audit table."""
        self._client.put_item(
            TableName=self._main,
            Item=marshal(
                {
                    **keys.key(keys.user_pk(user_id), f"{keys.EVENT_PREFIX}{iso(at)}#{request_id}"),
                    "type": keys.TYPE_AADHAAR_REVEALED,
                    "user_id": user_id,
                    "request_id": request_id,
                    "at": iso(at),
                    "expires_at": epoch(keep_until),
                }
            ),
            ConditionExpression="attribute_not_exists(PK)",
        )
