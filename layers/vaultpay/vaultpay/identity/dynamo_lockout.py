"""Password-check counters (identity.ports.AttemptStore) on the main table.

Each reservation is one conditional UpdateItem that increments and refuses past the limit,
returning the new count: DynamoDB evaluates the condition and applies the update atomically, so
concurrent attempts cannot pass it together. Items are keyed by normalized e-mail (known or not,
so counters enumerate no one) and client address; expiry is in ``expires_at`` (TTL) for clean-up
only: the logic checks times itself.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vaultpay.core import table as keys
from vaultpay.core.dynamo import error_code, marshal, marshal_values, read_item, unmarshal
from vaultpay.identity.models import LoginStreak, WindowCounter

_COUNT = {"#count": "count"}


def _refused(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


class DynamoLoginAttemptRepository:
    def __init__(self, client: Any, main_table: str) -> None:
        self._client = client
        self._main = main_table

    # ------------------------------------------------------------ fixed windows (address; account from an address)
    @staticmethod
    def _window_key(counter: WindowCounter) -> dict[str, Any]:
        return marshal(keys.login_window_key(counter.address, counter.email, counter.window_start))

    def count_in_window(self, counter: WindowCounter, limit: int, keep_until: int) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._main,
                Key=self._window_key(counter),
                UpdateExpression="ADD #count :one SET #type = :type, expires_at = :keep",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={**_COUNT, "#type": "type"},
                ExpressionAttributeValues=marshal_values(
                    {":one": 1, ":limit": limit, ":keep": keep_until, ":type": keys.TYPE_LOGIN_WINDOW}
                ),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if not _refused(error):
                raise
            return None
        return int(unmarshal(response["Attributes"])["count"])

    def uncount(self, counter: WindowCounter) -> None:
        try:
            self._client.update_item(
                TableName=self._main,
                Key=self._window_key(counter),
                UpdateExpression="ADD #count :minus_one",
                ConditionExpression="#count > :zero",
                ExpressionAttributeNames=_COUNT,
                ExpressionAttributeValues=marshal_values({":minus_one": -1, ":zero": 0}),
            )
        except ClientError as error:
            if not _refused(error):  # refused: already at zero or gone, nothing to give back
                raise

    def forget(self, counter: WindowCounter) -> None:
        self._client.delete_item(TableName=self._main, Key=self._window_key(counter))

    # ------------------------------------------------------------ the account's streak
    @staticmethod
    def _streak_key(email: str) -> dict[str, str]:
        return keys.key(keys.login_failures_pk(email), keys.FAILURES_SK)

    def extend_streak(self, email: str, below: int, recent_since: int, now: int, keep_until: int) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._main,
                Key=marshal(self._streak_key(email)),
                UpdateExpression=(
                    "SET #count = if_not_exists(#count, :zero) + :one, last_attempt_at = :now, expires_at = :keep, #type = :type"
                ),
                ConditionExpression="attribute_not_exists(PK) OR (#count < :below AND last_attempt_at >= :recent)",
                ExpressionAttributeNames={**_COUNT, "#type": "type"},
                ExpressionAttributeValues=marshal_values(
                    {
                        ":zero": 0,
                        ":one": 1,
                        ":now": now,
                        ":keep": keep_until,
                        ":below": below,
                        ":recent": recent_since,
                        ":type": keys.TYPE_LOGIN_FAILURES,
                    }
                ),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if not _refused(error):
                raise
            return None
        return int(unmarshal(response["Attributes"])["count"])

    def get_streak(self, email: str) -> LoginStreak | None:
        data = read_item(self._client, self._main, self._streak_key(email))
        if data is None:
            return None
        # Items written before streaks (count, window_started_at, locked_until) read as long forgotten.
        return LoginStreak(count=int(data.get("count", 0)), last_attempt_at=int(data.get("last_attempt_at", 0)))

    def replace_streak(self, email: str, expected: LoginStreak | None, new: LoginStreak, keep_until: int) -> bool:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if expected is None:
            condition = "attribute_not_exists(PK)"
        else:
            names = dict(_COUNT)
            values = {":count": expected.count}
            if expected.last_attempt_at:
                condition = "#count = :count AND last_attempt_at = :last"
                values[":last"] = expected.last_attempt_at
            else:
                condition = "#count = :count AND attribute_not_exists(last_attempt_at)"
        request: dict[str, Any] = {
            "TableName": self._main,
            "Item": marshal(
                {
                    **self._streak_key(email),
                    "type": keys.TYPE_LOGIN_FAILURES,
                    "count": new.count,
                    "last_attempt_at": new.last_attempt_at,
                    "expires_at": keep_until,
                }
            ),
            "ConditionExpression": condition,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = marshal_values(values)
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if not _refused(error):
                raise
            return False
        return True

    def clear_streak(self, email: str) -> None:
        self._client.delete_item(TableName=self._main, Key=marshal(self._streak_key(email)))
