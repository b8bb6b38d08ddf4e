"""How a delivery of a job ends and what its subscribers are told: the result stored and
shared, a retry given back to the queue, a failure recorded, each frame emitted; and the
small rules the processor's render loop leans on (the drawing a hop gets, hop and retry
messages). ``process_job`` is the loop; this is what it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.errors import (
    ContentPolicyError,
    ProviderError,
    SketchbridgeError,
)
from sketchbridge.domain.ledger import LedgerRecord
from sketchbridge.domain.models import (
    CacheRecord,
    ErrorInfo,
    HopInfo,
    JobEventMessage,
    JobRecord,
    JobStatus,
)
from sketchbridge.domain.result_keys import RESULTS_PREFIX, result_key_of
from sketchbridge.domain.suggestions import outage_suggestions, policy_suggestions
from sketchbridge.providers.base import ImageProvider, ProgressUpdate, ProviderRequest
from sketchbridge.services.cancel_job import settle_canceled
from sketchbridge.services.cost_tracking import job_cost_usd, record_joined
from sketchbridge.services.job_events import publish
from sketchbridge.services.parameter_checks import Resolved
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_chain import Hop
from sketchbridge.services.reservations import settle_job


def share_result(finished: JobRecord, deps: Dependencies) -> None:
    """Cache the result and hand it to the identical jobs that followed this one."""
    if finished.cache_mode == "bypass" or finished.result_key is None:
        return
    deps.cache.put(
        CacheRecord(
            fingerprint=finished.fingerprint,
            result_key=finished.result_key,
            provider=finished.provider or finished.provider_requested,
            model=finished.model or "",
            seed=finished.params.seed if finished.reproducible else None,
            width=finished.params.width,
            height=finished.params.height,
            reproducible=finished.reproducible,
            # Known from the render: no second read of the object to learn its size.
            bytes=finished.result_bytes or 0,
            # What a cache hit saves: what this picture cost to make (ProviderCostSaved).
            cost_usd=finished.cost_usd or 0.0,
            created_at=finished.updated_at,
            expires_at=finished.expires_at,
        )
    )
    for follower_id in deps.cache.finish_flight(finished.fingerprint, finished.id):
        adopted = deps.jobs.adopt_result(follower_id, finished, updated_at=deps.clock().isoformat())
        if adopted is not None:
            record_joined(
                adopted,
                leader_job_id=finished.id,
                provider=finished.provider or finished.provider_requested,
                model=finished.model or "",
                deps=deps,
            )


def hop_message(hop: Hop, next_provider: str) -> str:
    """The status line a user sees when a job moves on.

    For example: "replicate is rate-limited, trying openai".
    """
    if next_provider == hop.provider:
        return f"{hop.provider} asked us to wait a moment; trying it again"
    why = {
        "circuit_open": "is paused after repeated failures",
        "rate_limited_locally": "is at its rate limit",
        "rate_limited": "is rate-limited",
        "quota_exhausted": "is out of credit",
        "auth_failed": "is not set up correctly",
        "timeout": "did not answer in time",
        "provider_unavailable": "is unavailable",
        "content_policy": "refused the request",
        "parameters_out_of_range": "cannot take these parameters",
    }.get(hop.outcome, f"failed ({hop.outcome})")
    return f"{hop.provider} {why}, trying {next_provider}"


def retry_message(why: str, delay_s: int, receive_count: int, max_receive_count: int) -> str:
    """The status line of a job that goes back to its queue.

    For example: "Replicate is unavailable (HTTP 503). Trying again in 10 s (try 2 of 3)."
    """
    return f"{why} Trying again in {delay_s} s (try {receive_count + 1} of {max_receive_count})."


def hop_info(hop: Hop) -> HopInfo:
    return HopInfo(
        provider=hop.provider, outcome=hop.outcome, seconds=hop.seconds, message=hop.message
    )


# How many stored pictures of one request a job looks through for one it may reuse.
_EARLIER_RESULTS_LOOKED_AT = 20


@dataclass(frozen=True)
class ProducedResult:
    """What a stored result says about itself (its S3 metadata)."""

    job_id: str
    provider: str
    model: str
    width: int
    height: int
    bytes: int
    # False for a bypass job's picture: it stays out of the cache, so no other job reuses it.
    shareable: bool = True

    def as_metadata(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.__dict__.items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ProducedResult | None:
        try:
            return cls(
                job_id=metadata["job_id"],
                provider=metadata["provider"],
                model=metadata["model"],
                width=int(metadata["width"]),
                height=int(metadata["height"]),
                bytes=int(metadata["bytes"]),
                shareable=metadata.get("shareable", "True") == "True",
            )
        except (KeyError, ValueError):
            return None


def result_of_an_earlier_delivery(
    record: JobRecord, deps: Dependencies
) -> tuple[str, ProducedResult] | None:
    """A stored result (its key and what it says) this job may use instead of paying again.

    Its own, stored before a crash; or, when the job may use the cache, one an
    identical job stored before it died without caching it (its flight may have
    expired before its redelivery, letting this job lead: the redelivery harness
    caught that paying twice). A refresh or bypass job always draws anew.
    """
    own_key = result_key_of(record)
    if record.attempts > 1:
        own = ProducedResult.from_metadata(deps.objects.metadata(own_key) or {})
        if own is not None and own.job_id == record.id:
            return own_key, own
    if record.cache_mode != "use":
        return None
    prefix = f"{RESULTS_PREFIX}{record.fingerprint}/"
    for key in deps.objects.keys(prefix, limit=_EARLIER_RESULTS_LOOKED_AT):
        if key == own_key:
            continue
        produced = ProducedResult.from_metadata(deps.objects.metadata(key) or {})
        if produced is not None and produced.shareable:
            return key, produced
    return None


def complete_job(
    record: JobRecord,
    produced: ProducedResult,
    result_key: str,
    latest_seq: int,
    deps: Dependencies,
    *,
    hops: list[HopInfo],
    cost_usd: float | None = None,
    duration_s: float | None = None,
    reproducible: bool | None = None,
    ran_with: Resolved | None = None,
) -> JobRecord | None:
    params = record.params
    if ran_with is not None:
        # What the provider that drew it ran (a failover hop's own defaults, not the pick's).
        params = params.model_copy(
            update={
                "seed": ran_with.seed,
                "steps": ran_with.steps,
                "strength": ran_with.strength,
                "guidance_scale": ran_with.guidance_scale,
            }
        )
    finished = record.model_copy(
        update={
            "hops": list(hops),
            "result_bytes": produced.bytes,
            "cost_usd": cost_usd,
            "duration_s": duration_s,
            "reproducible": record.reproducible if reproducible is None else reproducible,
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "provider": produced.provider,
            "model": produced.model,
            "result_key": result_key,
            "params": params.model_copy(
                update={"width": produced.width, "height": produced.height}
            ),
            "params_native": ran_with.native if ran_with is not None else record.params_native,
            "offline_fallback": offline_fallback(record, produced.provider, deps),
            "updated_at": deps.clock().isoformat(),
            "lease_expires_at": None,
            "seq": latest_seq + 1,
        }
    )
    return finished if deps.jobs.complete(finished) else None


def offline_fallback(record: JobRecord, provider_name: str, deps: Dependencies) -> bool:
    """Did a non-AI provider the request did not name (the offline renderer) draw it?"""
    if provider_name == record.provider_requested:
        return False
    try:
        return not deps.providers.resolve(provider_name).is_ai
    except SketchbridgeError:
        return False


def store_preview(record: JobRecord, update: ProgressUpdate, deps: Dependencies) -> str | None:
    """Store a partial image and return its URL: frames carry URLs, never image bytes."""
    if update.preview_png is None:
        return None
    key = f"previews/{record.id}/{update.step}.png"
    deps.objects.put(key, update.preview_png, content_type="image/png")
    return deps.objects.presigned_url(key, expires_in=deps.result_url_ttl_seconds)


def suggestions_for(error: SketchbridgeError, record: JobRecord, deps: Dependencies) -> list[str]:
    """The error's own advice, made specific to this prompt and this deployment."""
    if isinstance(error, ContentPolicyError):
        specific = policy_suggestions(record.prompt)
    elif isinstance(error, ProviderError) and error.failover:
        specific = outage_suggestions(
            error.provider, deps.providers.names, retryable=error.retryable
        )
    else:
        specific = []
    return list(dict.fromkeys([*specific, *error.suggestions]))


