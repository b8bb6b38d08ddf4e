"""History, deletion, refine and preferences with the real adapters against moto (the
tables and indexes as template.yaml declares them), and through the handlers."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_job_history import DynamoJobHistory
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.dynamo_preferences import DynamoPreferenceStore
from sketchbridge.domain.models import JobRecord, JobStatus, PreferencesRecord, ResolvedParams
from tests.integration.test_handlers_against_moto import (
    call,
    messages_by_job,
    post_generation_event,
    process,
)
from tests.support.handlers import http_event, load_function

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

PARAMS = ResolvedParams(seed=1, steps=2, strength=0.5, guidance_scale=7.5, width=128, height=128)


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _record(user: str, minute: int, **fields: Any) -> JobRecord:
    stamp = f"2026-12-03T10:{minute // 60:02d}:{minute % 60:02d}+00:00"
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "user_id": user,
        "status": JobStatus.SUCCEEDED,
        "prompt": "a turtle",
        "provider_requested": "local",
        "params": PARAMS,
        "sketch_key": f"sketches/{uuid.uuid4().hex}.png",
        "fingerprint": uuid.uuid4().hex,
        "created_at": stamp,
        "updated_at": stamp,
        "expires_at": 2_000_000_000,
        **fields,
    }
    return JobRecord.model_validate(values)


@pytest.fixture
def history(aws: EmulatedAws) -> DynamoJobHistory:
    return DynamoJobHistory(client("dynamodb"), aws.jobs_table)


def test_pages_a_users_jobs_newest_first_through_by_user(
    history: DynamoJobHistory, jobs: DynamoJobStore
) -> None:
    ada, bob = _user(), _user()
    made = [_record(ada, minute) for minute in range(25)]
    for record in [*made, *(_record(bob, minute) for minute in range(3))]:
        jobs.create(record)

    seen: list[str] = []
    after = None
    sizes = []
    while True:
        page = history.page(ada, limit=10, after=after, status=None)
        sizes.append(len(page.records))
        seen.extend(record.id for record in page.records)
        after = page.after
        if after is None:
            break

    assert sizes[:3] == [10, 10, 5] and sum(sizes) == 25
    assert seen == [record.id for record in reversed(made)]


def test_a_status_filter_fills_its_pages_across_reads(
    history: DynamoJobHistory, jobs: DynamoJobStore
) -> None:
    ada = _user()
    made = [
        _record(ada, minute, status=JobStatus.FAILED if minute % 4 == 0 else JobStatus.SUCCEEDED)
        for minute in range(20)
    ]
    for record in made:
        jobs.create(record)
    failed = [record.id for record in reversed(made) if record.status is JobStatus.FAILED]

    first = history.page(ada, limit=3, after=None, status=JobStatus.FAILED)
    assert [record.id for record in first.records] == failed[:3]
    assert first.after is not None
    rest = history.page(ada, limit=3, after=first.after, status=JobStatus.FAILED)
    assert [record.id for record in rest.records] == failed[3:]


def test_deletes_only_the_owners_finished_job(
    history: DynamoJobHistory, jobs: DynamoJobStore
) -> None:
    ada = _user()
    running = _record(ada, 1, status=JobStatus.RUNNING)
    done = _record(ada, 2)
    jobs.create(running)
    jobs.create(done)

    assert history.delete_finished(running.id, user_id=ada) is None
    assert history.delete_finished(done.id, user_id="someone-else") is None
    deleted = history.delete_finished(done.id, user_id=ada)

    assert deleted is not None and deleted.id == done.id
    assert jobs.get(done.id) is None and jobs.get(running.id) is not None
    assert history.get_many([done.id, running.id]) == {running.id: jobs.get(running.id)}


def test_by_sketch_finds_who_else_uses_a_sketch_or_a_result(
    history: DynamoJobHistory, jobs: DynamoJobStore
) -> None:
    ada, bob = _user(), _user()
    first = _record(ada, 1, result_key="results/f/first.png")
    same_request = _record(
        bob,
        2,
        sketch_key=first.sketch_key,
        fingerprint=first.fingerprint,
        result_key="results/f/first.png",
    )
    same_drawing = _record(bob, 3, sketch_key=first.sketch_key, result_key="results/g/other.png")
    alone = _record(ada, 4)
    for record in (first, same_request, same_drawing, alone):
        jobs.create(record)

    assert history.sketch_used_by_another(first.sketch_key, job_id=first.id)
    assert not history.sketch_used_by_another(alone.sketch_key, job_id=alone.id)
    assert history.result_used_by_another(
        "results/f/first.png",
        sketch_key=first.sketch_key,
        fingerprint=first.fingerprint,
        job_id=first.id,
    )
    assert not history.result_used_by_another(
        "results/g/other.png",
        sketch_key=first.sketch_key,
        fingerprint=same_drawing.fingerprint,
        job_id=same_drawing.id,
    )


def test_preferences_round_trip_by_sub(aws: EmulatedAws) -> None:
    import os

    store = DynamoPreferenceStore(client("dynamodb"), os.environ["PREFERENCES_TABLE"])
    ada = _user()
    saved = PreferencesRecord(
        user_id=ada,
        provider="local",
        max_cost_usd=0.04,
        # Far below what a DynamoDB number holds (1E-130), yet a valid limit to send.
        max_eta_s=5e-324,
        params={"strength": 0.35, "steps": 12},
        preprocessing={"palette_hint": True},
        updated_at="2026-12-03T10:00:00+00:00",
    )
    store.put(saved)
    assert store.get(ada) == saved
    assert store.get(_user()) is None
    store.delete(ada)
    assert store.get(ada) is None


# -- through the handlers --------------------------------------------------------------------


@pytest.fixture
def handlers(cold_start: None) -> SimpleNamespace:
    return SimpleNamespace(
        submit=load_function("submit"),
        query=load_function("query"),
        processor=load_function("processor"),
    )


def _run_queued(handlers: SimpleNamespace, aws: EmulatedAws, job_id: str) -> None:
    grouped = messages_by_job(aws)
    assert process(handlers, aws, grouped[job_id]) == []


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def test_refine_lineage_history_delete_and_preferences_through_the_handlers(
    handlers: SimpleNamespace, aws: EmulatedAws
) -> None:
    ada, bob = _user(), _user()
    accepted = call(handlers.submit, post_generation_event(ada))
    assert accepted["statusCode"] == 202, accepted["body"]
    parent_id = _body(accepted)["id"]
    _run_queued(handlers, aws, parent_id)

    refine_path = f"/generations/{parent_id}/refine"
    refined = call(
        handlers.submit,
        http_event(
            "POST",
            refine_path,
            body={"prompt": "at dusk"},
            user=ada,
            path_parameters={"id": parent_id},
        ),
    )
    assert refined["statusCode"] == 202, refined["body"]
    child = _body(refined)
    assert (child["parent_id"], child["root_id"], child["depth"]) == (parent_id, parent_id, 1)
    _run_queued(handlers, aws, child["id"])

    lineage_path = f"/generations/{child['id']}/lineage"
    lineage = call(
        handlers.query,
        http_event("GET", lineage_path, user=ada, path_parameters={"id": child["id"]}),
    )
    assert lineage["statusCode"] == 200
    assert [job["id"] for job in _body(lineage)["items"]] == [parent_id, child["id"]]
    assert _body(lineage)["items"][1]["status"] == "succeeded"

    listed = call(handlers.query, http_event("GET", "/generations", user=ada, query={"limit": "1"}))
    assert listed["statusCode"] == 200
    page = _body(listed)
    assert [job["id"] for job in page["items"]] == [child["id"]] and page["next_cursor"]

    # Another user: nothing of ada's exists for bob, and ada's cursor is not bob's.
    for method, path, function in (
        ("POST", refine_path, handlers.submit),
        ("GET", lineage_path.replace(child["id"], parent_id), handlers.query),
        ("DELETE", f"/generations/{parent_id}", handlers.submit),
    ):
        response = call(
            function,
            http_event(
                method,
                path,
                user=bob,
                path_parameters={"id": parent_id},
                body={} if method == "POST" else None,
            ),
        )
        assert response["statusCode"] == 404, (method, path, response["body"])
    stolen = call(
        handlers.query,
        http_event("GET", "/generations", user=bob, query={"cursor": page["next_cursor"]}),
    )
    assert stolen["statusCode"] == 400

    deleted = call(
        handlers.submit,
        http_event(
            "DELETE", f"/generations/{parent_id}", user=ada, path_parameters={"id": parent_id}
        ),
    )
    assert deleted["statusCode"] == 204
    gone = call(
        handlers.query,
        http_event("GET", f"/generations/{parent_id}", user=ada, path_parameters={"id": parent_id}),
    )
    assert gone["statusCode"] == 404
    remaining = _body(call(handlers.query, http_event("GET", "/generations", user=ada)))
    assert [job["id"] for job in remaining["items"]] == [child["id"]]

    saved = call(
        handlers.submit,
        http_event(
            "PUT", "/preferences", user=ada, body={"params": {"steps": 5}, "policy": "cheapest"}
        ),
    )
    assert saved["statusCode"] == 200, saved["body"]
    shown = _body(call(handlers.query, http_event("GET", "/preferences", user=ada)))
    assert (shown["params"]["steps"], shown["policy"]) == (5, "cheapest")
    assert (
        _body(call(handlers.query, http_event("GET", "/preferences", user=bob)))["policy"]
        == "balanced"
    )
    reset = call(handlers.submit, http_event("DELETE", "/preferences", user=ada))
    assert reset["statusCode"] == 200 and _body(reset)["updated_at"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [
        ("PUT", "/preferences", {"params": {"steps": 0}}, None),
        ("PUT", "/preferences", {"provider": "nope"}, None),
        ("PUT", "/preferences", {"colour": "blue"}, None),
        ("PUT", "/preferences", "not json", None),
        ("PUT", "/preferences", [1, 2], None),
        ("GET", "/generations", None, {"limit": "1000"}),
        ("GET", "/generations", None, {"cursor": "%%%"}),
        ("GET", "/generations", None, {"status": "RUNNING"}),
    ],
)
def test_bad_input_is_a_4xx_never_a_5xx(
    handlers: SimpleNamespace, method: str, path: str, body: Any, query: dict[str, str] | None
) -> None:
    function = handlers.query if method == "GET" else handlers.submit
    response = call(function, http_event(method, path, body=body, user=_user(), query=query))
    assert 400 <= response["statusCode"] < 500, response["body"]


def test_refining_an_unknown_or_malformed_id_or_with_a_bad_body_is_a_4xx(
    handlers: SimpleNamespace,
) -> None:
    ada = _user()
    for job_id, body in (
        ("0" * 32, {}),
        ("../../etc", {}),
        ("0" * 32, {"from": "elsewhere"}),
        ("0" * 32, {"prompt": ""}),
        ("0" * 32, {"params": {"strength": 2}}),
    ):
        response = call(
            handlers.submit,
            http_event(
                "POST",
                f"/generations/{job_id}/refine",
                body=body,
                user=ada,
                path_parameters={"id": job_id},
            ),
        )
        assert 400 <= response["statusCode"] < 500, (job_id, body, response["body"])


def test_a_refine_without_a_body_refines_the_picture_as_it_was_asked_for(
    handlers: SimpleNamespace, aws: EmulatedAws
) -> None:
    ada = _user()
    parent_id = _body(call(handlers.submit, post_generation_event(ada)))["id"]
    _run_queued(handlers, aws, parent_id)

    refined = call(
        handlers.submit,
        http_event(
            "POST", f"/generations/{parent_id}/refine", user=ada, path_parameters={"id": parent_id}
        ),
    )

    assert refined["statusCode"] == 202, refined["body"]
    child = _body(refined)
    assert (
        child["parent_id"] == parent_id
        and child["prompt"]
        == _body(
            call(
                handlers.query,
                http_event(
                    "GET", f"/generations/{parent_id}", user=ada, path_parameters={"id": parent_id}
                ),
            )
        )["prompt"]
    )


def test_limits_beyond_what_a_dynamodb_number_holds_are_saved_as_sent(
    handlers: SimpleNamespace,
) -> None:
    ada = _user()
    body = {"max_eta_s": 5e-324, "max_cost_usd": 1e300}

    saved = call(handlers.submit, http_event("PUT", "/preferences", user=ada, body=body))

    assert saved["statusCode"] == 200, saved["body"]
    shown = _body(call(handlers.query, http_event("GET", "/preferences", user=ada)))
    assert (shown["max_eta_s"], shown["max_cost_usd"]) == (5e-324, 1e300)
