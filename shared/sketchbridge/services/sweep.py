"""The scheduled sweep: jobs stuck past their lease go back to the queue or end, never hang.

What can be seen from the job records alone:

- running, and the lease ran out a while ago: the processor died and nothing
  took the job over. Queue it again while it has attempts left, else fail it.
- queued for a long time: its message may be lost (a send that failed after the
  record was written, a release whose redelivery never came). Send it once more;
  if it is still queued, untouched, a sweep later, fail it. Batch work is given
  hours, not minutes: its capped queue may hold it back that long on purpose.
- a follower queued for a long time: it has no message of its own; settle it
  from its leader once the leader has ended (a canceled leader hands it the work).

Every write holds only while the job's ``seq`` is the one the sweep read, so a
processor that touched the job in between always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.domain.models import JobEventMessage, JobMessage, JobStatus
from sketchbridge.services.cancel_job import run_without_leader
from sketchbridge.services.cost_tracking import job_cost_usd, record_joined
from sketchbridge.services.job_endings import announce_failure, gave_up
from sketchbridge.services.job_events import publish
from sketchbridge.services.ports import Dependencies, StuckJob

# After its lease ends, a processor that is merely slow gets this long to write.
RUNNING_GRACE_S = 60
# Longer than a normal wait in the queue; a job queued longer is looked at.
QUEUED_FOR_S = 15 * 60
# Batch work may wait its turn behind a burst for long (its queue's concurrency is capped
# low on purpose), so a queued batch job is looked at only after this long.
BATCH_QUEUED_FOR_S = 6 * 3600

STOPPED_RESPONDING = "We could not finish this generation: processing stopped several times."
NEVER_STARTED = "We could not start this generation: it waited in the queue for too long."
LEADER_GONE = "We could not finish this generation: the identical one it waited for is gone."


class SweepAction(StrEnum):
    REQUEUE = "requeue"  # running past its lease with attempts left
    RESEND = "resend"  # queued too long: send its message once more
    FAIL = "fail"  # out of attempts, or still queued a sweep after its resend
    SETTLE_FOLLOWER = "settle_follower"  # take the outcome of the job it follows


def decide(job: StuckJob, *, max_attempts: int) -> SweepAction:
    """What to do with a job ``JobStore.stuck`` returned."""
    if job.status is JobStatus.RUNNING:
        return SweepAction.REQUEUE if job.attempts < max_attempts else SweepAction.FAIL
    if job.leader_job_id is not None:
        return SweepAction.SETTLE_FOLLOWER
    if job.requeued_at is not None and job.requeued_at == job.updated_at:
        return SweepAction.FAIL  # the resend was the last thing that happened to it
    return SweepAction.RESEND


@dataclass
class SweepReport:
    """Job ids by what the sweep did to them (for the log)."""

    requeued: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    # Jobs changed by someone else between the read and the write: left alone.
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sweep(
    *,
    deps: Dependencies,
    running_grace_s: int = RUNNING_GRACE_S,
    queued_for_s: int = QUEUED_FOR_S,
    batch_queued_for_s: int = BATCH_QUEUED_FOR_S,
) -> SweepReport:
    report = SweepReport()
    now = deps.clock()
    stuck = deps.jobs.stuck(now=now, running_grace_s=running_grace_s, queued_for_s=queued_for_s)
    batch_written_before = (now - timedelta(seconds=batch_queued_for_s)).isoformat()
    for job in stuck:
        if _waiting_its_turn(job, batch_written_before):
            continue
        try:
            _handle(job, decide(job, max_attempts=deps.max_receive_count), deps, report)
        except SketchbridgeError:
            # One job's trouble (a store or queue outage) must not stop the others;
            # the next sweep sees it again.
            report.errors.append(job.id)
    return report


def _waiting_its_turn(job: StuckJob, batch_written_before: str) -> bool:
    """A queued batch job younger than the batch threshold: a backlog, not a lost message."""
    return (
        job.status is JobStatus.QUEUED
        and job.leader_job_id is None
        and job.priority == "batch"
        and job.updated_at >= batch_written_before
    )


def _handle(job: StuckJob, action: SweepAction, deps: Dependencies, report: SweepReport) -> None:
    now = deps.clock().isoformat()
    if action is SweepAction.REQUEUE:
        seq = deps.jobs.requeue_unchanged(job.id, seq=job.seq, updated_at=now)
        if seq is None:
            report.skipped.append(job.id)
            return
        deps.queue.send(JobMessage(job_id=job.id), priority=job.priority)
        deps.metrics.add(metrics.STUCK_JOB_REQUEUED, 1)
        report.requeued.append(job.id)
        record = deps.jobs.get(job.id)
        if record is not None:
            _publish_status(record.id, seq, record.progress, deps)
    elif action is SweepAction.RESEND:
        # Send first: a duplicate message is harmless (the claim is conditional),
        # a job marked as resent without a message would fail for nothing.
        deps.queue.send(JobMessage(job_id=job.id), priority=job.priority)
        if deps.jobs.note_resent(job.id, seq=job.seq, at=now):
            deps.metrics.add(metrics.QUEUED_JOB_RESENT, 1)
            report.resent.append(job.id)
        else:
            report.skipped.append(job.id)
    elif action is SweepAction.FAIL:
        message = STOPPED_RESPONDING if job.status is JobStatus.RUNNING else NEVER_STARTED
        _fail(job, message, deps, report)
    else:
        _settle_follower(job, deps, report)


def _settle_follower(job: StuckJob, deps: Dependencies, report: SweepReport) -> None:
    """Give a follower its leader's outcome, if the leader has one; otherwise wait for it."""
    assert job.leader_job_id is not None
    leader = deps.jobs.get(job.leader_job_id)
    if leader is not None and not leader.status.is_final:
        return  # the leader is in flight (and swept on its own if it is stuck)
    now = deps.clock().isoformat()
    if leader is not None and leader.status is JobStatus.SUCCEEDED:
        adopted = deps.jobs.adopt_result(job.id, leader, updated_at=now)
        if adopted is not None:
            record_joined(
                adopted,
                leader_job_id=leader.id,
                provider=leader.provider or leader.provider_requested,
                model=leader.model or "",
                deps=deps,
            )
            report.settled.append(job.id)
        return
    if leader is not None and leader.status is JobStatus.CANCELED:
        # Its owner canceled the job this one waited for: the work is this job's now.
        run_without_leader(job.id, canceled_leader=leader, deps=deps)
        report.settled.append(job.id)
        return
    if leader is not None and leader.error is not None:
        stored = deps.jobs.fail_unchanged(job.id, leader.error, seq=job.seq, updated_at=now)
        if stored is not None:
            report.failed.append(job.id)
        return
    _fail(job, LEADER_GONE, deps, report)


def _fail(job: StuckJob, message: str, deps: Dependencies, report: SweepReport) -> None:
    error = gave_up(message)
    stored = deps.jobs.fail_unchanged(
        job.id,
        error,
        seq=job.seq,
        updated_at=deps.clock().isoformat(),
        # A processor that died mid-job may have been billed: the job says what it cost.
        cost_usd=job_cost_usd(job.id, deps),
    )
    if stored is None:
        report.skipped.append(job.id)
        return
    deps.metrics.add(metrics.STUCK_JOB_FAILED, 1)
    report.failed.append(job.id)
    report.failed.extend(announce_failure(stored, error, deps))


def _publish_status(job_id: str, seq: int, progress: float, deps: Dependencies) -> None:
    publish(
        JobEventMessage(
            type="status",
            job_id=job_id,
            seq=seq,
            status=JobStatus.QUEUED,
            progress=progress,
            message="Processing stopped responding; trying again.",
        ),
        connections=deps.connections,
        pusher=deps.pusher,
    )