def drawing_for(
    provider: ImageProvider, request: ProviderRequest, record: JobRecord
) -> ProviderRequest:
    """The request with a drawing ``provider`` reads.

    Submit prepared the sketch for the provider asked for; a catalog model that reads control
    maps (Replicate's ControlNet scribble) got a white-on-black map. A failover hop to a
    provider without such a target gets it back as dark lines on paper. Only such a hop looks
    (it loads numpy, which an AI job's processor otherwise never does).
    """
    if provider.name == record.provider_requested or getattr(provider, "image_target", None):
        return request
    from sketchbridge.preprocessing.lines import paper_sketch

    drawing = paper_sketch(request.sketch)
    return request if drawing is request.sketch else replace(request, sketch=drawing)


def release_job(
    record: JobRecord,
    deps: Dependencies,
    *,
    reason: str,
    retry_in_s: int,
    hops: list[HopInfo] | None = None,
    progress: float | None = None,
) -> None:
    seq = deps.jobs.release(
        record.id, updated_at=deps.clock().isoformat(), hops=hops, progress=progress
    )
    if seq is not None:
        emit(
            deps,
            record,
            "status",
            seq=seq,
            # What this delivery had shown, not what the job had when it was claimed.
            progress=progress,
            message=reason,
            status=JobStatus.QUEUED,
            retry_in_s=retry_in_s,
        )


