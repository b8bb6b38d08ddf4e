"""Job records in DynamoDB; state changes are conditional writes: two deliveries never both win."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item, to_value
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.models import ErrorInfo, ExternalCall, HopInfo, JobRecord, JobStatus
from sketchbridge.services.ports import StuckJob

_FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
# Jobs by status and last write (docs/architecture.md): how the sweep finds stuck ones.
BY_STATUS_INDEX = "by_status"


class DynamoJobStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, record: JobRecord) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(record.model_dump(mode="json")),
            ConditionExpression="attribute_not_exists(id)",
        )

    def get(self, job_id: str) -> JobRecord | None:
        response = self._call(
            "get_item", TableName=self._table, Key={"id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return JobRecord.model_validate(from_item(item)) if item else None

    def claim(self, job_id: str, *, now: int, lease_seconds: int) -> JobRecord | None:
        attributes = self._update_if(
            job_id,
            update="SET #status = :running, lease_expires_at = :lease, "
            "attempts = if_not_exists(attempts, :zero) + :one, "
            "seq = if_not_exists(seq, :zero) + :one",
            condition="#status = :queued OR (#status = :running AND lease_expires_at < :now)",
            values={
                ":running": JobStatus.RUNNING.value,
                ":queued": JobStatus.QUEUED.value,
                ":lease": now + lease_seconds,
                ":now": now,
                ":zero": 0,
                ":one": 1,
            },
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    def record_progress(self, job_id: str, progress: float, *, updated_at: str) -> int | None:
        attributes = self._update_if(
            job_id,
            update="SET progress = :progress, updated_at = :updated, seq = seq + :one",
            condition="#status = :running",
            values={
                ":progress": progress,
                ":updated": updated_at,
                ":running": JobStatus.RUNNING.value,
                ":one": 1,
            },
        )
        return int(attributes["seq"]) if attributes is not None else None

    def complete(self, record: JobRecord) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record.model_dump(mode="json")),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":running": to_value(JobStatus.RUNNING.value)},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False  # the lease was lost; whoever holds the job now writes its end
            raise InternalError("The job store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The job store is unavailable.") from exc
        return True

    def fail(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        updated_at: str,
        hops: list[HopInfo] | None = None,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        values: dict[str, Any] = {
            ":failed": JobStatus.FAILED.value,
            ":error": error.model_dump(mode="json"),
            ":hops": [hop.model_dump(mode="json") for hop in hops or []],
            ":updated": updated_at,
            ":succeeded": JobStatus.SUCCEEDED.value,
            ":canceled": JobStatus.CANCELED.value,
            ":zero": 0,
            ":one": 1,
        }
        cost = ""
        if cost_usd is not None:
            cost = ", cost_usd = :cost"
            values[":cost"] = cost_usd
        attributes = self._update_if(
            job_id,
            update="SET #status = :failed, #error = :error, updated_at = :updated, hops = :hops, "
            f"seq = if_not_exists(seq, :zero) + :one{cost} REMOVE lease_expires_at",
            condition="attribute_exists(id) AND NOT #status IN (:succeeded, :failed, :canceled)",
            values=values,
            names={"#error": "error"},
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    def release(
        self, job_id: str, *, updated_at: str, hops: list[HopInfo] | None = None
    ) -> int | None:
        values: dict[str, Any] = {
            ":queued": JobStatus.QUEUED.value,
            ":running": JobStatus.RUNNING.value,
            ":updated": updated_at,
            ":one": 1,
        }
        set_hops = ""
        if hops is not None:
            set_hops = ", hops = :hops"
            values[":hops"] = [hop.model_dump(mode="json") for hop in hops]
        attributes = self._update_if(
            job_id,
            update=f"SET #status = :queued, updated_at = :updated, seq = seq + :one{set_hops} "
            "REMOVE lease_expires_at",
            condition="#status = :running",
            values=values,
        )
        return int(attributes["seq"]) if attributes is not None else None

    def note_external_call(self, job_id: str, call: ExternalCall) -> None:
        self._update_if(
            job_id,
            update="SET external_call = :call",
            condition="#status = :running",
            values={":call": call.model_dump(mode="json"), ":running": JobStatus.RUNNING.value},
        )

    def adopt_result(self, job_id: str, source: JobRecord, *, updated_at: str) -> JobRecord | None:
        attributes = self._update_if(
            job_id,
            update="SET #status = :succeeded, progress = :one, result_key = :key, "
            "provider = :provider, model = :model, params = :params, reproducible = :repro, "
            "params_native = :native, offline_fallback = :offline, "
            "updated_at = :updated, seq = if_not_exists(seq, :zero) + :one",
            condition="attribute_exists(id) AND NOT #status IN (:succeeded, :failed, :canceled)",
            values={
                ":succeeded": JobStatus.SUCCEEDED.value,
                ":failed": JobStatus.FAILED.value,
                ":canceled": JobStatus.CANCELED.value,
                ":key": source.result_key,
                ":provider": source.provider,
                ":model": source.model,
                ":params": source.params.model_dump(mode="json"),
                ":repro": source.reproducible,
                # The picture's parameters as its provider ran them, like params.
                ":native": dict(source.params_native),
                ":offline": source.offline_fallback,
                ":updated": updated_at,
                ":zero": 0,
                ":one": 1,
            },
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    # -- the sweep ------------------------------------------------------------------------

    def stuck(self, *, now: datetime, running_grace_s: int, queued_for_s: int) -> list[StuckJob]:
        lease_ended_before = int(now.timestamp()) - running_grace_s
        running = self._by_status(
            JobStatus.RUNNING,
            # Only a handful of jobs run at once (the processor's concurrency caps them).
            filter_expression="lease_expires_at < :lease_ended_before",
            values={":lease_ended_before": lease_ended_before},
        )
        queued = self._by_status(
            JobStatus.QUEUED,
            key_condition=" AND updated_at < :written_before",
            values={":written_before": (now - timedelta(seconds=queued_for_s)).isoformat()},
        )
        return [_stuck_job(item) for item in [*running, *queued]]

    def requeue_unchanged(self, job_id: str, *, seq: int, updated_at: str) -> int | None:
        attributes = self._update_if(
            job_id,
            update="SET #status = :queued, updated_at = :updated, seq = seq + :one "
            "REMOVE lease_expires_at",
            condition="#status = :running AND seq = :seen",
            values={
                ":queued": JobStatus.QUEUED.value,
                ":running": JobStatus.RUNNING.value,
                ":updated": updated_at,
                ":seen": seq,
                ":one": 1,
            },
        )
        return int(attributes["seq"]) if attributes is not None else None

    def note_resent(self, job_id: str, *, seq: int, at: str) -> bool:
        # No seq bump: nothing a client shows has changed.
        attributes = self._update_if(
            job_id,
            update="SET requeued_at = :at, updated_at = :at",
            condition="#status = :queued AND seq = :seen",
            values={":at": at, ":queued": JobStatus.QUEUED.value, ":seen": seq},
        )
        return attributes is not None

    def fail_unchanged(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        seq: int,
        updated_at: str,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        values: dict[str, Any] = {
            ":failed": JobStatus.FAILED.value,
            ":error": error.model_dump(mode="json"),
            ":updated": updated_at,
            ":seen": seq,
            ":succeeded": JobStatus.SUCCEEDED.value,
            ":canceled": JobStatus.CANCELED.value,
            ":one": 1,
        }
        cost = ""
        if cost_usd is not None:
            cost = ", cost_usd = :cost"
            values[":cost"] = cost_usd
        attributes = self._update_if(
            job_id,
            update="SET #status = :failed, #error = :error, updated_at = :updated, "
            f"seq = seq + :one{cost} REMOVE lease_expires_at",
            condition="seq = :seen AND NOT #status IN (:succeeded, :failed, :canceled)",
            values=values,
            names={"#error": "error"},
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    # -- cancel ---------------------------------------------------------------------------

    def cancel(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        expected: JobStatus,
        updated_at: str,
        seq_bump: int = 1,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        values: dict[str, Any] = {
            ":canceled": JobStatus.CANCELED.value,
            ":error": error.model_dump(mode="json"),
            ":updated": updated_at,
            ":expected": expected.value,
            ":zero": 0,
            ":bump": max(1, seq_bump),
        }
        cost = ""
        if cost_usd is not None:
            cost = ", cost_usd = :cost"
            values[":cost"] = cost_usd
        attributes = self._update_if(
            job_id,
            update="SET #status = :canceled, #error = :error, updated_at = :updated, "
            f"seq = if_not_exists(seq, :zero) + :bump{cost}",
            condition="#status = :expected",
            values=values,
            names={"#error": "error"},
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    def note_canceled_cost(
        self, job_id: str, *, cost_usd: float, hops: list[HopInfo], updated_at: str
    ) -> JobRecord | None:
        # No seq bump: no frame follows, the canceled frame was the last.
        attributes = self._update_if(
            job_id,
            update="SET cost_usd = :cost, hops = :hops, updated_at = :updated "
            "REMOVE lease_expires_at",
            condition="#status = :canceled",
            values={
                ":cost": cost_usd,
                ":hops": [hop.model_dump(mode="json") for hop in hops],
                ":updated": updated_at,
                ":canceled": JobStatus.CANCELED.value,
            },
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    def follow_instead(
        self, job_id: str, *, was: str | None, leader_job_id: str | None, seq: int, updated_at: str
    ) -> JobRecord | None:
        values: dict[str, Any] = {
            ":queued": JobStatus.QUEUED.value,
            ":seq": seq,
            ":updated": updated_at,
        }
        # None is never stored (dynamo_codec drops it): an absent attribute.
        if was is None:
            condition = "attribute_not_exists(leader_job_id)"
        else:
            condition = "leader_job_id = :was"
            values[":was"] = was
        if leader_job_id is None:
            update = "SET seq = :seq, updated_at = :updated REMOVE leader_job_id"
        else:
            update = "SET leader_job_id = :leader, seq = :seq, updated_at = :updated"
            values[":leader"] = leader_job_id
        attributes = self._update_if(
            job_id, update=update, condition=f"#status = :queued AND {condition}", values=values
        )
        return JobRecord.model_validate(attributes) if attributes is not None else None

    def _by_status(
        self,
        status: JobStatus,
        *,
        key_condition: str = "",
        filter_expression: str | None = None,
        values: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Every item of the ``by_status`` index with this status that matches, all pages."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": "#status = :status" + key_condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                key: to_value(value) for key, value in {":status": status.value, **values}.items()
            },
        }
        if filter_expression:
            request["FilterExpression"] = filter_expression
        items: list[dict[str, Any]] = []
        while True:
            response = self._call("query", **request)
            items.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _update_if(
        self,
        job_id: str,
        *,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Apply a conditional update; the new item, or None when the condition does not hold."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": job_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues={key: to_value(value) for key, value in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise InternalError("The job store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The job store is unavailable.") from exc
        return from_item(response["Attributes"])

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The job store is unavailable.") from exc


def _stuck_job(item: dict[str, Any]) -> StuckJob:
    lease = item.get("lease_expires_at")
    return StuckJob(
        id=str(item["id"]),
        status=JobStatus(item["status"]),
        updated_at=str(item["updated_at"]),
        seq=int(item.get("seq", 0)),
        attempts=int(item.get("attempts", 0)),
        lease_expires_at=int(lease) if lease is not None else None,
        requeued_at=item.get("requeued_at"),
        leader_job_id=item.get("leader_job_id"),
        priority="batch" if item.get("priority") == "batch" else "interactive",
    )


def _is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
