"""The result cache, in-flight markers and idempotency keys, in one DynamoDB table.

    pk = <fingerprint>            sk = "result"       a finished result (CacheRecord), TTL
    pk = <fingerprint>            sk = "flight"       the job running it now, and its followers
    pk = idem#<sha256>            sk = "idempotency"  a submit's request hash and jobs, 24 h
                                                      (the hash of user and key, made by submit)

Every write that decides who does the work is conditional, so two processors
or two submits never both win.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import CacheRecord, IdempotencyRecord

RESULT = "result"
FLIGHT = "flight"
IDEMPOTENCY = "idempotency"


class DynamoResultCache:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, fingerprint: str) -> CacheRecord | None:
        item = self._get(fingerprint, RESULT)
        return CacheRecord.model_validate(item) if item else None

    def put(self, record: CacheRecord) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(
                {"pk": record.fingerprint, "sk": RESULT, **record.model_dump(mode="json")}
            ),
        )

    def lead_or_follow(
        self, fingerprint: str, job_id: str, *, now: int, lease_s: int
    ) -> str | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {"pk": fingerprint, "sk": FLIGHT, "job_id": job_id, "expires_at": now + lease_s}
                ),
                # A flight whose leader died long ago (expired) may be taken over.
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
            return None
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise InternalError("The result cache is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The result cache is unavailable.") from exc
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(fingerprint, FLIGHT),
                UpdateExpression="ADD followers :me",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":me": {"SS": [job_id]}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                # The leader finished between our two writes: lead a new flight.
                return self.lead_or_follow(fingerprint, job_id, now=now, lease_s=lease_s)
            raise InternalError("The result cache is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The result cache is unavailable.") from exc
        return str(response["Attributes"]["job_id"]["S"])

    def finish_flight(self, fingerprint: str, leader_job_id: str) -> list[str]:
        try:
            response = self._client.delete_item(
                TableName=self._table,
                Key=_key(fingerprint, FLIGHT),
                ConditionExpression="job_id = :me",
                ExpressionAttributeValues={":me": {"S": leader_job_id}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return []  # not (or no longer) the leader: nobody follows this job
            raise InternalError("The result cache is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The result cache is unavailable.") from exc
        followers = response.get("Attributes", {}).get("followers", {}).get("SS", [])
        return sorted(str(job_id) for job_id in followers)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._call(
            "get_item", TableName=self._table, Key=_key(pk, sk), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _call(self, operation: str, *, allow_condition_failure: bool = False, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            if allow_condition_failure and _is_condition_failure(exc):
                return {}
            raise InternalError("The result cache is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The result cache is unavailable.") from exc


class DynamoIdempotencyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def remember(
        self, key_id: str, record: IdempotencyRecord, *, expires_at: int
    ) -> IdempotencyRecord | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(key_id, record, expires_at),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise InternalError("The idempotency store is unavailable.") from exc
            old = exc.response.get("Item")
        except BotoCoreError as exc:
            raise InternalError("The idempotency store is unavailable.") from exc
        if old is None:
            old = self._call(
                "get_item",
                TableName=self._table,
                Key=_key(_pk(key_id), IDEMPOTENCY),
                ConsistentRead=True,
            ).get("Item")
            if old is None:
                # Forgotten between our two calls (its submit failed): try again as the first.
                return self.remember(key_id, record, expires_at=expires_at)
        return IdempotencyRecord.model_validate(from_item(old))

    def take_over(
        self, key_id: str, record: IdempotencyRecord, *, stale_job_id: str, expires_at: int
    ) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(key_id, record, expires_at),
                ConditionExpression="attribute_not_exists(pk) OR job_id = :stale",
                ExpressionAttributeValues={":stale": {"S": stale_job_id}},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise InternalError("The idempotency store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The idempotency store is unavailable.") from exc
        return True

    def forget(self, key_id: str, *, job_id: str) -> None:
        self._call(
            "delete_item",
            TableName=self._table,
            Key=_key(_pk(key_id), IDEMPOTENCY),
            ConditionExpression="job_id = :mine",
            ExpressionAttributeValues={":mine": {"S": job_id}},
            allow_condition_failure=True,
        )

    def _item(self, key_id: str, record: IdempotencyRecord, expires_at: int) -> dict[str, Any]:
        return to_item(
            {
                "pk": _pk(key_id),
                "sk": IDEMPOTENCY,
                # The first job's id on its own, for the conditions above.
                "job_id": record.job_ids[0],
                **record.model_dump(mode="json"),
                "expires_at": expires_at,
            }
        )

    def _call(self, operation: str, *, allow_condition_failure: bool = False, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            if allow_condition_failure and _is_condition_failure(exc):
                return {}
            raise InternalError("The idempotency store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The idempotency store is unavailable.") from exc


def _pk(key_id: str) -> str:
    return f"idem#{key_id}"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
