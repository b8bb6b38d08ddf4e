"""Never pay twice, as properties: concurrent identical requests and batched variations."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, fake_dependencies, sketch_data_url

PROMPTS = ["a turtle", "a balloon", "a backpack"]


def _request(prompt: str, seed: int | None, **fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": prompt,
            "provider": "fake",
            "params": GenerationParams(seed=seed, steps=1, width=64, height=64),
            **fields,
        }
    )


@settings(max_examples=15, deadline=None)
@given(
    requests=st.lists(
        st.tuples(st.sampled_from(PROMPTS), st.sampled_from([None, 1, 2])),
        min_size=1,
        max_size=8,
    ),
    rounds=st.integers(1, 2),
)
def test_concurrent_identical_requests_cost_one_call_per_distinct_request(
    requests: list[tuple[str, int | None]], rounds: int
) -> None:
    provider = FakeProvider()
    deps = fake_dependencies(provider=provider)
    submitted: list[str] = []
    lock = threading.Lock()

    def submit(prompt: str, seed: int | None, user: str) -> None:
        job = submit_generation(_request(prompt, seed), user_id=user, deps=deps)
        with lock:
            submitted.append(job.id)

    for _ in range(rounds):
        threads = [
            threading.Thread(target=submit, args=(prompt, seed, f"user-{index}"))
            for index, (prompt, seed) in enumerate(requests)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for message in list(deps.queue.messages):  # type: ignore[attr-defined]
            process_job(message.job_id, receive_count=1, deps=deps)
        deps.queue.messages.clear()  # type: ignore[attr-defined]

    assert provider.calls == len(set(requests))
    for job_id in submitted:
        owner = deps.jobs.get(job_id).user_id  # type: ignore[union-attr]
        assert get_generation(job_id, user_id=owner, deps=deps).status is JobStatus.SUCCEEDED


@settings(max_examples=15, deadline=None)
@given(variations=st.integers(1, 4), seed=st.one_of(st.none(), st.integers(0, 1000)))
def test_variations_fan_out_to_distinct_jobs_in_one_group(
    variations: int, seed: int | None
) -> None:
    provider = FakeProvider()
    deps = fake_dependencies(provider=provider)
    first = submit_generation(
        _request("a turtle", seed, variations=variations), user_id="a", deps=deps
    )
    ids = first.group_job_ids or [first.id]
    assert len(ids) == variations == len(deps.queue.messages)  # type: ignore[attr-defined]
    records = [deps.jobs.get(job_id) for job_id in ids]
    assert len({r.fingerprint for r in records if r}) == variations
    assert len({r.params.seed for r in records if r}) == variations
    if variations > 1:
        assert {r.group_id for r in records if r} == {first.group_id}
