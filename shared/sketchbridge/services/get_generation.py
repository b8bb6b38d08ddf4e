"""Read one generation, for its owner only."""

from __future__ import annotations

from sketchbridge.domain.errors import NotFoundError
from sketchbridge.domain.models import JobRecord, JobResponse
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies, JobStore


def get_generation(job_id: str, *, user_id: str, deps: Dependencies) -> JobResponse:
    record = as_seen(owned_job(deps.jobs, job_id, user_id=user_id), deps.jobs)
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def as_seen(record: JobRecord, jobs: JobStore) -> JobRecord:
    """A follower shows the progress of the identical job it follows until it ends itself."""
    if record.leader_job_id is None or record.status.is_final:
        return record
    leader = jobs.get(record.leader_job_id)
    if leader is None or leader.status.is_final:
        # The leader's end is being copied onto this job; show it as it stands.
        return record
    return record.model_copy(
        update={
            "status": leader.status,
            "progress": leader.progress,
            "provider": leader.provider,
            "model": leader.model,
            "seq": leader.visible_seq,
            "updated_at": leader.updated_at,
        }
    )


def owned_job(jobs: JobStore, job_id: str, *, user_id: str) -> JobRecord:
    """The job if it exists and belongs to the user; another user's job does not exist for them."""
    record = jobs.get(job_id)
    if record is None or record.user_id != user_id:
        raise NotFoundError(f"There is no generation {job_id!r}.")
    return record
