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
    InternalError,
    InvalidParamsError,
    JobCanceledError,
    ProviderError,
    SketchbridgeError,
)
from sketchbridge.domain.ledger import LedgerRecord
from sketchbridge.domain.models import (
    ExternalCall,
    HopInfo,
    JobRecord,
)
from sketchbridge.domain.redelivery import redelivery_delay_s
from sketchbridge.domain.result_keys import result_key_of
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.providers.base import ImageProvider, ProgressUpdate, ProviderRequest
from sketchbridge.services.cancel_job import CancelWatch, settle_canceled
from sketchbridge.services.cost_tracking import bill_calls, job_cost_usd, record_joined
from sketchbridge.services.delivery_endings import (
    ProducedResult,
    complete_job,
    drawing_for,
    emit,
    fail_job,
    hop_info,
    hop_message,
    release_job,
    result_of_an_earlier_delivery,
    retry_message,
    share_result,
    store_preview,
)
from sketchbridge.services.job_events import RecentSubscribers
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

    emit(deps, record, "status", seq=record.seq, message=f"running on {record.provider}")
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
            release_job(
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
        fail_job(record, error, deps, hops=hops, billed=billed, progress_shown=shown.value)
        return ProcessResult(job_id, Outcome.FAILED)
    except Exception:
        # A bug: record the outcome on the last delivery so the user is not left
        # waiting, and re-raise so the message reaches the dead-letter queue.
        if receive_count >= deps.max_receive_count:
            fail_job(
                record, InternalError("Something went wrong on our side."), deps, billed=billed
            )
        else:
            delay = redelivery_delay_s(receive_count)
            release_job(
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
        share_result(finished, deps)
        emit(
            deps,
            finished,
            "result",
            seq=finished.seq,
            result=result_info(finished, deps.objects, url_ttl=deps.result_url_ttl_seconds),
        )
    return ProcessResult(job_id, Outcome.SUCCEEDED)


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
        emit(
            deps,
            record,
            "progress",
            seq=seq,
            progress=progress,
            step=update.step,
            total_steps=update.total_steps,
            message=update.message,
            preview_url=store_preview(record, update, deps),
        )

    def on_hop(hop: Hop, next_provider: str | None) -> None:
        nonlocal latest_seq, hop_base
        hops.append(hop_info(hop))
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
        emit(
            deps,
            record,
            "status",
            seq=seq,
            progress=shown.value,
            message=hop_message(hop, next_provider),
        )

    result_key = result_key_of(record)
    found = result_of_an_earlier_delivery(record, deps)
    if found is not None:
        earlier_key, earlier = found
        done = complete_job(
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
        request = drawing_for(provider, base_request, record)
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
        hops[earlier_hops:] = [hop_info(hop) for hop in failed.hops]
        billed.extend(bill_calls(record, failed.hops, deps, manager=manager))
        raise failed.error from failed
    hops.append(hop_info(chain.hops[-1]))
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
    return complete_job(
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
