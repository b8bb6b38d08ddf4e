"""The drop-in protocols' use cases: submit the same job as POST /generations, then wait.

OpenAI's Images API and Replicate's ``Prefer: wait`` answer with the picture, so these
routes submit through ``submit_generation`` (failover, cache, dedupe, budgets, quotas and
the ledger all apply, under the key's owner) and then read the job until it ends or the
wait is over. A job outlives the wait: its id answers GET /generations/{id} like any other.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sketchbridge.domain import errors
from sketchbridge.domain.errors import (
    ImageTooLargeError,
    InternalError,
    InvalidSketchError,
    JobCanceledError,
    NotFoundError,
    ProviderError,
    SketchbridgeError,
)
from sketchbridge.domain.models import GenerationRequest, JobResponse, JobStatus
from sketchbridge.preprocessing.decode import MAX_SKETCH_BYTES
from sketchbridge.services.get_generation import get_generation, owned_job
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.uploads import upload_key

# Below the function's 28 s timeout and the HTTP API's 30 s: room to answer after the wait.
MAX_WAIT_S = 24.0
POLL_INTERVAL_S = 0.25
# A job's recorded error code → the error the synchronous answer raises again (the first
# class of a code wins: rate_limited and timeout are a provider's before they are ours).
_ERRORS_BY_CODE: dict[str, type[SketchbridgeError]] = {}
for _error in vars(errors).values():
    if (
        isinstance(_error, type)
        and issubclass(_error, SketchbridgeError)
        and _error is not errors.QuotaExceededError
    ):
        _ERRORS_BY_CODE.setdefault(_error.code, _error)


def submit(request: GenerationRequest, *, user_id: str, deps: Dependencies) -> list[JobResponse]:
    """Every job of the request (one per variation), as submit answered them."""
    first = submit_generation(request, user_id=user_id, deps=deps)
    if len(first.group_job_ids) <= 1:
        return [first]
    return [first] + [
        get_generation(job_id, user_id=user_id, deps=deps) for job_id in first.group_job_ids[1:]
    ]


def wait_for(
    jobs: list[JobResponse],
    *,
    user_id: str,
    deps: Dependencies,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
    on_update: Callable[[JobResponse], None] | None = None,
) -> list[JobResponse]:
    """The jobs as they stand when all have ended or ``wait_s`` (at most MAX_WAIT_S) passed."""
    deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
    current = list(jobs)
    while True:
        pending = [index for index, job in enumerate(current) if not job.status.is_final]
        if not pending or time.monotonic() >= deadline:
            return current
        sleep(POLL_INTERVAL_S)
        for index in pending:
            fresh = get_generation(current[index].id, user_id=user_id, deps=deps)
            if on_update is not None and fresh.seq != current[index].seq:
                on_update(fresh)
            current[index] = fresh


def result_bytes(job_id: str, *, user_id: str, deps: Dependencies) -> bytes:
    """A succeeded job's picture (OpenAI's ``b64_json``), for its owner only."""
    record = owned_job(deps.jobs, job_id, user_id=user_id)
    if record.result_key is None:
        raise NotFoundError(f"The generation {job_id!r} has no picture.")
    return deps.objects.get(record.result_key)


def sketch_bytes(job_id: str, *, user_id: str, deps: Dependencies) -> bytes:
    """The job's sketch as stored (canonical PNG): the preview a stream shows first."""
    return deps.objects.get(owned_job(deps.jobs, job_id, user_id=user_id).sketch_key)


def requested_provider(job_id: str, *, user_id: str, deps: Dependencies) -> str:
    """What the request named (``auto`` or a provider), as the prediction's model says."""
    return owned_job(deps.jobs, job_id, user_id=user_id).provider_requested


def store_file(data: bytes, *, content_type: str, user_id: str, deps: Dependencies) -> str:
    """A file the Replicate SDK uploads (``POST /v1/files``), kept as an upload of the user's:
    a prediction naming its URL reads it like ``sketch_upload_id``. Returns its id."""
    if not data:
        raise InvalidSketchError("The file is empty.", details={"field": "content"})
    if len(data) > MAX_SKETCH_BYTES:
        raise ImageTooLargeError(
            f"The file is larger than {MAX_SKETCH_BYTES // (1024 * 1024)} MB.",
            details={"field": "content"},
        )
    upload_id = uuid.uuid4().hex
    deps.objects.put(upload_key(user_id, upload_id), data, content_type=content_type)
    return upload_id


def job_failure(job: JobResponse) -> SketchbridgeError | None:
    """A failed or canceled job's error, raised by the synchronous protocols."""
    if job.status is JobStatus.CANCELED:
        return JobCanceledError("The generation was canceled.")
    if job.status is not JobStatus.FAILED:
        return None
    info = job.error
    error = _ERRORS_BY_CODE.get(info.code if info else "", InternalError)
    message = info.message if info else "The generation failed."
    suggestions = tuple(info.suggestions) if info else None
    if issubclass(error, ProviderError):
        return error(message, provider=job.provider, suggestions=suggestions)
    return error(message, suggestions=suggestions)
