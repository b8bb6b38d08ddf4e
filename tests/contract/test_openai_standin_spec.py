"""The OpenAI stand-in answers as OpenAI's own spec says: bodies, stream events, errors.

Every JSON answer and every streamed event is validated against the component schemas in
``../shared/providers/openai-images-subset.yaml`` (the OpenAPI spec's image paths and the
schemas they reference). Requests go out as the SDK sends them (``openai-sdk-wire-capture.json``):
multipart with ``image`` or repeated ``image[]`` parts, booleans and numbers as text.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from PIL import Image, ImageDraw
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from local.standins.control import StandinControl
from local.standins.openai import create_app
from sketchbridge.domain.clock import pinned
from tests.contract.conftest import Serve

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "providers"
SPEC_URI = "urn:openai-images-subset"
KEY = "sk-spec-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


@cache
def _registry() -> Registry:
    # The subset lists the schemas at its top level, while its $refs point into
    # #/components/schemas as in the full spec: put them back there.
    subset = yaml.safe_load((SPEC / "openai-images-subset.yaml").read_text())
    schemas = {name: body for name, body in subset.items() if not name.startswith("/")}
    document = {"components": {"schemas": schemas}}
    return Registry().with_resource(SPEC_URI, Resource(document, specification=DRAFT202012))


def assert_matches(schema_name: str, instance: Any) -> None:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, f"{schema_name}: {[error.message for error in errors]}"


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def base_url(serve_for_module: Serve, control: StandinControl) -> str:
    return serve_for_module(create_app(control, api_key=KEY)) + "/v1"


@pytest.fixture(autouse=True)
def _fresh_standin(control: StandinControl) -> Iterator[None]:
    control.reset()
    yield
    control.reset()


def sketch_png() -> bytes:
    image = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(image).rectangle((60, 40, 240, 160), outline="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def edit(
    base_url: str, *, field: str = "image", headers: Any = None, **form: str
) -> httpx.Response:
    fields = {"prompt": "a blue box", "model": "gpt-image-2", "size": "1024x1024", **form}
    return httpx.post(
        f"{base_url}/images/edits",
        headers=AUTH if headers is None else headers,
        data=fields,
        files=[(field, ("sketch.png", sketch_png(), "image/png"))],
        timeout=30,
    )


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) per event; each event is an ``event:`` and a ``data:`` line."""
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(lines) == {"event", "data"}, block[:80]
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_an_edit_answers_an_images_response(base_url: str) -> None:
    response = edit(base_url, quality="low")

    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert_matches("ImagesResponse", body)
    assert body["size"] == "1024x1024" and body["quality"] == "low"
    assert "url" not in body["data"][0]
    assert Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))).size == (
        1024,
        1024,
    )


def test_several_images_as_image_array_parts_are_accepted(base_url: str) -> None:
    response = edit(base_url, field="image[]", n="2")

    assert response.status_code == 200
    body = response.json()
    assert_matches("ImagesResponse", body)
    assert len(body["data"]) == 2


def test_a_streamed_edit_sends_partial_images_then_the_completed_image(base_url: str) -> None:
    response = edit(base_url, stream="true", partial_images="2", size="1536x1024")

    events = sse_events(response)
    assert [name for name, _ in events] == [
        "image_edit.partial_image",
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    for name, data in events:
        assert data["type"] == name
        assert_matches("ImageEditStreamEvent", data)
        schema = (
            "ImageEditPartialImageEvent"
            if name.endswith("partial_image")
            else "ImageEditCompletedEvent"
        )
        assert_matches(schema, data)
    assert [data.get("partial_image_index") for _, data in events[:2]] == [0, 1]


def test_a_generation_answers_and_streams_as_the_spec_says(base_url: str) -> None:
    body = {"prompt": "a lighthouse", "model": "gpt-image-2", "size": "1024x1536"}
    answer = httpx.post(f"{base_url}/images/generations", headers=AUTH, json=body, timeout=30)
    streamed = httpx.post(
        f"{base_url}/images/generations",
        headers=AUTH,
        json={**body, "stream": True, "partial_images": 1},
        timeout=30,
    )

    assert_matches("ImagesResponse", answer.json())
    events = sse_events(streamed)
    assert [name for name, _ in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    for _, data in events:
        assert_matches("ImageGenStreamEvent", data)


def test_an_aborted_stream_ends_with_the_spec_error_event(
    base_url: str, control: StandinControl
) -> None:
    control.set_script([{"outcome": "aborted"}])

    events = sse_events(edit(base_url, stream="true", partial_images="2"))

    assert [name for name, _ in events] == ["image_edit.partial_image", "error"]
    name, data = events[-1]
    assert_matches("ErrorEvent", {"event": name, "data": data})


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ({"outcome": "moderation"}, 400, "moderation_blocked"),
        ({"outcome": "aborted"}, 500, None),
        ({"status": 429, "headers": {"retry-after": "2"}}, 429, "rate_limit_exceeded"),
        ({"status": 401}, 401, "invalid_api_key"),
        ({"status": 503}, 503, None),
    ],
)
def test_scripted_failures_answer_openai_error_bodies(
    base_url: str, control: StandinControl, outcome: dict[str, Any], status: int, code: str | None
) -> None:
    control.set_script([outcome])

    response = edit(base_url)

    assert response.status_code == status
    assert_matches("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"]
    for name, value in outcome.get("headers", {}).items():
        assert response.headers[name] == value


def test_a_scripted_body_is_answered_exactly(base_url: str, control: StandinControl) -> None:
    body = {"error": {"message": "m", "type": "insufficient_quota", "param": None, "code": "x"}}
    control.set_script([{"status": 429, "headers": {"x-should-retry": "false"}, "body": body}])

    response = edit(base_url)

    assert (response.status_code, response.json()) == (429, body)
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("headers", "form", "status", "code"),
    [
        ({}, {}, 401, None),
        ({"Authorization": "Bearer sk-not-this-one"}, {}, 401, "invalid_api_key"),
        (None, {"size": "512x512", "model": "gpt-image-1.5"}, 400, "invalid_value"),
        (None, {"size": "1000x1000"}, 400, "invalid_value"),
        (None, {"quality": "standard"}, 400, "invalid_value"),
        (None, {"partial_images": "4", "stream": "true"}, 400, "integer_above_max_value"),
        (None, {"model": "gpt-image-1"}, 404, "model_not_found"),
        (None, {"prompt": ""}, 400, None),
    ],
)
def test_bad_requests_answer_openai_error_bodies(
    base_url: str, headers: Any, form: dict[str, str], status: int, code: str | None
) -> None:
    # A day when gpt-image-1.5 still answered and gpt-image-1 no longer did.
    with pinned(datetime(2026, 11, 25, tzinfo=UTC)):
        response = edit(base_url, headers=headers, **form)

    assert response.status_code == status
    assert_matches("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == code


def test_a_missing_image_names_the_parameter(base_url: str) -> None:
    # No model: the default, gpt-image-1.5, which answered until 2026-12-01.
    with pinned(datetime(2026, 11, 25, tzinfo=UTC)):
        response = httpx.post(
            f"{base_url}/images/edits", headers=AUTH, data={"prompt": "x"}, files={"mask": b"x"}
        )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "image"