def fail_job(
    record: JobRecord,
    error: SketchbridgeError,
    deps: Dependencies,
    *,
    hops: list[HopInfo] | None = None,
    billed: list[LedgerRecord] | None = None,
    progress_shown: float = 0.0,
) -> None:
    info = ErrorInfo(
        code=error.code,
        message=error.message,
        suggestions=suggestions_for(error, record, deps),
        retryable=error.retryable,
    )
    stored = deps.jobs.fail(
        record.id,
        info,
        updated_at=deps.clock().isoformat(),
        hops=hops,
        # What the failed calls were billed, every delivery's: a failure may cost money.
        cost_usd=job_cost_usd(record.id, deps, known=billed or ()),
    )
    if stored is not None:
        # Failed here: the reservation becomes what the failed calls were billed (usually
        # nothing). None: the job had already ended elsewhere, which settled it, or its owner
        # canceled it while it ran, which leaves the settling to this delivery.
        settle_job(deps, stored)
    elif settle_canceled(record.id, deps, hops=hops, billed=billed or ()):
        return
    deps.metrics.add(metrics.JOB_FAILED, 1)
    if record.cache_mode != "bypass":
        # The jobs that followed this one share its end.
        for follower_id in deps.cache.finish_flight(record.fingerprint, record.id):
            deps.jobs.fail(follower_id, info, updated_at=deps.clock().isoformat())
    if stored is not None:
        emit(
            deps,
            stored,
            "error",
            seq=stored.seq,
            error=info,
            status=JobStatus.FAILED,
            # Frames between progress writes (progress_relay.py) may have shown more than
            # the record holds: the last frame does not go below them.
            progress=max(stored.progress, progress_shown),
        )


def emit(
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
            "warnings": record.warnings or None,
            **fields,
        }
    )
    publish(message, connections=deps.connections, pusher=deps.pusher)
