"""API keys in DynamoDB (KeysTable): key ``id``; GSI ``by_user`` = ``user_id`` + ``created_at``.

Items whose id starts ``webhook#`` are a job's webhook (services/webhooks.py); they carry no
``user_id`` and so stay out of ``by_user``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item
from sketchbridge.domain.api_keys import ApiKeyRecord
from sketchbridge.domain.errors import InternalError
from sketchbridge.services.webhooks import WebhookRecord

BY_USER_INDEX = "by_user"
_KEY_PREFIX = "key#"
_WEBHOOK_PREFIX = "webhook#"


class DynamoApiKeyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, record: ApiKeyRecord) -> None:
        item = record.model_dump(mode="json")
        item["id"] = _KEY_PREFIX + record.id
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(id)",
        )

    def get(self, key_id: str) -> ApiKeyRecord | None:
        response = self._call(
            "get_item",
            TableName=self._table,
            Key={"id": {"S": _KEY_PREFIX + key_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _record(from_item(item)) if item else None

    def for_user(self, user_id: str) -> list[ApiKeyRecord]:
        records: list[ApiKeyRecord] = []
        start: dict[str, Any] | None = None
        while True:
            response = self._call(
                "query",
                TableName=self._table,
                IndexName=BY_USER_INDEX,
                KeyConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": {"S": user_id}},
                **({"ExclusiveStartKey": start} if start else {}),
            )
            records.extend(_record(from_item(item)) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return records

    def delete(self, key_id: str, *, user_id: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": _KEY_PREFIX + key_id}},
                ConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": {"S": user_id}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise InternalError("The key store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The key store is unavailable.") from exc
        return True

    # -- SigningSecrets: the secret a key's webhooks are signed with ----------------------------

    def webhook_secret(self, key_id: str) -> str | None:
        record = self.get(key_id)
        return record.webhook_secret if record is not None else None

    # -- WebhookStore -------------------------------------------------------------------------

    def put_webhook(self, record: WebhookRecord) -> None:
        item = record.model_dump(mode="json", exclude_none=True)
        item["id"] = _WEBHOOK_PREFIX + record.job_id
        self._call("put_item", TableName=self._table, Item=to_item(item))

    def webhook(self, job_id: str) -> WebhookRecord | None:
        response = self._call(
            "get_item",
            TableName=self._table,
            Key={"id": {"S": _WEBHOOK_PREFIX + job_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return WebhookRecord.model_validate(from_item(item)) if item else None

    def claim_completed(self, job_id: str, *, delivery_id: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": _WEBHOOK_PREFIX + job_id}},
                UpdateExpression="SET completed_by = :delivery",
                ConditionExpression=(
                    "attribute_exists(id) AND "
                    "(attribute_not_exists(completed_by) OR completed_by = :delivery)"
                ),
                ExpressionAttributeValues={":delivery": {"S": delivery_id}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise InternalError("The key store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The key store is unavailable.") from exc
        return True

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The key store is unavailable.") from exc


def _record(item: dict[str, Any]) -> ApiKeyRecord:
    item = dict(item)
    item["id"] = str(item["id"]).removeprefix(_KEY_PREFIX)
    return ApiKeyRecord.model_validate(item)
