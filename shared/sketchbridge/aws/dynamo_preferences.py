"""Each user's preferences in the preferences table, one item per ``sub`` (``user_id``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import PreferencesRecord


class DynamoPreferenceStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, user_id: str) -> PreferencesRecord | None:
        response = self._call(
            "get_item", TableName=self._table, Key={"user_id": {"S": user_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return PreferencesRecord.model_validate(from_item(item)) if item else None

    def put(self, record: PreferencesRecord) -> None:
        self._call("put_item", TableName=self._table, Item=to_item(record.model_dump(mode="json")))

    def delete(self, user_id: str) -> None:
        self._call("delete_item", TableName=self._table, Key={"user_id": {"S": user_id}})

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The preferences store is unavailable.") from exc
