"""How a stored job looks to its owner: the API response and the WebSocket frames."""

from __future__ import annotations

from sketchbridge.domain.models import (
    JobEventMessage,
    JobRecord,
    JobResponse,
    JobStatus,
    ResultInfo,
)
from sketchbridge.services.ports import ObjectStore


def result_info(record: JobRecord, objects: ObjectStore, *, url_ttl: int) -> ResultInfo | None:
    if record.status is not JobStatus.SUCCEEDED or record.result_key is None:
        return None
    return ResultInfo(
        url=objects.presigned_url(record.result_key, expires_in=url_ttl),
        width=record.params.width,
        height=record.params.height,
        provider=record.provider or record.provider_requested,
        model=record.model or "",
        seed=record.params.seed if record.reproducible else None,
        reproducible=record.reproducible,
    )


def job_response(record: JobRecord, objects: ObjectStore, *, url_ttl: int) -> JobResponse:
    return JobResponse(
        id=record.id,
        status=record.status,
        progress=record.progress,
        prompt=record.prompt,
        provider=record.provider or record.provider_requested,
        params=record.params,
        created_at=record.created_at,
        updated_at=record.updated_at,
        result=result_info(record, objects, url_ttl=url_ttl),
        error=record.error,
        cached=record.cached,
        group_id=record.group_id,
        quote=record.quote,
        cost_usd=record.cost_usd,
        duration_s=record.duration_s,
        hops=record.hops,
        seq=record.seq,
        warnings=record.warnings,
        params_native=record.params_native,
        offline_fallback=record.offline_fallback,
        parent_id=record.parent_id,
        root_id=record.root_id or record.id,
        depth=record.depth,
    )


def current_state_message(
    record: JobRecord, objects: ObjectStore, *, url_ttl: int
) -> JobEventMessage:
    """The frame a late subscriber gets first, so it never misses the end."""
    if record.status is JobStatus.SUCCEEDED:
        return JobEventMessage(
            type="result",
            job_id=record.id,
            seq=record.seq,
            status=record.status,
            progress=1.0,
            result=result_info(record, objects, url_ttl=url_ttl),
            warnings=record.warnings or None,
        )
    if record.status is JobStatus.CANCELED:
        return canceled_frame(record)
    if record.status is JobStatus.FAILED:
        return JobEventMessage(
            type="error",
            job_id=record.id,
            seq=record.seq,
            status=record.status,
            progress=record.progress,
            error=record.error,
            warnings=record.warnings or None,
        )
    where = f" on {record.provider}" if record.provider else ""
    return JobEventMessage(
        type="status",
        job_id=record.id,
        seq=record.seq,
        status=record.status,
        progress=record.progress,
        message=f"{record.status.value}{where}",
        warnings=record.warnings or None,
    )


CANCELED_MESSAGE = "You canceled this generation."


def canceled_frame(record: JobRecord) -> JobEventMessage:
    """The last frame of a canceled job, shaped like a failed job's (``type`` "canceled")."""
    return JobEventMessage(
        type="canceled",
        job_id=record.id,
        seq=record.seq,
        status=JobStatus.CANCELED,
        progress=record.progress,
        message=CANCELED_MESSAGE,
        error=record.error,
        warnings=record.warnings or None,
    )
