"""Refresh tokens (stored as SHA-256 hashes only), their families (sessions), each user's index of
sessions, and the authorizer's read of a session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from vaultpay.core import table as keys
from vaultpay.core.dynamo import (
    TransactItem,
    epoch,
    error_code,
    iso,
    marshal,
    marshal_values,
    read_item,
    transact_write,
    unmarshal,
    write_transaction,
)
from vaultpay.core.errors import InvalidRefreshToken, RefreshTokenReused
from vaultpay.identity.models import RefreshTokenRecord, SessionState

SESSION_PROJECTION = "user_id, revoked, ends_at"


class DynamoTokenRepository:
    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    def _token_item(
        self, token_hash: str, user_id: str, family_id: str, expires_at: int, ends_at: int, now: datetime
    ) -> dict[str, Any]:
        return {
            **keys.key(keys.refresh_pk(token_hash), keys.REFRESH_SK),
            "type": keys.TYPE_REFRESH,
            "user_id": user_id,
            "family_id": family_id,
            "status": "ACTIVE",
            "issued_at": iso(now),
            "expires_at": expires_at,
            "session_ends_at": ends_at,
        }

    def create_family(self, family_id: str, user_id: str, token_hash: str, expires_at: int, ends_at: int, now: datetime) -> None:
        """The session: its family item (what the authorizer reads), its entry in the user's index
        of sessions (kept until the session's end), and its first refresh token, in one transaction."""
        transact_write(
            self._client,
            [
                keys.put(
                    self._main,
                    {
                        **keys.key(keys.family_pk(family_id), keys.FAMILY_SK),
                        "type": keys.TYPE_FAMILY,
                        "family_id": family_id,
                        "user_id": user_id,
                        "revoked": False,
                        "created_at": iso(now),
                        "ends_at": ends_at,
                        "expires_at": expires_at,
                    },
                    unique=True,
                ),
                keys.put(
                    self._main,
                    {
                        **keys.key(keys.user_pk(user_id), keys.session_sk(family_id)),
                        "type": keys.TYPE_SESSION,
                        "family_id": family_id,
                        "user_id": user_id,
                        "created_at": iso(now),
                        "ends_at": ends_at,
                        "expires_at": ends_at,
                    },
                    unique=True,
                ),
                keys.put(self._main, self._token_item(token_hash, user_id, family_id, expires_at, ends_at, now), unique=True),
            ],
            conflict_retries=2,
        )

    def get(self, token_hash: str) -> RefreshTokenRecord | None:
        data = read_item(self._client, self._main, keys.key(keys.refresh_pk(token_hash), keys.REFRESH_SK))
        if data is None:
            return None
        return RefreshTokenRecord(
            token_hash=token_hash,
            user_id=data["user_id"],
            family_id=data["family_id"],
            status=data["status"],
            expires_at=int(data["expires_at"]),
            session_ends_at=int(data.get("session_ends_at", 0)),
        )

    def rotate(self, old: RefreshTokenRecord, new_hash: str, expires_at: int, now: datetime) -> None:
        """Mark ``old`` used and issue ``new_hash`` in its family, atomically.

        Raises RefreshTokenReused when ``old`` was already used (a concurrent or replayed
        refresh), InvalidRefreshToken when the family is revoked or has reached its end.
        """
        mark_used = {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.key(keys.refresh_pk(old.token_hash), keys.REFRESH_SK)),
                "UpdateExpression": "SET #status = :used, used_at = :now",
                "ConditionExpression": "#status = :active",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": marshal_values({":used": "USED", ":active": "ACTIVE", ":now": iso(now)}),
            }
        }
        extend_family = {
            "Update": {
                "TableName": self._main,
                "Key": marshal(keys.key(keys.family_pk(old.family_id), keys.FAMILY_SK)),
                "UpdateExpression": "SET expires_at = :expires, last_rotated_at = :now",
                "ConditionExpression": "revoked = :false AND ends_at > :epoch",
                "ExpressionAttributeValues": marshal_values(
                    {":expires": expires_at, ":now": iso(now), ":false": False, ":epoch": epoch(now)}
                ),
            }
        }
        write_transaction(
            self._client,
            [
                TransactItem(mark_used, on_condition_failed=lambda _: RefreshTokenReused()),
                TransactItem(
                    keys.put(
                        self._main,
                        self._token_item(new_hash, old.user_id, old.family_id, expires_at, old.session_ends_at, now),
                        unique=True,
                    )
                ),
                TransactItem(extend_family, on_condition_failed=lambda _: InvalidRefreshToken(), precedence=1),
            ],
            conflict_retries=2,
        )

    def revoke_family(self, family_id: str, reason: str, now: datetime) -> None:
        """Revoke every token of the family; revoking twice changes nothing."""
        try:
            self._client.update_item(
                TableName=self._main,
                Key=marshal(keys.key(keys.family_pk(family_id), keys.FAMILY_SK)),
                UpdateExpression="SET revoked = :true, revoked_at = :now, revoked_reason = :reason",
                ConditionExpression="revoked = :false",
                ExpressionAttributeValues=marshal_values({":true": True, ":false": False, ":now": iso(now), ":reason": reason}),
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def session_ids(self, user_id: str, now: datetime) -> list[str]:
        """The user's sessions that have not reached their end, from the user's index of sessions."""
        request: dict[str, Any] = {
            "TableName": self._main,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "FilterExpression": "ends_at > :now",
            "ProjectionExpression": "family_id",
            "ExpressionAttributeValues": marshal_values(
                {":pk": keys.user_pk(user_id), ":prefix": keys.SESSION_PREFIX, ":now": epoch(now)}
            ),
            "ConsistentRead": True,
        }
        family_ids: list[str] = []
        while True:
            page = self._client.query(**request)
            family_ids.extend(str(unmarshal(item)["family_id"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return family_ids
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoSessionReader:
    """The authorizer's only read: the session's family item, three attributes, strongly consistent
    (a revocation is seen by the next read, not a second later)."""

    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    def get(self, session_id: str) -> SessionState | None:
        data = read_item(
            self._client, self._main, keys.key(keys.family_pk(session_id), keys.FAMILY_SK), projection=SESSION_PROJECTION
        )
        if data is None or "ends_at" not in data:
            return None  # absent, or a family from before sessions had an end: not a live session
        return SessionState(user_id=data["user_id"], revoked=bool(data.get("revoked")), ends_at=int(data["ends_at"]))
