"""Refine a generation: a new job whose input is an earlier job's picture (or its sketch).

The new job goes through ``submit_generation`` like any other (preferences, budgets,
quotas, idempotency, cache, queue), with its lineage recorded: ``parent_id``, ``root_id``,
``depth`` and every ancestor, so ``GET /generations/{id}/lineage`` reads the chain in one
batch. The picture refined is read, never written: the new job's input is stored as a
sketch under its own content-addressed key (``sketches/<sha256>.png``), and its result
under its own job's key.
"""

from __future__ import annotations

import base64
from typing import Any

from sketchbridge.domain.errors import InternalError, InvalidRequestError, NotRefinableError
from sketchbridge.domain.models import (
    GenerationRequest,
    JobRecord,
    JobResponse,
    JobStatus,
    LineageResponse,
    RefineRequest,
)
from sketchbridge.providers.registry import AUTO
from sketchbridge.services.get_generation import as_seen, owned_job
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import Lineage, submit_generation

# A chain of 100 jobs, root to newest, is one BatchGetItem (its limit is 100 keys).
MAX_DEPTH = 99
# What a refinement may set besides what it inherits; left out: preferences, then defaults.
_NOT_INHERITED = ("policy", "max_cost_usd", "max_eta_s", "cache")


def refine_generation(
    job_id: str,
    change: RefineRequest,
    *,
    user_id: str,
    deps: Dependencies,
    idempotency_key: str | None = None,
) -> JobResponse:
    """Queue a refinement of the user's job ``job_id`` (another user's: 404)."""
    parent = owned_job(deps.jobs, job_id, user_id=user_id)
    if parent.depth >= MAX_DEPTH:
        raise NotRefinableError(
            f"Generation {job_id!r} is already {parent.depth} refinements from its original.",
            suggestions=('Refine an earlier generation of the chain, or with "from": "sketch".',),
        )
    request = _request(parent, change, _input_image(parent, change, deps))
    _require_image_input(request.provider, deps)
    lineage = Lineage(
        parent_id=parent.id,
        root_id=parent.root_id or parent.id,
        depth=parent.depth + 1,
        ancestor_ids=(*parent.ancestor_ids, parent.id),
    )
    return submit_generation(
        request,
        user_id=user_id,
        deps=deps,
        idempotency_key=idempotency_key,
        lineage=lineage,
    )


def lineage_of(job_id: str, *, user_id: str, deps: Dependencies) -> LineageResponse:
    """The chain from its original to ``job_id``, root first. A deleted ancestor is left out."""
    job = owned_job(deps.jobs, job_id, user_id=user_id)
    found = deps.history.get_many(list(job.ancestor_ids)) if job.ancestor_ids else {}
    chain = [
        found[ancestor]
        for ancestor in job.ancestor_ids
        # Only the owner can refine, so every ancestor is theirs; checked all the same.
        if ancestor in found and found[ancestor].user_id == user_id
    ]
    return LineageResponse(
        items=[
            job_response(
                as_seen(record, deps.jobs), deps.objects, url_ttl=deps.result_url_ttl_seconds
            )
            for record in [*chain, job]
        ]
    )


def _input_image(parent: JobRecord, change: RefineRequest, deps: Dependencies) -> bytes:
    """The picture to refine (the parent's result) or its original sketch, as stored."""
    if change.from_ == "sketch":
        key = parent.sketch_key
    elif parent.status is JobStatus.SUCCEEDED and parent.result_key is not None:
        key = parent.result_key
    else:
        raise NotRefinableError(
            f"Generation {parent.id!r} is {parent.status.value}: it has no picture to refine.",
            details={"status": parent.status.value},
        )
    try:
        return deps.objects.get(key)
    except InternalError:
        if deps.objects.metadata(key) is None:
            raise NotRefinableError(
                f"The picture of generation {parent.id!r} is no longer stored.",
                suggestions=("Submit the sketch again with POST /generations.",),
            ) from None
        raise


def _request(parent: JobRecord, change: RefineRequest, image: bytes) -> GenerationRequest:
    """The generation the refinement asks for: what it sends, else what the parent had."""
    sent = change.model_fields_set
    inherited: dict[str, Any] = parent.params.model_dump()
    params = {
        **inherited,
        **(change.params.model_dump(exclude_unset=True) if change.params else {}),
    }
    body: dict[str, Any] = {
        "sketch": "data:image/png;base64," + base64.b64encode(image).decode("ascii"),
        "prompt": change.prompt or parent.prompt,
        "negative_prompt": (
            change.negative_prompt if "negative_prompt" in sent else parent.negative_prompt
        ),
        "provider": change.provider or parent.provider_requested,
        "params": params,
    }
    for name in _NOT_INHERITED:
        value = getattr(change, name)
        if name in sent and value is not None:
            body[name] = value
    try:
        return GenerationRequest.model_validate(body)
    except ValueError as exc:
        # Each part was checked on its own; the parent's values may not fit a change
        # (its size for another provider, say).
        raise InvalidRequestError(
            f"The refinement is not a valid generation: {exc}",
            details={"field": "body"},
        ) from exc


def _require_image_input(provider: str, deps: Dependencies) -> None:
    """A refinement needs a provider that takes an image (``auto`` only picks those)."""
    if provider == AUTO:
        return
    chosen = deps.providers.resolve(provider)
    if not chosen.capabilities.image_input:
        raise InvalidRequestError(
            f"{chosen.name} cannot take an image as input, so it cannot refine a picture.",
            suggestions=('Use "auto" or a provider whose capabilities list image_input.',),
            details={"field": "provider"},
        )
