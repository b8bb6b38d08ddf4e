"""Refine: a new job from an earlier one's picture (or sketch), with its lineage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sketchbridge.domain.errors import (
    InvalidRequestError,
    NotFoundError,
    NotRefinableError,
)
from sketchbridge.domain.models import (
    GenerationParams,
    GenerationRequest,
    JobRecord,
    JobStatus,
    RefineRequest,
)
from sketchbridge.providers.base import ProviderCapabilities
from sketchbridge.providers.local import LocalProvider
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.refine import lineage_of, refine_generation
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, sketch_data_url
from tests.support.lifecycle import lifecycle_dependencies


def _original(deps: Dependencies, user: str = "ada", *, run: bool = True) -> JobRecord:
    job = submit_generation(
        GenerationRequest(
            sketch=sketch_data_url(),
            prompt="a sea turtle, watercolor",
            provider="local",
            params=GenerationParams(steps=3, strength=0.6, seed=42, width=128, height=128),
        ),
        user_id=user,
        deps=deps,
    )
    if run:
        process_job(job.id, receive_count=1, deps=deps)
    record = deps.jobs.get(job.id)
    assert record is not None
    return record


def _finished(deps: Dependencies, job_id: str) -> JobRecord:
    process_job(job_id, receive_count=1, deps=deps)
    record = deps.jobs.get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED, record
    return record


def test_a_refinement_starts_from_the_previous_picture_and_records_its_parent() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)
    assert parent.result_key is not None
    picture_before = deps.objects.get(parent.result_key)

    child = refine_generation(
        parent.id, RefineRequest(prompt="a sea turtle, oil painting"), user_id="ada", deps=deps
    )

    assert (child.parent_id, child.root_id, child.depth) == (parent.id, parent.id, 1)
    assert child.prompt == "a sea turtle, oil painting"
    record = _finished(deps, child.id)
    # Its input is the parent's picture, stored as a sketch of its own, not the parent's sketch.
    assert record.sketch_key != parent.sketch_key and record.sketch_key.startswith("sketches/")
    assert record.result_key is not None and record.result_key != parent.result_key
    # The refined picture is never written over.
    assert deps.objects.get(parent.result_key) == picture_before


def test_left_out_fields_keep_the_parents_and_sent_ones_replace_them() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)

    child = refine_generation(
        parent.id,
        RefineRequest.model_validate({"params": {"strength": 0.3}}),
        user_id="ada",
        deps=deps,
    )

    assert child.prompt == parent.prompt
    assert child.params.strength == 0.3
    assert (child.params.seed, child.params.steps) == (42, 3)


def test_from_sketch_starts_again_from_the_original_drawing() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)

    child = refine_generation(
        parent.id, RefineRequest.model_validate({"from": "sketch"}), user_id="ada", deps=deps
    )

    record = deps.jobs.get(child.id)
    assert record is not None and record.sketch_key == parent.sketch_key
    assert record.parent_id == parent.id


def test_a_chain_of_refinements_lists_its_lineage_root_first() -> None:
    deps = lifecycle_dependencies()
    root = _original(deps)
    first = refine_generation(root.id, RefineRequest(prompt="brighter"), user_id="ada", deps=deps)
    _finished(deps, first.id)
    second = refine_generation(first.id, RefineRequest(prompt="at dusk"), user_id="ada", deps=deps)

    assert (second.parent_id, second.root_id, second.depth) == (first.id, root.id, 2)
    chain = lineage_of(second.id, user_id="ada", deps=deps).items
    assert [job.id for job in chain] == [root.id, first.id, second.id]
    assert [job.depth for job in chain] == [0, 1, 2]
    assert chain[0].root_id == root.id and chain[0].parent_id is None


def test_only_the_owner_may_refine_or_read_the_lineage() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps, "ada")

    with pytest.raises(NotFoundError):
        refine_generation(parent.id, RefineRequest(), user_id="bob", deps=deps)
    with pytest.raises(NotFoundError):
        lineage_of(parent.id, user_id="bob", deps=deps)
    assert len(deps.jobs.records) == 1  # type: ignore[attr-defined]


def test_a_job_without_a_picture_cannot_be_refined_from_its_result() -> None:
    deps = lifecycle_dependencies()
    queued = _original(deps, run=False)

    with pytest.raises(NotRefinableError) as refused:
        refine_generation(queued.id, RefineRequest(), user_id="ada", deps=deps)

    assert refused.value.details["status"] == "queued"
    # From its sketch it can, even before it ended.
    child = refine_generation(
        queued.id, RefineRequest.model_validate({"from": "sketch"}), user_id="ada", deps=deps
    )
    assert child.parent_id == queued.id


def test_a_provider_that_takes_no_image_is_refused_by_name_and_never_picked_by_auto() -> None:
    text_only = FakeProvider(
        name="textonly",
        capabilities=ProviderCapabilities(
            **{**LocalProvider.capabilities.__dict__, "image_input": False}
        ),
    )
    deps = lifecycle_dependencies(provider=text_only)
    parent = _original(deps)

    with pytest.raises(InvalidRequestError, match="cannot take an image"):
        refine_generation(parent.id, RefineRequest(provider="textonly"), user_id="ada", deps=deps)
    child = refine_generation(parent.id, RefineRequest(provider="auto"), user_id="ada", deps=deps)
    record = deps.jobs.get(child.id)
    assert record is not None and "textonly" not in record.plan


def test_a_refinement_with_the_same_idempotency_key_is_one_job() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)

    first = refine_generation(
        parent.id, RefineRequest(prompt="at dusk"), user_id="ada", deps=deps, idempotency_key="k1"
    )
    again = refine_generation(
        parent.id, RefineRequest(prompt="at dusk"), user_id="ada", deps=deps, idempotency_key="k1"
    )

    assert again.id == first.id


def test_an_original_is_its_own_root() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)
    shown = lineage_of(parent.id, user_id="ada", deps=deps).items
    assert [(job.id, job.root_id, job.depth, job.parent_id) for job in shown] == [
        (parent.id, parent.id, 0, None)
    ]


def test_a_picture_no_longer_stored_is_a_409_not_a_500() -> None:
    deps = lifecycle_dependencies()
    parent = _original(deps)
    assert parent.result_key is not None

    class Gone(type(deps.objects)):  # type: ignore[misc]
        def get(self, key: str) -> bytes:
            from sketchbridge.domain.errors import InternalError

            raise InternalError("The image store is unavailable.")

    gone = Gone()
    gone.objects = {}
    deps = replace(deps, objects=gone)
    with pytest.raises(NotRefinableError, match="no longer stored"):
        refine_generation(parent.id, RefineRequest(), user_id="ada", deps=deps)
