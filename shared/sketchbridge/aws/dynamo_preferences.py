"""Each user's preferences in the preferences table, one item per ``sub`` (``user_id``).

The preferences travel as one JSON string (``preferences``): a DynamoDB number holds
1E-130 to 9.99E+125 only, and a limit a user may send (``max_eta_s`` of 5e-324, say) is a
valid JSON number all the same; it must come back exactly as saved, never as a 500.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
        if not item:
            return None
        return PreferencesRecord.model_validate_json(item["preferences"]["S"])

    def put(self, record: PreferencesRecord) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item={
                "user_id": {"S": record.user_id},
                "updated_at": {"S": record.updated_at},
                "preferences": {"S": record.model_dump_json()},
            },
        )

    def delete(self, user_id: str) -> None:
        self._call("delete_item", TableName=self._table, Key={"user_id": {"S": user_id}})

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The preferences store is unavailable.") from exc
