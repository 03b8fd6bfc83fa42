"""Failed-login counters, keyed by normalized e-mail (known or not, so lockout enumerates no one)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vaultpay.core import table as keys
from vaultpay.core.dynamo import error_code, marshal, marshal_values, read_item, unmarshal
from vaultpay.identity.models import LoginFailures


class DynamoLoginFailureRepository:
    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    def _key(self, email: str) -> dict[str, Any]:
        return marshal(keys.key(keys.login_failures_pk(email), keys.FAILURES_SK))

    def get(self, email: str) -> LoginFailures | None:
        data = read_item(self._client, self._main, keys.key(keys.login_failures_pk(email), keys.FAILURES_SK))
        if data is None:
            return None
        return LoginFailures(
            count=int(data["count"]),
            window_started_at=int(data["window_started_at"]),
            locked_until=data.get("locked_until"),
        )

    def add_failure(self, email: str, now: int, window_seconds: int, keep_until: int) -> int:
        """Count one failure in the current window (starting a new window if it has passed); return the count."""
        try:
            response = self._client.update_item(
                TableName=self._main,
                Key=self._key(email),
                UpdateExpression="SET #count = #count + :one, expires_at = :keep",
                ConditionExpression="window_started_at > :window_floor",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues=marshal_values({":one": 1, ":keep": keep_until, ":window_floor": now - window_seconds}),
                ReturnValues="UPDATED_NEW",
            )
            return int(unmarshal(response["Attributes"])["count"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        self._client.put_item(
            TableName=self._main,
            Item=marshal(
                {
                    **keys.key(keys.login_failures_pk(email), keys.FAILURES_SK),
                    "type": keys.TYPE_LOGIN_FAILURES,
                    "count": 1,
                    "window_started_at": now,
                    "expires_at": keep_until,
                }
            ),
        )
        return 1

    def lock(self, email: str, until: int) -> None:
        self._client.update_item(
            TableName=self._main,
            Key=self._key(email),
            UpdateExpression="SET locked_until = :until, expires_at = :until",
            ExpressionAttributeValues=marshal_values({":until": until}),
        )

    def clear(self, email: str) -> None:
        self._client.delete_item(TableName=self._main, Key=self._key(email))
