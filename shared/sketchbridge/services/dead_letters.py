"""A job whose message reached a dead-letter queue is over: say so on the job and to its watchers.

The queue gave up after its maxReceiveCount deliveries, so nothing will run the
job again; without this it would stay queued or running forever.
"""

from __future__ import annotations

from enum import StrEnum

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.models import JobStatus
from sketchbridge.services.cancel_job import settle_canceled
from sketchbridge.services.cost_tracking import job_cost_usd
from sketchbridge.services.job_endings import announce_failure, gave_up
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.reservations import settle_job

DEAD_LETTER_MESSAGE = "We could not process this generation after several attempts."


class DeadLetterOutcome(StrEnum):
    FAILED = "failed"
    ALREADY_DONE = "already_done"
    # A live delivery holds the job (the dead letter was a duplicate message): left to it.
    STILL_RUNNING = "still_running"
    MISSING = "missing"


def handle_dead_letter(job_id: str, *, deps: Dependencies) -> DeadLetterOutcome:
    """Mark the job failed, with its followers, unless it already ended or still runs."""
    record = deps.jobs.get(job_id)
    if record is None:
        return DeadLetterOutcome.MISSING
    if record.status.is_final:
        # Whoever ended it may have died before settling; a canceled job is settled with
        # what its calls were billed, from the ledger.
        if not settle_canceled(job_id, deps, current=record):
            settle_job(deps, record)
        return DeadLetterOutcome.ALREADY_DONE
    now = deps.clock()
    if record.status is JobStatus.RUNNING and (record.lease_expires_at or 0) >= now.timestamp():
        # Should that delivery die, the sweep finds the job once its lease has run out.
        return DeadLetterOutcome.STILL_RUNNING
    error = gave_up(DEAD_LETTER_MESSAGE)
    stored = deps.jobs.fail(
        job_id,
        error,
        updated_at=now.isoformat(),
        hops=record.hops,
        # Its deliveries may have been billed before they died: the job says what it cost.
        cost_usd=job_cost_usd(job_id, deps),
    )
    if stored is None:
        return DeadLetterOutcome.ALREADY_DONE  # it ended between our read and our write
    deps.metrics.add(metrics.JOB_DEAD_LETTERED, 1)
    announce_failure(stored, error, deps)
    return DeadLetterOutcome.FAILED
