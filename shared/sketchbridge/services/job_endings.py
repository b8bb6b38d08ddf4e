"""What follows when a job is given up on: its followers fail with it, its watchers hear why."""

from __future__ import annotations

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.models import ErrorInfo, JobEventMessage, JobRecord, JobStatus
from sketchbridge.services.job_events import publish
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.reservations import settle_job

GAVE_UP_SUGGESTIONS = (
    "Submit it again; a new attempt usually goes through.",
    "If it fails again, try another provider or a simpler prompt.",
    "If it keeps failing, tell us the generation id.",
)


def gave_up(message: str) -> ErrorInfo:
    """The error a user sees on a job we stopped trying: ours, and worth submitting again."""
    return ErrorInfo(
        code="internal", message=message, suggestions=list(GAVE_UP_SUGGESTIONS), retryable=True
    )


def announce_failure(stored: JobRecord, error: ErrorInfo, deps: Dependencies) -> list[str]:
    """After ``stored`` was written as failed: fail its followers and push the error frame.

    Returns the ids of the followers that failed with it. Its reservation is released
    (followers hold none: they released theirs when they joined).
    """
    settle_job(deps, stored)
    followers: list[str] = []
    if stored.cache_mode != "bypass":
        for follower_id in deps.cache.finish_flight(stored.fingerprint, stored.id):
            if deps.jobs.fail(follower_id, error, updated_at=deps.clock().isoformat()):
                followers.append(follower_id)
    # Followers' clients subscribe to the job they follow: one publish reaches them too.
    publish(
        JobEventMessage(
            type="error",
            job_id=stored.id,
            seq=stored.seq,
            status=JobStatus.FAILED,
            progress=stored.progress,
            error=error,
        ),
        connections=deps.connections,
        pusher=deps.pusher,
    )
    deps.metrics.add(metrics.JOB_FAILED, 1 + len(followers))
    return followers
