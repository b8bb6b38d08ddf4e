"""The drop-in routes at their edge: keys, hostile multipart bodies, protocol-shaped errors.

Every request here is refused before a job exists, with a 4xx in the protocol's own shape
(OpenAI's ``{"error": {type, code, message, param}}``, Replicate's problem details), never a
5xx, whatever the bytes.
"""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.api.http import MAX_BODY_BYTES
from sketchbridge.api.multipart import MAX_PARTS
from sketchbridge.api.outbound import HttpImageFetcher
from sketchbridge.domain.api_keys import ApiKeyRecord, KeyCreateRequest, parse_key
from sketchbridge.domain.errors import InvalidRequestError, InvalidSketchError, NotFoundError
from sketchbridge.domain.models import JobResponse
from sketchbridge.services import api_keys
from sketchbridge.services.ports import Dependencies
from tests.support.fakes import fake_dependencies, sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function

BOUNDARY = "sketchbridge-test-boundary"
TURTLE = base64.b64decode(sketch_data_url("turtle.png").split(",", 1)[1])


class FakeKeyStore:
    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    def create(self, record: ApiKeyRecord) -> None:
        self.records[record.id] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)

    def for_user(self, user_id: str) -> list[ApiKeyRecord]:
        return [record for record in self.records.values() if record.user_id == user_id]

    def delete(self, key_id: str, *, user_id: str) -> bool:
        record = self.records.get(key_id)
        if record is None or record.user_id != user_id:
            return False
        del self.records[key_id]
        return True


# -- keys ------------------------------------------------------------------------------------


def test_a_new_key_opens_the_drop_in_routes_for_its_owner_until_revoked() -> None:
    keys = FakeKeyStore()
    created = api_keys.create_key(KeyCreateRequest(name="ci"), user_id="ada", keys=keys)

    identity = api_keys.authorize(f"Bearer {created.key}", keys=keys)

    assert identity is not None and identity.user_id == "ada"
    assert created.key not in json.dumps([r.model_dump() for r in keys.records.values()])
    api_keys.revoke_key(created.id, user_id="ada", keys=keys)
    assert api_keys.authorize(f"Bearer {created.key}", keys=keys) is None


def test_a_key_with_one_character_changed_is_refused() -> None:
    keys = FakeKeyStore()
    key = api_keys.create_key(KeyCreateRequest(name="ci"), user_id="ada", keys=keys).key
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")

    assert api_keys.authorize(f"Bearer {tampered}", keys=keys) is None


def test_another_users_key_cannot_be_revoked_and_looks_unknown() -> None:
    keys = FakeKeyStore()
    created = api_keys.create_key(KeyCreateRequest(name="ci"), user_id="ada", keys=keys)

    with pytest.raises(NotFoundError):
        api_keys.revoke_key(created.id, user_id="mallory", keys=keys)
    assert api_keys.authorize(created.key, keys=keys) is not None


def test_a_user_may_hold_twenty_keys_and_no_more() -> None:
    keys = FakeKeyStore()
    for index in range(api_keys.MAX_KEYS_PER_USER):
        api_keys.create_key(KeyCreateRequest(name=f"k{index}"), user_id="ada", keys=keys)

    with pytest.raises(InvalidRequestError):
        api_keys.create_key(KeyCreateRequest(name="one more"), user_id="ada", keys=keys)


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer sb_", "Bearer r8_abc", "sb_" + "0" * 24 + "_short", "\x00" * 100],
)
def test_malformed_keys_are_refused_without_a_lookup(header: str) -> None:
    assert parse_key(header.removeprefix("Bearer ")) is None
    assert api_keys.authorize(header, keys=FakeKeyStore()) is None


def test_the_authorizer_answers_a_simple_response_with_the_owner() -> None:
    keys = FakeKeyStore()
    created = api_keys.create_key(KeyCreateRequest(name="ci"), user_id="ada", keys=keys)
    module = load_function("key_authorizer")
    module.api_keys = lambda: keys  # type: ignore[attr-defined]

    allowed = module.lambda_handler(
        {"type": "REQUEST", "headers": {"authorization": f"Bearer {created.key}"}},
        FakeLambdaContext(),
    )
    refused = module.lambda_handler(
        {"type": "REQUEST", "headers": {"authorization": "Bearer sb_nope"}}, FakeLambdaContext()
    )

    assert allowed == {
        "isAuthorized": True,
        "context": {"user_id": "ada", "key_id": created.id, "scopes": "openai replicate"},
    }
    assert refused == {"isAuthorized": False}


# -- hostile bodies ---------------------------------------------------------------------------


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies()


