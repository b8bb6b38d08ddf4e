from __future__ import annotations

from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import fake_dependencies, sketch_data_url


def _request(**fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a hot-air balloon",
            "params": GenerationParams(steps=1, width=128, height=128),
            **fields,
        }
    )


def test_batch_work_goes_to_the_batch_queue() -> None:
    deps = fake_dependencies()
    submit_generation(_request(), user_id="ada", deps=deps)
    submit_generation(_request(priority="batch", cache="bypass"), user_id="ada", deps=deps)
    assert deps.queue.priorities == ["interactive", "batch"]  # type: ignore[attr-defined]


def test_variations_fan_out_to_one_job_per_seed_in_one_group() -> None:
    deps = fake_dependencies()
    first = submit_generation(
        _request(variations=3, params=GenerationParams(seed=10, steps=1, width=128, height=128)),
        user_id="ada",
        deps=deps,
    )
    assert first.group_id is not None and len(first.group_job_ids) == 3
    assert first.group_job_ids[0] == first.id
    for message in deps.queue.messages:  # type: ignore[attr-defined]
        process_job(message.job_id, receive_count=1, deps=deps)
    jobs = [get_generation(job_id, user_id="ada", deps=deps) for job_id in first.group_job_ids]
    assert [job.params.seed for job in jobs] == [10, 11, 12]
    assert all(job.status is JobStatus.SUCCEEDED for job in jobs)
    assert {job.group_id for job in jobs} == {first.group_id}
    # Three distinct images, so three distinct cache entries.
    assert len(deps.cache.results) == 3  # type: ignore[attr-defined]


def test_unseeded_variations_are_distinct_not_cached_copies_of_each_other() -> None:
    deps = fake_dependencies()
    first = submit_generation(_request(variations=2), user_id="ada", deps=deps)
    assert len(deps.queue.messages) == 2  # type: ignore[attr-defined]
    seeds = {get_generation(j, user_id="ada", deps=deps).params.seed for j in first.group_job_ids}
    assert len(seeds) == 2
