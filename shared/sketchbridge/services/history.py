"""``GET /generations`` (the caller's jobs, newest first) and ``DELETE /generations/{id}``.

A deletion removes the job, then its own images: its sketch unless another job (anyone's:
sketches are content-addressed) uses the same drawing, its previews, and its result unless
the cache or another job still shows it. The job goes first, so a failure half-way leaves
an image nobody points to (the bucket's lifecycle expires it), never a job without its
picture. A job still queued or running is not deleted (409 ``job_in_progress``): cancel it
or let it end first, so no processor writes the end of a job that is gone.
"""

from __future__ import annotations

from collections.abc import Mapping

from sketchbridge.domain.errors import JobInProgressError, NotFoundError
from sketchbridge.domain.history import encode_cursor, parse_history_query
from sketchbridge.domain.models import JobListResponse, JobRecord
from sketchbridge.domain.result_keys import result_key_of
from sketchbridge.services.get_generation import as_seen, owned_job
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies

# Frames of a running job's previews (delivery_endings.store_preview).
PREVIEWS_PREFIX = "previews/"
# More previews than any provider streams for one job.
_MAX_PREVIEWS = 1000


def list_generations(
    query: Mapping[str, str] | None, *, user_id: str, deps: Dependencies
) -> JobListResponse:
    """One page of the caller's jobs, newest first, and the cursor of the next."""
    wanted = parse_history_query(query, user_id=user_id)
    page = deps.history.page(user_id, limit=wanted.limit, after=wanted.after, status=wanted.status)
    return JobListResponse(
        items=[
            job_response(
                as_seen(record, deps.jobs), deps.objects, url_ttl=deps.result_url_ttl_seconds
            )
            for record in page.records
        ],
        next_cursor=(
            encode_cursor(page.after, user_id=user_id, status=wanted.status)
            if page.after is not None
            else None
        ),
    )


def delete_generation(job_id: str, *, user_id: str, deps: Dependencies) -> None:
    """Remove the caller's finished job and the images only it uses (another user's: 404)."""
    record = owned_job(deps.jobs, job_id, user_id=user_id)
    if not record.status.is_final:
        raise JobInProgressError(
            f"Generation {job_id!r} is still {record.status.value}; delete it once it ended.",
            details={"status": record.status.value},
        )
    deleted = deps.history.delete_finished(job_id, user_id=user_id)
    if deleted is None:
        # Deleted meanwhile by another request of the user's (or it never ended: not here).
        raise NotFoundError(f"There is no generation {job_id!r}.")
    _remove_own_images(deleted, deps)


def _remove_own_images(record: JobRecord, deps: Dependencies) -> None:
    if not deps.history.sketch_used_by_another(record.sketch_key, job_id=record.id):
        deps.objects.delete(record.sketch_key)
    for key in deps.objects.keys(f"{PREVIEWS_PREFIX}{record.id}/", limit=_MAX_PREVIEWS):
        deps.objects.delete(key)
    result_key = record.result_key
    # A cache hit or a follower shows another job's picture: that one is not its to delete.
    if result_key is None or result_key != result_key_of(record):
        return
    cached = deps.cache.get(record.fingerprint)
    if cached is not None and cached.result_key == result_key:
        return
    if deps.history.result_used_by_another(
        result_key, sketch_key=record.sketch_key, fingerprint=record.fingerprint, job_id=record.id
    ):
        return
    deps.objects.delete(result_key)
