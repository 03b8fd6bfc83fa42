"""The vault's DynamoDB data access: its entries' format (written by the registration transaction,
read here), and the reveal events it records in the main table for the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vaultpay.core import table as keys
from vaultpay.core.dynamo import Item, TransactItem, epoch, iso, marshal, marshal_values, read_item, write_transaction
from vaultpay.core.errors import SecondFactorIncorrect, StepUpRequired, TotpAlreadyEnabled, TotpNotPending
from vaultpay.core.grants import GrantUse, NewGrant
from vaultpay.vault.models import SealedAadhaar, SealedSecret, TotpFactor

_NO_RETRIES_NEEDED = 2  # a person's own items: conflicts only with their own concurrent requests


def _grant_refused(_seen: object) -> StepUpRequired:
    return StepUpRequired("The step-up grant is not valid: it expired, was used, or belongs to another session.")


def vault_entry(user_id: str, sealed: SealedAadhaar, created_at: datetime) -> Item:
    """A vault table item: the sealed number under the user's reference key, nothing else."""
    return {
        "pk": keys.user_pk(user_id),
        "key_id": sealed.key_id,
        "wrapped_key": sealed.wrapped_key,
        "nonce": sealed.nonce,
        "ciphertext": sealed.ciphertext,
        "algorithm": sealed.algorithm,
        "created_at": iso(created_at),
    }


class DynamoVaultStore:
    def __init__(self, client: Any, vault_table: str) -> None:
        self._client = client
        self._vault = vault_table

    def get(self, user_id: str) -> SealedAadhaar | None:
        data = read_item(self._client, self._vault, {"pk": keys.user_pk(user_id)})
        if data is None:
            return None
        return SealedAadhaar(
            key_id=data["key_id"],
            wrapped_key=data["wrapped_key"],
            nonce=data["nonce"],
            ciphertext=data["ciphertext"],
            algorithm=data["algorithm"],
        )


class DynamoRevealLog:
    """Aadhaar reveal events in the main table; the stream carries them to the append-only audit table."""

    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    def record_reveal(
        self, user_id: str, request_id: str, at: datetime, keep_until: datetime, step_up: GrantUse | None = None
    ) -> None:
        event = {
            **keys.key(keys.user_pk(user_id), f"{keys.EVENT_PREFIX}{iso(at)}#{request_id}"),
            "type": keys.TYPE_AADHAAR_REVEALED,
            "user_id": user_id,
            "request_id": request_id,
            "at": iso(at),
            "expires_at": epoch(keep_until),
        }
        if step_up is None:
            self._client.put_item(TableName=self._main, Item=marshal(event), ConditionExpression="attribute_not_exists(PK)")
            return
        # The grant is spent with the event: a grant raced by another request reveals nothing twice.
        write_transaction(
            self._client,
            [
                TransactItem(keys.put(self._main, event, unique=True)),
                TransactItem(
                    keys.consume_step_up_grant(self._main, user_id, step_up.grant_hash, step_up.session_id, step_up.now),
                    on_condition_failed=_grant_refused,
                ),
            ],
            conflict_retries=_NO_RETRIES_NEEDED,
        )


# ---------------------------------------------------------------- step-up grants and the authenticator
def _grant_item(user_id: str, grant: NewGrant) -> Item:
    return {
        **keys.step_up_grant_key(user_id, grant.grant_hash),
        "type": keys.TYPE_STEP_UP_GRANT,
        "user_id": user_id,
        "session_id": grant.session_id,
        "method": grant.method,
        "expires_at": grant.expires_at,  # checked by the spending condition; TTL only tidies up
    }


def _code_refused(_seen: object) -> SecondFactorIncorrect:
    return SecondFactorIncorrect()


