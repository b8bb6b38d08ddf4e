"""Run one queued job: claim it, render it, store the result, tell the subscribers.

This is the only use case that calls providers. What is retryable is re-raised
so the queue delivers the job again (and, in the end, to the dead-letter
queue); what is final is recorded on the job, so the client always learns the
outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sketchbridge.domain.errors import (
    ContentPolicyError,
    InternalError,
    ProviderError,
    SketchbridgeError,
)
from sketchbridge.domain.models import ErrorInfo, JobEventMessage, JobRecord, JobStatus
from sketchbridge.domain.suggestions import outage_suggestions, policy_suggestions
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest
from sketchbridge.services.job_events import publish
from sketchbridge.services.job_views import result_info
from sketchbridge.services.ports import Dependencies


class JobBusyError(InternalError):
    """Another delivery of the same job holds its lease: try this message again later."""

    code = "job_busy"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALREADY_DONE = "already_done"
    MISSING = "missing"


@dataclass(frozen=True)
class ProcessResult:
    job_id: str
    outcome: Outcome


def process_job(job_id: str, *, receive_count: int, deps: Dependencies) -> ProcessResult:
    """Process one delivery of a job message.

    Raises ``JobBusyError`` or a retryable error when the message should be
    delivered again; returns when the message can be deleted.
    """
    now = deps.clock()
    record = deps.jobs.claim(job_id, now=int(now.timestamp()), lease_seconds=deps.job_lease_seconds)
    if record is None:
        existing = deps.jobs.get(job_id)
        if existing is None:
            return ProcessResult(job_id, Outcome.MISSING)
        if existing.status.is_final:
            return ProcessResult(job_id, Outcome.ALREADY_DONE)
        raise JobBusyError(f"Job {job_id} is being processed by another delivery.")

    _emit(deps, record, "status", seq=record.seq, message=f"running on {record.provider}")
    try:
        finished = _render(record, deps)
    except SketchbridgeError as error:
        final = not error.retryable or receive_count >= deps.max_receive_count
        if not final:
            _release(record, deps, reason=f"{error.message} Retrying.")
            raise
        _fail(record, error, deps)
        return ProcessResult(job_id, Outcome.FAILED)
    except Exception:
        # A bug: record the outcome on the last delivery so the user is not left
        # waiting, and re-raise so the message reaches the dead-letter queue.
        if receive_count >= deps.max_receive_count:
            _fail(record, InternalError("Something went wrong on our side."), deps)
        else:
            _release(record, deps, reason="Something went wrong on our side. Retrying.")
        raise

    if finished is not None:
        _emit(
            deps,
            finished,
            "result",
            seq=finished.seq,
            result=result_info(finished, deps.objects, url_ttl=deps.result_url_ttl_seconds),
        )
    return ProcessResult(job_id, Outcome.SUCCEEDED)


def _render(record: JobRecord, deps: Dependencies) -> JobRecord | None:
    """Generate and store the result; the finished record, or None if the lease was lost."""
    provider = deps.providers.resolve(record.provider or record.provider_requested)
    sketch = decode_sketch(deps.objects.get(record.sketch_key)).image
    params = record.params
    latest_seq = record.seq

    def on_progress(update: ProgressUpdate) -> None:
        nonlocal latest_seq
        progress = round(update.step / update.total_steps, 4)
        seq = deps.jobs.record_progress(record.id, progress, updated_at=deps.clock().isoformat())
        if seq is None:
            return  # the job no longer runs here: say nothing that contradicts its record
        latest_seq = seq
        _emit(
            deps,
            record,
            "progress",
            seq=seq,
            progress=progress,
            step=update.step,
            total_steps=update.total_steps,
            message=update.message,
            preview_url=_store_preview(record, update, deps),
        )

    result = provider.generate(
        ProviderRequest(
            sketch=sketch,
            prompt=f"{record.prompt}; {record.prompt_hint}"
            if record.prompt_hint
            else record.prompt,
            negative_prompt=record.negative_prompt,
            seed=params.seed,
            steps=params.steps,
            strength=params.strength,
            guidance_scale=params.guidance_scale,
            width=params.width,
            height=params.height,
            timeout_s=deps.provider_timeout_seconds,
        ),
        on_progress,
    )
    result_key = f"results/{record.fingerprint}.png"
    deps.objects.put(result_key, result.image_png, content_type="image/png")
    finished = record.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "provider": provider.name,
            "model": result.model,
            "result_key": result_key,
            "params": params.model_copy(update={"width": result.width, "height": result.height}),
            "updated_at": deps.clock().isoformat(),
            "lease_expires_at": None,
            "seq": latest_seq + 1,
        }
    )
    return finished if deps.jobs.complete(finished) else None


def _store_preview(record: JobRecord, update: ProgressUpdate, deps: Dependencies) -> str | None:
    """Store a partial image and return its URL: frames carry URLs, never image bytes."""
    if update.preview_png is None:
        return None
    key = f"previews/{record.id}/{update.step}.png"
    deps.objects.put(key, update.preview_png, content_type="image/png")
    return deps.objects.presigned_url(key, expires_in=deps.result_url_ttl_seconds)


def _suggestions_for(error: SketchbridgeError, record: JobRecord, deps: Dependencies) -> list[str]:
    """The error's own advice, made specific to this prompt and this deployment."""
    if isinstance(error, ContentPolicyError):
        return [*policy_suggestions(record.prompt), *error.suggestions]
    if isinstance(error, ProviderError) and error.failover:
        return [*outage_suggestions(error.provider, deps.providers.names), *error.suggestions]
    return list(error.suggestions)


def _release(record: JobRecord, deps: Dependencies, *, reason: str) -> None:
    seq = deps.jobs.release(record.id, updated_at=deps.clock().isoformat())
    if seq is not None:
        _emit(deps, record, "status", seq=seq, message=reason, status=JobStatus.QUEUED)


def _fail(record: JobRecord, error: SketchbridgeError, deps: Dependencies) -> None:
    info = ErrorInfo(
        code=error.code,
        message=error.message,
        suggestions=_suggestions_for(error, record, deps),
        retryable=error.retryable,
    )
    stored = deps.jobs.fail(record.id, info, updated_at=deps.clock().isoformat())
    if stored is not None:
        _emit(deps, stored, "error", seq=stored.seq, error=info, status=JobStatus.FAILED)


def _emit(
    deps: Dependencies,
    record: JobRecord,
    kind: str,
    *,
    seq: int,
    status: JobStatus | None = None,
    progress: float | None = None,
    **fields: object,
) -> None:
    final_progress = 1.0 if kind == "result" else record.progress
    message = JobEventMessage.model_validate(
        {
            "type": kind,
            "job_id": record.id,
            "seq": seq,
            "status": status or (JobStatus.SUCCEEDED if kind == "result" else record.status),
            "progress": progress if progress is not None else final_progress,
            **fields,
        }
    )
    publish(message, connections=deps.connections, pusher=deps.pusher)