@pytest.fixture
def dropin(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("dropin")
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    monkeypatch.setattr(module, "webhook_queue", lambda: None)
    monkeypatch.setattr(module, "image_fetcher", lambda: HttpImageFetcher())
    # No network here: every name resolves to the instance metadata service's address.
    monkeypatch.setattr(
        "sketchbridge.api.outbound.socket.getaddrinfo",
        lambda host, port: [(2, 1, 6, "", ("169.254.169.254", port))],
    )
    return module


def _event(
    path: str, body: bytes, *, content_type: str | None, user: str = "ada"
) -> dict[str, Any]:
    event = http_event("POST", path, user=None)
    event["headers"] = {"content-type": content_type} if content_type else {}
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    event["requestContext"]["authorizer"] = {"lambda": {"user_id": user, "key_id": "k" * 24}}
    return event


def _call(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _form(*parts: tuple[str, bytes, str | None]) -> bytes:
    """(field name, bytes, file name or None) as a multipart body with BOUNDARY."""
    chunks = []
    for name, data, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
EDITS = "/openai/v1/images/edits"
GOOD = [("prompt", b"a sea turtle", None), ("image", TURTLE, "turtle.png")]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "param"),
    [
        (_form(*GOOD), "application/json", 400, None),
        (_form(*GOOD), "multipart/form-data", 400, None),
        (_form(*GOOD), "multipart/form-data; boundary=" + "x" * 71, 400, None),
        (_form(*GOOD)[:-40], MULTIPART, 400, None),
        (
            f"--{BOUNDARY}\r\nno headers here".encode() + f"\r\n--{BOUNDARY}--".encode(),
            MULTIPART,
            400,
            None,
        ),
        (_form(*([("x", b"1", None)] * (MAX_PARTS + 1))), MULTIPART, 400, None),
        (_form(("prompt", b"\xff\xfe", None), ("image", TURTLE, "t.png")), MULTIPART, 400, None),
        (
            _form(("prompt", b"a", None), ("prompt", b"b", None), ("image", TURTLE, "t.png")),
            MULTIPART,
            400,
            None,
        ),
        (_form(("prompt", b"a turtle", None)), MULTIPART, 400, "image"),
        (_form(*GOOD, ("mask", TURTLE, "m.png")), MULTIPART, 400, "mask"),
        (_form(*GOOD, ("n", b"5", None)), MULTIPART, 400, "n"),
        (_form(*GOOD, ("size", b"99999x1", None)), MULTIPART, 400, "size"),
        (_form(*GOOD, ("colour", b"red", None)), MULTIPART, 400, "colour"),
        (_form(*GOOD, ("stream", b"perhaps", None)), MULTIPART, 400, "stream"),
        (_form(*GOOD, ("stream", b"true", None), ("n", b"2", None)), MULTIPART, 400, "body"),
        (
            _form(("prompt", b"a turtle", None), ("image", b"GIF89a not really", "t.gif")),
            MULTIPART,
            415,
            None,
        ),
        (_form(("prompt", b"a turtle", None), ("image", b"", "t.png")), MULTIPART, 400, None),
    ],
)
def test_a_hostile_edit_is_refused_in_openais_shape(
    dropin: ModuleType, body: bytes, content_type: str, status: int, param: str | None
) -> None:
    answered, payload = _call(dropin, _event(EDITS, body, content_type=content_type))

    assert answered == status, payload
    error = payload["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


def test_a_body_over_the_cap_is_413_before_it_is_parsed(dropin: ModuleType) -> None:
    event = _event(EDITS, b"", content_type=MULTIPART)
    event["body"] = "A" * (MAX_BODY_BYTES * 4 // 3 + 8)

    status, payload = _call(dropin, event)

    assert (status, payload["error"]["code"]) == (413, "body_too_large")


def test_malformed_base64_is_400(dropin: ModuleType) -> None:
    event = _event(EDITS, b"", content_type=MULTIPART)
    event["body"] = "not base64 !!"

    status, payload = _call(dropin, event)

    assert (status, payload["error"]["code"]) == (400, "invalid_body")


def test_an_unknown_route_under_openai_is_a_404_in_openais_shape(dropin: ModuleType) -> None:
    event = _event("/openai/v1/images/variations", b"", content_type=None)
    status, payload = _call(dropin, event)
    assert status == 404 and payload["error"]["type"] == "invalid_request_error"


def _prediction(
    dropin: ModuleType, body: Any, path: str = "/replicate/v1/predictions"
) -> tuple[int, dict[str, Any]]:
    return _call(dropin, _event(path, json.dumps(body).encode(), content_type="application/json"))


@pytest.mark.parametrize(
    "body",
    [
        {"input": {"prompt": "a turtle", "image": sketch_data_url()}},  # no model
        {"version": "someone/else", "input": {"prompt": "a", "image": sketch_data_url()}},
        {"version": "sketchbridge/auto", "input": {"prompt": "a"}},
        {"version": "sketchbridge/auto", "input": {"prompt": "a", "image": "ftp://x"}},
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a", "image": "https://elsewhere.example/t.png"},
        },
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a", "image": sketch_data_url(), "num_outputs": 2},
        },
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a", "image": sketch_data_url(), "prompt_strength": 2},
        },
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a", "image": sketch_data_url()},
            "webhook_events_filter": ["sometimes"],
        },
        {"version": "sketchbridge/auto", "input": "not an object"},
        [1, 2, 3],
    ],
)
def test_a_wrong_prediction_is_422_problem_details(dropin: ModuleType, body: Any) -> None:
    status, payload = _prediction(dropin, body)

    assert status == 422, payload
    assert set(payload) == {"title", "detail", "status"} and payload["status"] == 422


