"""The vault's DynamoDB data access: its entries' format (written by the registration transaction,
read here), and the reveal events it records in the main table for the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vaultpay.core import table as keys
from vaultpay.core.dynamo import Item, epoch, iso, marshal, read_item
from vaultpay.vault.models import SealedAadhaar


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

    def record_reveal(self, user_id: str, request_id: str, at: datetime, keep_until: datetime) -> None:
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
