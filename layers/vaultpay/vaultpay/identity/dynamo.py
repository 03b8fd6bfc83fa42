"""Users: registration (one transaction across the main and vault tables) and profile lookups."""

from __future__ import annotations

from typing import Any

from vaultpay.core import table as keys
from vaultpay.core.dynamo import Item, TransactItem, iso, marshal, marshal_values, read_item, write_transaction
from vaultpay.core.errors import AadhaarAlreadyRegistered, EmailAlreadyRegistered
from vaultpay.core.records import ProfileRecord, TransactionRecord, is_system_account
from vaultpay.identity.models import NewUser
from vaultpay.vault.dynamo import vault_entry
from vaultpay.vault.models import SealedAadhaar


class DynamoProfileReader:
    """Profiles by user id or by e-mail: what the identity and vault functions read of a user."""

    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

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


class DynamoUserRepository(DynamoProfileReader):
    """Profiles, and registration: the only writer of a new user, across the main and vault tables."""

    def __init__(self, client: Any, main_table: str, vault_table: str) -> None:
        super().__init__(client, main_table)
        self._vault = vault_table

    def create_user(
        self,
        user: NewUser,
        sealed_aadhaar: SealedAadhaar,
        aadhaar_index: str,
        welcome_credit: TransactionRecord | None,
        *,
        conflict_retries: int = 2,
    ) -> None:
        """Profile, account, both uniqueness guards, the vault entry and (when there is one) the
        welcome credit from the system account: all or nothing, in one TransactWriteItems."""
        created = iso(user.created_at)
        opening_balance = welcome_credit.amount if welcome_credit else 0
        profile: Item = {
            **keys.key(keys.user_pk(user.user_id), keys.PROFILE_SK),
            "type": keys.TYPE_PROFILE,
            "user_id": user.user_id,
            "email": user.email,
            "full_name": user.full_name,
            "password_hash": user.password_hash,
            "aadhaar_last4": user.aadhaar_last4,
            "created_at": created,
        }
        account: Item = {
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
        }
        email_guard: Item = {
            **keys.key(keys.email_pk(user.email), keys.EMAIL_SK),
            "type": keys.TYPE_EMAIL_GUARD,
            "user_id": user.user_id,
            "full_name": user.full_name,
        }
        aadhaar_guard = keys.aadhaar_guard(aadhaar_index)
        transact_items = [
            TransactItem(keys.put(self._main, profile, unique=True)),
            TransactItem(keys.put(self._main, account, unique=True)),
            TransactItem(keys.put(self._main, email_guard, unique=True), on_condition_failed=lambda _: EmailAlreadyRegistered()),
            TransactItem(
                keys.put(self._main, aadhaar_guard, unique=True),
                on_condition_failed=lambda _: AadhaarAlreadyRegistered(),
                precedence=1,
            ),
            TransactItem(keys.put(self._vault, vault_entry(user.user_id, sealed_aadhaar, user.created_at), unique=True)),
        ]
        if welcome_credit is not None:
            transact_items.append(TransactItem(self._issue_from_system_account(welcome_credit)))
            transact_items.append(TransactItem(keys.put(self._main, keys.transaction_item(welcome_credit), unique=True)))
            transact_items.extend(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(welcome_credit))
        write_transaction(self._client, transact_items, conflict_retries=conflict_retries)

    def _issue_from_system_account(self, credit: TransactionRecord) -> dict[str, Any]:
        """Debit the credit's issuance shard (its sender), creating it on first use. The issuance
        accounts alone may go below zero."""
        system = credit.sender
        if not is_system_account(system.user_id):
            raise ValueError(f"a welcome credit comes from an issuance account, not {system.user_id}")
        return {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.key(keys.user_pk(system.user_id), keys.ACCOUNT_SK)),
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
                        ":user_id": system.user_id,
                        ":email": system.email,
                        ":full_name": system.full_name,
                    }
                ),
            }
        }
