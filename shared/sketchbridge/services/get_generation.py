"""Read one generation, for its owner only."""

from __future__ import annotations

from sketchbridge.domain.errors import NotFoundError
from sketchbridge.domain.models import JobRecord, JobResponse
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies, JobStore


def get_generation(job_id: str, *, user_id: str, deps: Dependencies) -> JobResponse:
    record = owned_job(deps.jobs, job_id, user_id=user_id)
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def owned_job(jobs: JobStore, job_id: str, *, user_id: str) -> JobRecord:
    """The job if it exists and belongs to the user; another user's job does not exist for them."""
    record = jobs.get(job_id)
    if record is None or record.user_id != user_id:
        raise NotFoundError(f"There is no generation {job_id!r}.")
    return record
