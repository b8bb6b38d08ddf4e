"""The HTTP edge: status codes, error bodies and ownership, as a client sees them."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.services.ports import Dependencies
from tests.support.fakes import fake_dependencies, sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies()


def _handler(name: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function(name)
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    return module


def _call(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _submit(module: ModuleType, body: Any, user: str = "ada") -> tuple[int, dict[str, Any]]:
    return _call(module, http_event("POST", "/generations", body=body, user=user))


def test_submit_answers_202_with_the_queued_job(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = _handler("submit", deps, monkeypatch)
    status, body = _submit(submit, {"sketch": sketch_data_url(), "prompt": "a sea turtle"})
    assert status == 202
    assert body["status"] == "queued" and body["progress"] == 0 and body["id"]
    assert body["result"] is None and body["error"] is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_body"),
        ({"prompt": "a turtle"}, 400, "invalid_sketch"),
        ({"sketch": "https://example.com/a.png", "prompt": "a turtle"}, 400, "invalid_sketch"),
        (
            {"sketch": "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "prompt": "x"},
            415,
            "unsupported_format",
        ),
        ({"sketch": sketch_data_url(), "prompt": "   "}, 400, "invalid_prompt"),
        ({"sketch": sketch_data_url(), "prompt": "x", "provider": "nope"}, 400, "unknown_provider"),
        (
            {"sketch": sketch_data_url(), "prompt": "x", "params": {"steps": 0}},
            400,
            "invalid_params",
        ),
        (
            {"sketch": sketch_data_url(), "prompt": "x", "params": {"strength": 1.5}},
            400,
            "invalid_params",
        ),
        (
            {"sketch": sketch_data_url(), "prompt": "x", "params": {"width": 10_000}},
            400,
            "invalid_params",
        ),
        (
            {"sketch": sketch_data_url(), "prompt": "x", "params": {"sharpness": 3}},
            400,
            "invalid_params",
        ),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_nothing_is_queued(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch, body: Any, status: int, code: str
) -> None:
    submit = _handler("submit", deps, monkeypatch)
    got_status, got = _submit(submit, body)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert got["error"]["message"] and got["error"]["suggestions"]
    assert deps.queue.messages == []  # type: ignore[attr-defined]


def test_a_user_only_sees_their_own_jobs(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = _handler("submit", deps, monkeypatch)
    query = _handler("query", deps, monkeypatch)
    _, job = _submit(submit, {"sketch": sketch_data_url(), "prompt": "turtle"}, user="ada")

    def get(user: str) -> tuple[int, dict[str, Any]]:
        event = http_event(
            "GET", f"/generations/{job['id']}", user=user, path_parameters={"id": job["id"]}
        )
        return _call(query, event)

    status, mine = get("ada")
    assert status == 200 and mine["id"] == job["id"]
    status, theirs = get("eve")
    assert status == 404 and theirs["error"]["code"] == "not_found"


def test_a_request_without_verified_identity_is_refused(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = _handler("submit", deps, monkeypatch)
    status, body = _submit(submit, {"sketch": sketch_data_url(), "prompt": "turtle"}, user=None)  # type: ignore[arg-type]
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_providers_lists_the_local_renderer_as_not_ai(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = _handler("query", deps, monkeypatch)
    status, body = _call(query, http_event("GET", "/providers"))
    assert status == 200 and body["default"] == "local"
    (local,) = body["providers"]
    assert local["name"] == "local" and local["is_ai"] is False
    assert "Not AI" in local["description"]
    assert local["capabilities"]["seed"] is True
