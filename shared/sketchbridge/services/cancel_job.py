"""Cancel a generation: ``POST /generations/{id}/cancel`` and what the processor does about it.

Who does what, by the job's status when the cancel is written (a conditional write, so a
cancel and a processor never both win):

- queued: written ``canceled`` and its reservation settled at once (what earlier deliveries
  were billed, usually nothing). Its message is consumed later without a provider call:
  the processor's claim only takes queued or lease-expired running jobs.
- running: written ``canceled``; the processor learns of it through ``CancelWatch`` (its
  next progress write fails, or a read at most every ``CANCEL_CHECK_INTERVAL_S``), the
  adapter stops the provider's work where it can and raises ``JobCanceledError``, and the
  processor then records what the provider billed (ledger, the job's ``cost_usd``) and
  settles the reservation (``settle_canceled``). A picture that arrives anyway is never
  written over the canceled job (``JobStore.complete`` holds only while it runs).
- a follower (it waits for an identical job in flight, ``leader_job_id``): only the
  follower ends; the job it follows runs on for the others who wait on it.
- a leader with followers: they are not lost. The first becomes a job of its own (a fresh
  reservation, its own message), the others follow it (``run_without_leader``); their
  WebSocket subscriptions move with them. The sweep and submit's late look do the same for
  a follower they find behind a canceled leader.

The owner's subscribers get one final frame, ``type: "canceled"``; a second cancel answers
the same canceled job again; a job that succeeded or failed answers 409 ``job_finished``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from sketchbridge.domain.errors import (
    BudgetExceededError,
    InternalError,
    JobFinishedError,
    QuotaExceededError,
    SketchbridgeError,
)
from sketchbridge.domain.ledger import LedgerRecord
from sketchbridge.domain.models import (
    ErrorInfo,
    HopInfo,
    JobEventMessage,
    JobMessage,
    JobRecord,
    JobResponse,
    JobStatus,
)
from sketchbridge.services.cost_tracking import job_cost_usd
from sketchbridge.services.get_generation import owned_job
from sketchbridge.services.job_views import CANCELED_MESSAGE, canceled_frame, job_response
from sketchbridge.services.ports import Dependencies, JobStore
from sketchbridge.services.reservations import release_reservation, reserve_quotes, settle_job

# How often a running job is read to learn of a cancel when no progress write said so.
CANCEL_CHECK_INTERVAL_S = 2.0
# Between the read and the write a job may move (queued → running → queued on a retry):
# each move is one more try, and a job moves a handful of times in its whole life.
_WRITE_TRIES = 5


def canceled_error() -> ErrorInfo:
    return ErrorInfo(code="canceled", message=CANCELED_MESSAGE, retryable=False)


def cancel_generation(job_id: str, *, user_id: str, deps: Dependencies) -> JobResponse:
    """Cancel the caller's job; the job as it now stands (``canceled``).

    Raises ``NotFoundError`` for an unknown job or another user's, ``JobFinishedError``
    (409) for one that already succeeded or failed.
    """
    record = owned_job(deps.jobs, job_id, user_id=user_id)
    for _ in range(_WRITE_TRIES):
        if record.status is JobStatus.CANCELED:
            return _response(record, deps)
        if record.status.is_final:
            raise JobFinishedError(
                f"Generation {job_id} has already {record.status.value}; nothing to cancel.",
                status=record.status.value,
            )
        stored = _cancel(record, deps)
        if stored is not None:
            return _response(stored, deps)
        record = owned_job(deps.jobs, job_id, user_id=user_id)
    raise _busy(job_id)


def _busy(job_id: str) -> SketchbridgeError:
    return InternalError(f"Generation {job_id} is changing state; cancel it again in a moment.")


def _cancel(record: JobRecord, deps: Dependencies) -> JobRecord | None:
    """One conditional write of ``canceled`` over the status read; None if it moved."""
    now = deps.clock().isoformat()
    if record.leader_job_id is not None:
        # A follower holds no reservation (released when it joined) and calls nothing: it
        # alone ends. Its client saw the leader's seqs, so its final frame goes above them.
        leader = deps.jobs.get(record.leader_job_id)
        seen = leader.seq if leader is not None else record.seq
        stored = deps.jobs.cancel(
            record.id,
            canceled_error(),
            expected=record.status,
            updated_at=now,
            seq_bump=max(1, seen - record.seq + 1),
            cost_usd=0.0,
        )
        if stored is not None:
            _tell(stored, deps, channel=record.leader_job_id)
        return stored
    if record.status is JobStatus.QUEUED:
        # Nothing runs it: what earlier deliveries were billed is all it will ever cost.
        stored = deps.jobs.cancel(
            record.id,
            canceled_error(),
            expected=JobStatus.QUEUED,
            updated_at=now,
            cost_usd=job_cost_usd(record.id, deps),
        )
        if stored is not None:
            settle_job(deps, stored)
    else:
        # Its processor settles it once the provider stopped and said what it billed.
        stored = deps.jobs.cancel(
            record.id, canceled_error(), expected=JobStatus.RUNNING, updated_at=now
        )
    if stored is None:
        return None
    _tell(stored, deps, channel=stored.id)
    _hand_over_flight(stored, deps)
    return stored


def _response(record: JobRecord, deps: Dependencies) -> JobResponse:
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def _tell(record: JobRecord, deps: Dependencies, *, channel: str) -> None:
    """Push the canceled frame to the job's own subscribers only.

    They listen on ``channel`` (the leader's id for a follower); the followers of a
    canceled leader listen there too and must not hear that their own job ended.
    """
    _push(deps, channel, record.id, canceled_frame(record))


def _push(deps: Dependencies, channel: str, client_job_id: str, frame: JobEventMessage) -> None:
    payload = frame.model_dump_json(exclude_none=True).encode()
    for subscriber in deps.connections.subscribers(channel):
        if subscriber.client_job_id != client_job_id:
            continue
        if not deps.pusher.push(subscriber.connection_id, payload):
            deps.connections.remove_connection(subscriber.connection_id)


# ---------------------------------------------------------------- followers of a canceled job

HANDED_OVER_MESSAGE = (
    "The identical generation this one was waiting for was canceled; this one runs on its own."
)


def _hand_over_flight(leader: JobRecord, deps: Dependencies) -> None:
    """The jobs that followed a canceled job go on without it."""
    if leader.cache_mode == "bypass":
        return
    for follower_id in deps.cache.finish_flight(leader.fingerprint, leader.id):
        run_without_leader(follower_id, canceled_leader=leader, deps=deps)


def run_without_leader(follower_id: str, *, canceled_leader: JobRecord, deps: Dependencies) -> None:
    """A follower whose leader was canceled: it runs itself, or follows whoever runs now.

    The move is one conditional write (queued, still behind ``canceled_leader``), so when
    the cancel, the sweep and submit's late look all find it, one of them moves it.
    """
    follower = deps.jobs.get(follower_id)
    if follower is None or follower.status.is_final or follower.leader_job_id != canceled_leader.id:
        return
    # Found by the sweep or submit, the canceled job may still hold the flight (the cancel
    # died before handing it over): end it, and hand over the others who wait on it too.
    for other_id in deps.cache.finish_flight(follower.fingerprint, canceled_leader.id):
        if other_id != follower.id:
            run_without_leader(other_id, canceled_leader=canceled_leader, deps=deps)
    now = deps.clock()
    # Its client saw the old leader's seqs: this job's frames go on above them.
    seq = max(follower.seq, canceled_leader.seq) + 1
    moved = deps.jobs.follow_instead(
        follower.id,
        was=canceled_leader.id,
        leader_job_id=None,
        seq=seq,
        updated_at=now.isoformat(),
    )
    if moved is None:
        return
    subscribers = _move_subscribers(canceled_leader.id, moved.id, moved.id, deps)
    # Its own run needs its own reservation (it gave back its own when it joined).
    try:
        reserve_quotes(
            deps,
            user_id=moved.user_id,
            quotes={moved.id: moved.quote.cost_usd} if moved.quote is not None else {},
        )
    except (BudgetExceededError, QuotaExceededError) as error:
        info = ErrorInfo(
            code=error.code,
            message=error.message,
            suggestions=list(error.suggestions),
            retryable=error.retryable,
        )
        failed = deps.jobs.fail(moved.id, info, updated_at=now.isoformat())
        if failed is not None:
            _push_to(
                deps,
                subscribers,
                JobEventMessage(
                    type="error",
                    job_id=failed.id,
                    seq=failed.seq,
                    status=JobStatus.FAILED,
                    progress=failed.progress,
                    error=info,
                ),
            )
        return
    leader_id = deps.cache.lead_or_follow(
        moved.fingerprint,
        moved.id,
        now=int(now.timestamp()),
        lease_s=deps.job_lease_seconds * deps.max_receive_count,
    )
    if leader_id is not None and leader_id != moved.id:
        # An identical job started meanwhile: follow it, as submit would have.
        release_reservation(deps, moved.id)
        followed = deps.jobs.follow_instead(
            moved.id, was=None, leader_job_id=leader_id, seq=seq, updated_at=now.isoformat()
        )
        if followed is not None:
            _move_subscribers(canceled_leader.id, moved.id, leader_id, deps)
            moved = followed
    else:
        deps.queue.send(JobMessage(job_id=moved.id), priority=moved.priority)
    _push_to(
        deps,
        subscribers,
        JobEventMessage(
            type="status",
            job_id=moved.id,
            seq=moved.seq,
            status=JobStatus.QUEUED,
            progress=0.0,
            message=HANDED_OVER_MESSAGE,
        ),
    )


def _move_subscribers(
    old_channel: str, client_job_id: str, channel: str, deps: Dependencies
) -> list[str]:
    """Subscribe the follower's connections to the job whose frames are now its own."""
    expires_at = int((deps.clock() + timedelta(hours=deps.connection_ttl_hours)).timestamp())
    moved = []
    for subscriber in deps.connections.subscribers(old_channel):
        if subscriber.client_job_id != client_job_id:
            continue
        deps.connections.subscribe(
            subscriber.connection_id, channel, client_job_id=client_job_id, expires_at=expires_at
        )
        moved.append(subscriber.connection_id)
    return moved


def _push_to(deps: Dependencies, connection_ids: Iterable[str], frame: JobEventMessage) -> None:
    payload = frame.model_dump_json(exclude_none=True).encode()
    for connection_id in connection_ids:
        if not deps.pusher.push(connection_id, payload):
            deps.connections.remove_connection(connection_id)


# ---------------------------------------------------------------- the processor's side


class CancelWatch:
    """Whether a running job's owner canceled it, learned without a read per step or poll.

    The processor's progress writes are conditional on the job still running: one that
    fails says it no longer runs (``stopped``), and one that succeeds says it still does
    (``confirmed``), both for free. ``should_stop`` reads the job only when nothing has
    confirmed it for ``interval_s``: a provider that reports nothing for long (Bedrock's
    one blocking call, a quiet stream) is read at most once per interval, a chatty one
    never. Worst case from the cancel to the adapter's stop: ``interval_s`` plus the
    adapter's own gap between two looks (a step, a poll, a stream event; for Bedrock the
    call in progress, which cannot be interrupted).
    """

    def __init__(
        self,
        job_id: str,
        jobs: JobStore,
        *,
        interval_s: float = CANCEL_CHECK_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job_id = job_id
        self._jobs = jobs
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._confirmed_at = monotonic()
        self._canceled = False
        self._stop_seen = False

    def confirmed(self) -> None:
        """A write that holds only while the job runs has just succeeded."""
        self._confirmed_at = self._monotonic()

    def stopped(self) -> None:
        """A write that holds only while the job runs has just failed: is it canceled?

        Read once; a provider that keeps reporting after that (one that cannot stop) costs
        no read per report."""
        if not self._canceled and not self._stop_seen:
            self._stop_seen = True
            self._check()

    @property
    def canceled(self) -> bool:
        return self._canceled

    def should_stop(self) -> bool:
        """``ProviderRequest.should_stop``: True once the job is known to be canceled."""
        if not self._canceled and self._monotonic() - self._confirmed_at >= self._interval_s:
            self._check()
        return self._canceled

    def _check(self) -> None:
        self._confirmed_at = self._monotonic()
        record = self._jobs.get(self._job_id)
        if record is not None and record.status is JobStatus.CANCELED:
            self._canceled = True


def settle_canceled(
    job_id: str,
    deps: Dependencies,
    *,
    hops: list[HopInfo] | None = None,
    billed: Iterable[LedgerRecord] = (),
    current: JobRecord | None = None,
) -> bool:
    """After a processor stopped working on a job: if it was canceled, record what its calls
    were billed on it and settle its reservation. False when the job is not canceled.

    ``current``: the job as just read, if the caller has it (one read fewer)."""
    if current is None:
        current = deps.jobs.get(job_id)
    if current is None or current.status is not JobStatus.CANCELED:
        return False
    stored = deps.jobs.note_canceled_cost(
        job_id,
        cost_usd=job_cost_usd(job_id, deps, known=billed),
        hops=list(hops) if hops is not None else list(current.hops),
        updated_at=deps.clock().isoformat(),
    )
    settle_job(deps, stored or current)
    return True
