"""History (GET /generations) and deletion (DELETE /generations/{id})."""

from __future__ import annotations

import pytest

from sketchbridge.domain.errors import InvalidRequestError, JobInProgressError, NotFoundError
from sketchbridge.domain.history import decode_cursor, encode_cursor
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobRecord, JobStatus
from sketchbridge.services.history import delete_generation, list_generations
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeClock, sketch_data_url
from tests.support.lifecycle import lifecycle_dependencies


def _submit(
    deps: Dependencies,
    user: str = "ada",
    *,
    prompt: str = "a sea turtle",
    cache: str = "use",
    run: bool = True,
    sketch: str = "turtle.png",
) -> JobRecord:
    job = submit_generation(
        GenerationRequest(
            sketch=sketch_data_url(sketch),
            prompt=prompt,
            provider="local",
            params=GenerationParams(steps=2, seed=7, width=128, height=128),
            cache=cache,  # type: ignore[arg-type]
        ),
        user_id=user,
        deps=deps,
    )
    if run and not job.status.is_final:
        process_job(job.id, receive_count=1, deps=deps)
    record = deps.jobs.get(job.id)
    assert record is not None
    return record


def _many(deps: Dependencies, count: int, user: str = "ada") -> list[str]:
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    ids = []
    for index in range(count):
        clock.advance(1)
        ids.append(_submit(deps, user, prompt=f"turtle number {index}", run=False).id)
    return ids


def test_pages_through_25_jobs_ten_at_a_time_newest_first() -> None:
    deps = lifecycle_dependencies()
    submitted = _many(deps, 25)
    _many(deps, 3, user="bob")

    pages, cursor = [], None
    while True:
        page = list_generations(
            {"limit": "10", **({"cursor": cursor} if cursor else {})}, user_id="ada", deps=deps
        )
        pages.append([job.id for job in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [job_id for page in pages for job_id in page] == list(reversed(submitted))


def test_filters_by_status() -> None:
    deps = lifecycle_dependencies()
    done = _submit(deps, prompt="finished")
    waiting = _submit(deps, prompt="still waiting", run=False)

    succeeded = list_generations({"status": "succeeded"}, user_id="ada", deps=deps)
    queued = list_generations({"status": "queued"}, user_id="ada", deps=deps)

    assert [job.id for job in succeeded.items] == [done.id]
    assert [job.id for job in queued.items] == [waiting.id]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"status": "lost"},
        {"cursor": "x"},
        {"cursor": "a.b.c"},
        {"cursor": "\u00e9t\u00e9.\u00e9"},
        {"cursor": "e30." + "A" * 600},
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(query: dict[str, str]) -> None:
    deps = lifecycle_dependencies()
    with pytest.raises(InvalidRequestError) as refused:
        list_generations(query, user_id="ada", deps=deps)
    assert refused.value.details["field"] in query


def test_another_users_cursor_or_a_tampered_one_is_refused() -> None:
    deps = lifecycle_dependencies()
    _many(deps, 3)
    cursor = list_generations({"limit": "1"}, user_id="ada", deps=deps).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidRequestError):
        list_generations({"cursor": cursor}, user_id="bob", deps=deps)
    payload, mac = cursor.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    with pytest.raises(InvalidRequestError):
        list_generations({"cursor": f"{flipped}.{mac}"}, user_id="ada", deps=deps)
    with pytest.raises(InvalidRequestError):
        list_generations({"cursor": cursor, "status": "queued"}, user_id="ada", deps=deps)
    # Untouched, it pages on.
    assert len(list_generations({"cursor": cursor}, user_id="ada", deps=deps).items) == 2


def test_a_cursor_says_where_the_page_stopped_for_its_user_only() -> None:
    after = ("2026-11-25T12:00:01+00:00", "a" * 32)
    cursor = encode_cursor(after, user_id="ada", status=None)
    assert decode_cursor(cursor, user_id="ada", status=None) == after
    with pytest.raises(InvalidRequestError):
        decode_cursor(cursor, user_id="ada2", status=None)


def test_deleting_a_job_removes_it_and_its_own_images() -> None:
    deps = lifecycle_dependencies()
    job = _submit(deps, cache="bypass")
    assert job.result_key is not None

    delete_generation(job.id, user_id="ada", deps=deps)

    assert deps.jobs.get(job.id) is None
    assert list_generations(None, user_id="ada", deps=deps).items == []
    assert deps.objects.metadata(job.sketch_key) is None
    assert deps.objects.metadata(job.result_key) is None
    with pytest.raises(NotFoundError):
        delete_generation(job.id, user_id="ada", deps=deps)


def test_a_result_the_cache_or_another_job_shows_is_kept() -> None:
    deps = lifecycle_dependencies()
    first = _submit(deps, "ada")
    hit = _submit(deps, "bob")  # the same request: answered from the cache
    assert hit.cached and hit.result_key == first.result_key and first.result_key is not None

    delete_generation(first.id, user_id="ada", deps=deps)

    assert deps.objects.metadata(first.result_key) is not None  # the cache points to it
    assert deps.objects.metadata(first.sketch_key) is not None  # bob's job uses the drawing
    delete_generation(hit.id, user_id="bob", deps=deps)
    # Not bob's picture to delete, and the cache still serves it.
    assert deps.objects.metadata(first.result_key) is not None


def test_a_result_another_job_still_shows_is_kept_after_the_cache_moved_on() -> None:
    deps = lifecycle_dependencies()
    first = _submit(deps, "ada")
    hit = _submit(deps, "bob")
    refreshed = _submit(deps, "cy", cache="refresh")  # the cache now points to cy's picture
    cached = deps.cache.get(first.fingerprint)
    assert cached is not None and cached.result_key == refreshed.result_key != first.result_key

    delete_generation(first.id, user_id="ada", deps=deps)

    assert first.result_key is not None and hit.result_key == first.result_key
    assert deps.objects.metadata(first.result_key) is not None


def test_a_result_nobody_else_shows_goes_with_its_job() -> None:
    deps = lifecycle_dependencies()
    first = _submit(deps, "ada")
    _submit(deps, "cy", cache="refresh")  # the cache moves on; nobody shows ada's picture

    delete_generation(first.id, user_id="ada", deps=deps)

    assert first.result_key is not None
    assert deps.objects.metadata(first.result_key) is None


def test_a_job_still_running_is_not_deleted() -> None:
    deps = lifecycle_dependencies()
    waiting = _submit(deps, run=False)

    with pytest.raises(JobInProgressError):
        delete_generation(waiting.id, user_id="ada", deps=deps)

    assert deps.jobs.get(waiting.id) is not None
    assert deps.objects.metadata(waiting.sketch_key) is not None


def test_another_user_cannot_delete_or_list_a_job() -> None:
    deps = lifecycle_dependencies()
    job = _submit(deps, "ada")

    with pytest.raises(NotFoundError):
        delete_generation(job.id, user_id="bob", deps=deps)

    assert deps.jobs.get(job.id) is not None
    assert list_generations(None, user_id="bob", deps=deps).items == []
    assert deps.jobs.get(job.id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
