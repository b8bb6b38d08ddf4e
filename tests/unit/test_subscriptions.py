from __future__ import annotations

import json

import pytest

from sketchbridge.domain.errors import UnauthorizedError
from sketchbridge.domain.models import GenerationParams, GenerationRequest, SubscribeMessage
from sketchbridge.services import subscriptions
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeTokenVerifier, fake_dependencies, sketch_data_url


def _job(deps, user: str = "ada") -> str:  # type: ignore[no-untyped-def]
    request = GenerationRequest(
        sketch=sketch_data_url(),
        prompt="turtle",
        params=GenerationParams(steps=2, width=128, height=128),
    )
    return submit_generation(request, user_id=user, deps=deps).id


def test_connect_needs_a_valid_token() -> None:
    deps = fake_dependencies()
    with pytest.raises(UnauthorizedError):
        subscriptions.connect("c", None, verifier=FakeTokenVerifier(), deps=deps)
    with pytest.raises(UnauthorizedError):
        subscriptions.connect("c", "forged", verifier=FakeTokenVerifier(), deps=deps)
    assert subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps) == "ada"


def test_a_late_subscriber_first_receives_the_finished_result() -> None:
    deps = fake_dependencies()
    job_id = _job(deps)
    process_job(job_id, receive_count=1, deps=deps)
    subscriptions.connect("late", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)

    first = subscriptions.subscribe(
        "late", SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )

    assert first.type == "result" and first.result is not None
    sent = json.loads(deps.pusher.frames["late"][0])  # type: ignore[attr-defined]
    assert sent["type"] == "result" and sent["result"]["url"]


def test_another_users_job_looks_like_it_does_not_exist() -> None:
    deps = fake_dependencies()
    job_id = _job(deps, user="ada")
    subscriptions.connect("eve", "valid:eve", verifier=FakeTokenVerifier(), deps=deps)

    frame = subscriptions.subscribe(
        "eve", SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )

    assert frame.type == "error" and frame.error is not None and frame.error.code == "not_found"
    assert deps.connections.subscribers(job_id) == []


def test_disconnect_stops_the_pushes() -> None:
    deps = fake_dependencies()
    job_id = _job(deps)
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe("c", SubscribeMessage(action="subscribe", id=job_id), deps=deps)
    subscriptions.disconnect("c", deps=deps)
    assert deps.connections.subscribers(job_id) == []


def test_the_first_frame_is_the_current_state_even_while_the_job_runs() -> None:
    deps = fake_dependencies()
    job_id = _job(deps)
    deps.jobs.claim(job_id, now=0, lease_seconds=60)
    deps.jobs.record_progress(job_id, 0.5, updated_at="now")
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)

    subscriptions.subscribe("c", SubscribeMessage(action="subscribe", id=job_id), deps=deps)

    (frame,) = [json.loads(raw) for raw in deps.pusher.frames["c"]]  # type: ignore[attr-defined]
    assert frame["type"] == "status" and frame["progress"] == 0.5
    assert frame["seq"] == deps.jobs.get(job_id).seq  # type: ignore[union-attr]
    assert deps.connections.connection_ids(job_id) == ["c"]  # type: ignore[attr-defined]


def test_every_pushed_frame_carries_a_rising_seq() -> None:
    deps = fake_dependencies()
    job_id = _job(deps)
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe("c", SubscribeMessage(action="subscribe", id=job_id), deps=deps)
    process_job(job_id, receive_count=1, deps=deps)
    seqs = [json.loads(raw)["seq"] for raw in deps.pusher.frames["c"]]  # type: ignore[attr-defined]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