class DynamoStepUpStore:
    """Step-up grants (``USER#<id>`` / ``STEPUP#<sha256>``) and the authenticator (``USER#<id>`` /
    ``TOTP``: the sealed secret, status, last accepted step, recovery code hashes as a string set)."""

    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    def _write(self, items: list[TransactItem]) -> None:
        write_transaction(self._client, items, conflict_retries=_NO_RETRIES_NEEDED)

    def get_totp(self, user_id: str) -> TotpFactor | None:
        data = read_item(self._client, self._main, keys.totp_key(user_id))
        if data is None:
            return None
        return TotpFactor(
            status=data["status"],
            sealed=SealedSecret(
                key_id=data["key_id"],
                wrapped_key=data["wrapped_key"],
                nonce=data["nonce"],
                ciphertext=data["ciphertext"],
                algorithm=data["algorithm"],
            ),
            last_step=data.get("last_step"),
            recovery_codes_left=len(data.get("recovery") or ()),
        )

    def grant_valid(self, user_id: str, use: GrantUse) -> bool:
        data = read_item(self._client, self._main, keys.step_up_grant_key(user_id, use.grant_hash))
        return data is not None and data.get("session_id") == use.session_id and int(data["expires_at"]) > use.now

    def _put_grant(self, user_id: str, grant: NewGrant) -> TransactItem:
        return TransactItem(keys.put(self._main, _grant_item(user_id, grant), unique=True))

    def grant_for_password(self, user_id: str, grant: NewGrant) -> None:
        no_active_totp = {
            "ConditionCheck": {
                "TableName": self._main,
                "Key": marshal(keys.totp_key(user_id)),
                "ConditionExpression": "attribute_not_exists(PK) OR #status <> :active",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values({":active": "ACTIVE"}),
            }
        }
        self._write(
            [
                TransactItem(
                    no_active_totp,
                    on_condition_failed=lambda _: StepUpRequired(
                        "Two-step verification is on: use your authenticator app.", methods=("totp", "recovery_code")
                    ),
                ),
                self._put_grant(user_id, grant),
            ]
        )

    def grant_for_totp(self, user_id: str, step: int, grant: NewGrant) -> None:
        spend_step = {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.totp_key(user_id)),
                "UpdateExpression": "SET last_step = :step",
                "ConditionExpression": "#status = :active AND (attribute_not_exists(last_step) OR last_step < :step)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values({":active": "ACTIVE", ":step": step}),
            }
        }
        self._write([TransactItem(spend_step, on_condition_failed=_code_refused), self._put_grant(user_id, grant)])

    def grant_for_recovery_code(self, user_id: str, code_hash: str, grant: NewGrant) -> None:
        spend_code = {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.totp_key(user_id)),
                "UpdateExpression": "DELETE recovery :codes",
                "ConditionExpression": "#status = :active AND contains(recovery, :code)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values({":active": "ACTIVE", ":codes": {code_hash}, ":code": code_hash}),
            }
        }
        self._write([TransactItem(spend_code, on_condition_failed=_code_refused), self._put_grant(user_id, grant)])

    def begin_totp(self, user_id: str, sealed: SealedSecret, recovery_hashes: list[str], at: datetime, step_up: GrantUse) -> None:
        pending = {
            **keys.totp_key(user_id),
            "type": keys.TYPE_TOTP,
            "user_id": user_id,
            "status": "PENDING",
            "key_id": sealed.key_id,
            "wrapped_key": sealed.wrapped_key,
            "nonce": sealed.nonce,
            "ciphertext": sealed.ciphertext,
            "algorithm": sealed.algorithm,
            "recovery": set(recovery_hashes),
            "created_at": iso(at),
        }
        put = {
            "Put": {
                "TableName": self._main,
                "Item": marshal(pending),
                "ConditionExpression": "attribute_not_exists(PK) OR #status <> :active",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values({":active": "ACTIVE"}),
            }
        }
        self._write(
            [
                TransactItem(put, on_condition_failed=lambda _: TotpAlreadyEnabled(), precedence=1),
                TransactItem(
                    keys.consume_step_up_grant(self._main, user_id, step_up.grant_hash, step_up.session_id, step_up.now),
                    on_condition_failed=_grant_refused,
                    precedence=0,
                ),
            ]
        )

    def activate_totp(self, user_id: str, nonce: bytes, step: int) -> None:
        activate = {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.totp_key(user_id)),
                "UpdateExpression": "SET #status = :active, last_step = :step",
                "ConditionExpression": "#status = :pending AND nonce = :nonce",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values(
                    {":active": "ACTIVE", ":pending": "PENDING", ":step": step, ":nonce": nonce}
                ),
            }
        }
        self._write([TransactItem(activate, on_condition_failed=lambda _: TotpNotPending())])
