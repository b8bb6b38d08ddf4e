"""Run one queued job: claim it, render it, store the result, tell the subscribers.

This is the only use case that calls providers. What is retryable is re-raised
so the queue delivers the job again (and, in the end, to the dead-letter
queue); what is final is recorded on the job, so the client always learns the
outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import (
    ContentPolicyError,
    InternalError,
    InvalidParamsError,
    JobCanceledError,
    ProviderError,
    SketchbridgeError,
)
from sketchbridge.domain.ledger import LedgerRecord
from sketchbridge.domain.models import (
    CacheRecord,
    ErrorInfo,
    ExternalCall,
    HopInfo,
    JobEventMessage,
    JobRecord,
    JobStatus,
)
from sketchbridge.domain.redelivery import redelivery_delay_s
from sketchbridge.domain.result_keys import RESULTS_PREFIX, result_key_of
from sketchbridge.domain.suggestions import outage_suggestions, policy_suggestions
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.providers.base import ImageProvider, ProgressUpdate, ProviderRequest
from sketchbridge.services.cancel_job import CancelWatch, settle_canceled
from sketchbridge.services.cost_tracking import bill_calls, job_cost_usd, record_joined
from sketchbridge.services.job_events import RecentSubscribers, publish
from sketchbridge.services.job_views import result_info
from sketchbridge.services.parameter_checks import Resolved, adapter_native, resolve_on
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.progress_relay import ProgressRelay
from sketchbridge.services.provider_chain import ChainFailedError, Hop, run_chain
from sketchbridge.services.provider_manager import ProviderManager, price_of
from sketchbridge.services.reservations import settle_job


class JobBusyError(InternalError):
    """Another delivery of the same job holds its lease: try this message again later."""

    code = "job_busy"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALREADY_DONE = "already_done"
    CANCELED = "canceled"
    MISSING = "missing"


@dataclass(frozen=True)
class ProcessResult:
    job_id: str
    outcome: Outcome


@dataclass
class _ProgressShown:
    """The highest progress this delivery has told the subscribers (and stored): no frame
    goes below it, whichever provider, preview or redelivery the next one comes from."""

    value: float


def process_job(
    job_id: str,
    *,
    receive_count: int,
    deps: Dependencies,
    retry_in: Callable[[int], None] | None = None,
) -> ProcessResult:
    """Process one delivery of a job message.

    Raises ``JobBusyError`` or a retryable error when the message should be
    delivered again; returns when the message can be deleted. Before a retryable
    error is raised, ``retry_in(seconds)`` hears when the job should be tried again
    (``domain.redelivery``): the caller hides the message that long, so the next try
    comes in seconds, not at the queue's visibility timeout; the subscribers have
    already been told why and when.
    """
    # This job's frames look its subscribers up at most once a second (see RecentSubscribers).
    deps = replace(deps, connections=RecentSubscribers(deps.connections))
    now = deps.clock()
    record = deps.jobs.claim(job_id, now=int(now.timestamp()), lease_seconds=deps.job_lease_seconds)
    if record is None:
        existing = deps.jobs.get(job_id)
        if existing is None:
            return ProcessResult(job_id, Outcome.MISSING)
        if existing.status.is_final:
            # The delivery that ended it may have died before settling its reservation.
            if not settle_canceled(job_id, deps, current=existing):
                settle_job(deps, existing)
            return ProcessResult(job_id, Outcome.ALREADY_DONE)
        raise JobBusyError(f"Job {job_id} is being processed by another delivery.")

    _emit(deps, record, "status", seq=record.seq, message=f"running on {record.provider}")
    # Every delivery's hops stay on the job, the earlier ones first: success or verdict, the
    # job shows each try.
    hops: list[HopInfo] = list(record.hops)
    # The ledger entries of this delivery's billed calls, failed ones included.
    billed: list[LedgerRecord] = []
    shown = _ProgressShown(record.progress)
    # Its owner may cancel it while it runs (services/cancel_job.py).
    watch = CancelWatch(job_id, deps.jobs)
    try:
        finished = _render(record, deps, hops, billed, shown, watch)
    except JobCanceledError:
        # Not a failure: no retry, no failover; the cancel already told the subscribers.
        settle_canceled(job_id, deps, hops=hops, billed=billed)
        return ProcessResult(job_id, Outcome.CANCELED)
    except SketchbridgeError as error:
        final = not error.retryable or receive_count >= deps.max_receive_count
        if not final:
            retry_after = error.retry_after_s if isinstance(error, ProviderError) else None
            delay = redelivery_delay_s(receive_count, retry_after)
            _release(
                record,
                deps,
                reason=retry_message(error.message, delay, receive_count, deps.max_receive_count),
                hops=hops,
                retry_in_s=delay,
                progress=shown.value,
            )
            if retry_in is not None:
                retry_in(delay)
            raise
        _fail(record, error, deps, hops=hops, billed=billed, progress_shown=shown.value)
        return ProcessResult(job_id, Outcome.FAILED)
    except Exception:
        # A bug: record the outcome on the last delivery so the user is not left
        # waiting, and re-raise so the message reaches the dead-letter queue.
        if receive_count >= deps.max_receive_count:
            _fail(record, InternalError("Something went wrong on our side."), deps, billed=billed)
        else:
            delay = redelivery_delay_s(receive_count)
            _release(
                record,
                deps,
                reason=retry_message(
                    "Something went wrong on our side.",
                    delay,
                    receive_count,
                    deps.max_receive_count,
                ),
                retry_in_s=delay,
                progress=shown.value,
            )
            if retry_in is not None:
                retry_in(delay)
        raise

    if finished is None and settle_canceled(job_id, deps, hops=hops, billed=billed):
        # Canceled while the picture was drawn: it is not written over the canceled job.
        return ProcessResult(job_id, Outcome.CANCELED)
    if finished is not None:
        # The reservation becomes what the job cost (settling twice changes nothing).
        settle_job(deps, finished)
        deps.metrics.add(metrics.JOB_SUCCEEDED, 1)
        _share_result(finished, deps)
        _emit(
            deps,
            finished,
            "result",
            seq=finished.seq,
            result=result_info(finished, deps.objects, url_ttl=deps.result_url_ttl_seconds),
        )
    return ProcessResult(job_id, Outcome.SUCCEEDED)


def _share_result(finished: JobRecord, deps: Dependencies) -> None:
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


def _render(
    record: JobRecord,
    deps: Dependencies,
    hops: list[HopInfo],
    billed: list[LedgerRecord],
    shown: _ProgressShown,
    watch: CancelWatch,
) -> JobRecord | None:
    """Generate and store the result; the finished record, or None if the lease was lost.

    ``hops`` collects every provider tried, for the job record, success or not (after the
    earlier deliveries' hops it starts with); ``billed`` the ledger entries of the calls that
    were billed.
    """
    earlier_hops = len(hops)
    sketch = decode_sketch(deps.objects.get(record.sketch_key)).image
    params = record.params
    latest_seq = record.seq
    # Each provider counts its steps from 0: a hop's (or a redelivery's) steps fill what is
    # left above the progress already shown, so a subscriber never sees it go back.
    hop_base = record.progress
    # Frames numbered in memory, progress written about once a second (progress_relay.py).
    relay = ProgressRelay(
        deps.jobs, record.id, seq=record.seq, updated_at=lambda: deps.clock().isoformat()
    )

    def on_progress(update: ProgressUpdate) -> None:
        nonlocal latest_seq
        fraction = update.step / update.total_steps if update.total_steps else 0.0
        progress = round(max(shown.value, hop_base + (1.0 - hop_base) * fraction), 4)
        writes_before = relay.writes
        seq = relay.next_frame(progress, expected=update.total_steps - update.step)
        if seq is None:
            watch.stopped()  # canceled, perhaps: the adapter hears it from should_stop
            return  # the job no longer runs here: say nothing that contradicts its record
        if relay.writes != writes_before:
            watch.confirmed()  # a conditional write went through: it still runs here
        latest_seq, shown.value = relay.stored_seq, progress
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

    def on_hop(hop: Hop, next_provider: str | None) -> None:
        nonlocal latest_seq, hop_base
        hops.append(_hop_info(hop))
        if next_provider is None:
            return
        hop_base = shown.value
        deps.metrics.add(metrics.PROVIDER_FAILED_OVER, 1, {"Provider": hop.provider})
        seq = relay.next_frame(shown.value, write=True)
        if seq is None:
            watch.stopped()
            return
        watch.confirmed()
        latest_seq = relay.stored_seq
        _emit(
            deps,
            record,
            "status",
            seq=seq,
            progress=shown.value,
            message=hop_message(hop, next_provider),
        )

    result_key = result_key_of(record)
    found = _result_of_an_earlier_delivery(record, deps)
    if found is not None:
        earlier_key, earlier = found
        done = _complete(
            record,
            earlier,
            earlier_key,
            latest_seq,
            deps,
            hops=hops,
            cost_usd=job_cost_usd(record.id, deps),
        )
        if done is not None and earlier.job_id != record.id:
            # The picture an identical job paid for: this one cost nothing, and says so.
            record_joined(
                done,
                leader_job_id=earlier.job_id,
                provider=earlier.provider,
                model=earlier.model,
                deps=deps,
            )
        return done

    # A provider-side job an earlier delivery started (and may have paid for) is
    # followed, not started again; its provider goes first.
    resume = None
    order = record.plan or [record.provider or record.provider_requested]
    if record.external_call is not None and record.attempts > 1:
        resume = (record.external_call.provider, record.external_call.id)
        order = [resume[0], *(name for name in order if name != resume[0])]

    def remember_call(provider_name: str, external_id: str) -> None:
        deps.jobs.note_external_call(
            record.id, ExternalCall(provider=provider_name, id=external_id)
        )

    manager = ProviderManager(deps)
    profiles = manager.profiles()
    # Per provider, the values it runs the job with (its own defaults and ranges).
    ran_with: dict[str, Resolved] = {}

    def request_for(provider: ImageProvider) -> ProviderRequest | str:
        """The request as ``provider`` takes it, or why it cannot take the parameters."""
        request = _drawing_for(provider, base_request, record)
        if record.requested_params is None:
            return request  # written before requests kept what they set: as stored
        try:
            resolved = resolve_on(manager, provider.name, record.requested_params, seed=params.seed)
        except InvalidParamsError as refused:
            return refused.message
        prepared = replace(
            request,
            seed=resolved.seed,
            steps=resolved.steps,
            strength=resolved.strength,
            guidance_scale=resolved.guidance_scale,
        )
        ran_with[provider.name] = replace(
            resolved, native=adapter_native(provider, prepared, resolved.native)
        )
        return prepared

    started = time.monotonic()
    try:
        base_request = ProviderRequest(
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
            should_stop=watch.should_stop,
        )
        chain = run_chain(
            order,
            base_request,
            deps=deps,
            profiles=profiles,
            on_progress=on_progress,
            on_hop=on_hop,
            failover_on_policy=deps.failover_on_policy,
            resume=resume,
            on_started=remember_call,
            request_for=request_for,
        )
    except ChainFailedError as failed:
        # Every provider tried, the last one included, goes on the failed job; what the
        # failed calls were billed goes into the ledger.
        hops[earlier_hops:] = [_hop_info(hop) for hop in failed.hops]
        billed.extend(bill_calls(record, failed.hops, deps, manager=manager))
        raise failed.error from failed
    hops.append(_hop_info(chain.hops[-1]))
    result = chain.result
    profile = profiles.get(chain.provider.name)
    resolved = ran_with.get(chain.provider.name)
    estimate = (
        price_of(
            chain.provider,
            profile.price,
            result.width,
            result.height,
            resolved.steps if resolved else params.steps,
        )
        if profile is not None
        else None
    )
    # The ledger entries come first: they are what proves no call was paid twice. A
    # provider that reported no usage (a test fake) is billed the price table's estimate.
    drawn = chain.hops[-1]
    if drawn.usage is None:
        drawn = replace(
            drawn,
            usage=ProviderUsage(
                provider=chain.provider.name,
                model=result.model,
                images=1,
                width=result.width,
                height=result.height,
            ),
        )
    billed.extend(
        bill_calls(record, [*chain.hops[:-1], drawn], deps, manager=manager, estimate_usd=estimate)
    )
    # Stored before the job's state is written, and labelled with the job: a
    # processor killed in between finds it on redelivery instead of paying again.
    produced = ProducedResult(
        job_id=record.id,
        provider=chain.provider.name,
        model=result.model,
        width=result.width,
        height=result.height,
        bytes=len(result.image_png),
        shareable=record.cache_mode != "bypass",
    )
    # The key is this job's alone, and the put never replaces an object: what a finished
    # job points to stays what it showed its user (a refresh or bypass writes anew).
    if not deps.objects.put_new(
        result_key, result.image_png, content_type="image/png", metadata=produced.as_metadata()
    ):
        # Another delivery of this very job stored its picture first: that one it keeps.
        produced = ProducedResult.from_metadata(deps.objects.metadata(result_key) or {}) or produced
    return _complete(
        record,
        produced,
        result_key,
        latest_seq,
        deps,
        hops=hops,
        cost_usd=job_cost_usd(record.id, deps, known=billed),
        duration_s=round(time.monotonic() - started, 3),
        reproducible=chain.provider.capabilities.seed and result.seed is not None,
        ran_with=resolved,
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


def _hop_info(hop: Hop) -> HopInfo:
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


def _result_of_an_earlier_delivery(
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


def _complete(
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
            "offline_fallback": _offline_fallback(record, produced.provider, deps),
            "updated_at": deps.clock().isoformat(),
            "lease_expires_at": None,
            "seq": latest_seq + 1,
        }
    )
    return finished if deps.jobs.complete(finished) else None


def _offline_fallback(record: JobRecord, provider_name: str, deps: Dependencies) -> bool:
    """Did a non-AI provider the request did not name (the offline renderer) draw it?"""
    if provider_name == record.provider_requested:
        return False
    try:
        return not deps.providers.resolve(provider_name).is_ai
    except SketchbridgeError:
        return False


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
        specific = policy_suggestions(record.prompt)
    elif isinstance(error, ProviderError) and error.failover:
        specific = outage_suggestions(
            error.provider, deps.providers.names, retryable=error.retryable
        )
    else:
        specific = []
    return list(dict.fromkeys([*specific, *error.suggestions]))


def _drawing_for(
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


def _release(
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
        _emit(
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


def _fail(
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
        suggestions=_suggestions_for(error, record, deps),
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
        _emit(
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
            "warnings": record.warnings or None,
            **fields,
        }
    )
    publish(message, connections=deps.connections, pusher=deps.pusher)
