"""A user's jobs through the jobs table's indexes, and their removal (never a scan).

- ``by_user`` (``user_id`` + ``created_at``, all attributes): the history, newest first.
- ``by_sketch`` (``sketch_key`` + ``fingerprint``, with ``result_key``): who else points to
  a sketch or a result before a deletion removes it. Sketches are content-addressed, and
  every job that can show another's result (a cache hit, a follower, a reuse of a stored
  picture) made the same request, so it shares the fingerprint and the sketch.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_value
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import JobRecord, JobStatus
from sketchbridge.services.ports import JobPage

BY_USER_INDEX = "by_user"
BY_SKETCH_INDEX = "by_sketch"
# One BatchGetItem takes at most 100 keys.
MAX_BATCH_GET = 100
# A filtered history page reads at most this many index pages before it answers what it
# found (with a cursor), so one request's reads stay bounded however rare the status is.
_MAX_READS_PER_PAGE = 10
_FINAL = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELED.value]


class DynamoJobHistory:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def page(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None,
        status: JobStatus | None,
    ) -> JobPage:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_USER_INDEX,
            # The partition is always the caller's: no cursor can move a query elsewhere.
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": to_value(user_id)},
            "ScanIndexForward": False,
        }
        if status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"][":status"] = to_value(status.value)
        position = after
        records: list[JobRecord] = []
        for _ in range(_MAX_READS_PER_PAGE):
            if position is not None:
                created_at, job_id = position
                request["ExclusiveStartKey"] = {
                    "user_id": to_value(user_id),
                    "created_at": to_value(created_at),
                    "id": to_value(job_id),
                }
            # Never evaluate more than the page still has room for: every match fits, so the
            # last evaluated key is exactly where the next page starts.
            request["Limit"] = limit - len(records)
            response = self._call("query", **request)
            records.extend(
                JobRecord.model_validate(from_item(item)) for item in response.get("Items", [])
            )
            last = response.get("LastEvaluatedKey")
            if last is None:
                return JobPage(records=records, after=None)
            position = (str(last["created_at"]["S"]), str(last["id"]["S"]))
            if len(records) >= limit:
                break
        return JobPage(records=records, after=position)

    def get_many(self, job_ids: list[str]) -> dict[str, JobRecord]:
        wanted = list(dict.fromkeys(job_ids))[:MAX_BATCH_GET]
        if not wanted:
            return {}
        keys: list[dict[str, Any]] = [{"id": {"S": job_id}} for job_id in wanted]
        found: dict[str, JobRecord] = {}
        # Unprocessed keys (throttling) are asked again, a few times at most.
        for _ in range(5):
            response = self._call(
                "batch_get_item",
                RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}},
            )
            for item in response.get("Responses", {}).get(self._table, []):
                record = JobRecord.model_validate(from_item(item))
                found[record.id] = record
            keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not keys:
                return found
        raise InternalError("The job store is unavailable.")

    def delete_finished(self, job_id: str, *, user_id: str) -> JobRecord | None:
        try:
            response = self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": job_id}},
                # Only the owner's, only once it has ended: a processor never writes the end
                # of a job that is gone.
                ConditionExpression="user_id = :user AND #status IN (:s0, :s1, :s2)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":user": to_value(user_id),
                    **{f":s{index}": to_value(value) for index, value in enumerate(_FINAL)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise InternalError("The job store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The job store is unavailable.") from exc
        item = response.get("Attributes")
        return JobRecord.model_validate(from_item(item)) if item else None

    def sketch_used_by_another(self, sketch_key: str, *, job_id: str) -> bool:
        return self._any_other(
            "sketch_key = :sketch", {":sketch": sketch_key}, job_id=job_id, result_key=None
        )

    def result_used_by_another(
        self, result_key: str, *, sketch_key: str, fingerprint: str, job_id: str
    ) -> bool:
        return self._any_other(
            "sketch_key = :sketch AND fingerprint = :fingerprint",
            {":sketch": sketch_key, ":fingerprint": fingerprint},
            job_id=job_id,
            result_key=result_key,
        )

    def _any_other(
        self, condition: str, values: dict[str, str], *, job_id: str, result_key: str | None
    ) -> bool:
        """Is there an item in ``by_sketch`` matching, other than ``job_id`` (and, when given,
        showing ``result_key``)? The index lags the table a moment, so the deleted job itself
        may still be listed: it is skipped by id."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_SKETCH_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {name: to_value(value) for name, value in values.items()},
        }
        while True:
            response = self._call("query", **request)
            for item in response.get("Items", []):
                other = from_item(item)
                if other.get("id") == job_id:
                    continue
                if result_key is None or other.get("result_key") == result_key:
                    return True
            last = response.get("LastEvaluatedKey")
            if last is None:
                return False
            request["ExclusiveStartKey"] = last

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The job store is unavailable.") from exc