def test_a_webhook_on_a_deployment_without_its_queue_is_refused(dropin: ModuleType) -> None:
    status, payload = _prediction(
        dropin,
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a turtle", "image": sketch_data_url()},
            "webhook": "https://example.com/hook",
        },
    )
    assert status == 422 and "webhook" in payload["detail"]


def test_another_users_prediction_is_not_found(dropin: ModuleType) -> None:
    status, created = _prediction(
        dropin,
        {
            "version": "sketchbridge/auto",
            "input": {"prompt": "a turtle", "image": sketch_data_url()},
        },
    )
    assert status == 202, created
    event = http_event("GET", f"/replicate/v1/predictions/{created['id']}", user=None)
    event["requestContext"]["authorizer"] = {"lambda": {"user_id": "mallory", "key_id": "k" * 24}}

    response = dropin.lambda_handler(event, FakeLambdaContext())

    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://metadata.example/latest/meta-data", "169.254.169.254"),
        ("https://intranet.example/sketch.png", "10.0.0.7"),
        ("https://localhost/sketch.png", "127.0.0.1"),
        ("https://v6.example/sketch.png", "fd00::1"),
        ("http://public.example/sketch.png", "93.184.216.34"),
        ("file:///etc/passwd", "127.0.0.1"),
    ],
)
def test_an_image_url_on_a_private_address_or_not_https_is_not_fetched(
    url: str, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "sketchbridge.api.outbound.socket.getaddrinfo",
        lambda host, port: [(2, 1, 6, "", (address, port))],
    )

    with pytest.raises(InvalidSketchError, match="not fetched"):
        HttpImageFetcher().fetch(url)


@pytest.mark.parametrize(
    ("code", "status", "openai_type"),
    [
        ("content_policy", 422, "image_generation_user_error"),
        ("provider_unavailable", 503, "server_error"),
        ("budget_exceeded", 402, "insufficient_quota"),
        ("canceled", 409, "invalid_request_error"),
    ],
)
def test_a_failed_job_answers_the_openai_client_with_its_own_error(
    code: str, status: int, openai_type: str
) -> None:
    from sketchbridge.api.openai_compat import error_response
    from sketchbridge.domain.models import ErrorInfo, JobStatus, ResolvedParams
    from sketchbridge.services.dropin_jobs import job_failure

    job = JobResponse(
        id="j" * 32,
        status=JobStatus.CANCELED if code == "canceled" else JobStatus.FAILED,
        progress=0.5,
        prompt="a turtle",
        provider="replicate",
        params=ResolvedParams(seed=1, steps=2, strength=0.5, guidance_scale=7, width=64, height=64),
        created_at="2026-12-03T12:00:00+00:00",
        updated_at="2026-12-03T12:00:01+00:00",
        error=ErrorInfo(code=code, message="It did not work.") if code != "canceled" else None,
    )

    failure = job_failure(job)
    assert failure is not None
    answer = json.loads(error_response(failure).body)

    assert error_response(failure).status_code == status
    assert answer["error"]["type"] == openai_type
    assert answer["error"]["code"] == code


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("auto", "auto"),
        ("replicate", "replicate"),
        ("gpt-image-2", "openai"),
        ("dall-e-3", "openai"),
    ],
)
def test_code_that_names_an_openai_model_keeps_working_on_our_openai_provider(
    model: str, provider: str
) -> None:
    from sketchbridge.api.openai_compat import generation_request, images_request

    request = generation_request(
        images_request({"prompt": "a turtle", "model": model}), sketch_data_url()
    )

    assert request.provider == provider
