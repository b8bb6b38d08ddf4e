"""Requests written to break the HTTP edge: each answers a documented 4xx, never a 5xx."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.api.http import MAX_BODY_BYTES
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


def _raw_event(path: str, body: bytes, *, content_type: str | None) -> dict[str, Any]:
    """As API Gateway passes a body it cannot treat as text: base64 of the bytes."""
    event = http_event("POST", path, user="ada")
    event["headers"] = {"content-type": content_type} if content_type else {}
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    return event


def _nested_field(depth: int) -> str:
    return '{"sketch": "x", "prompt": "p", "params": ' + "[" * depth + "]" * depth + "}"


ROUTES = [("submit", "/generations"), ("query", "/estimates")]


@pytest.mark.parametrize(("function", "path"), ROUTES)
def test_a_body_of_100000_nested_brackets_is_invalid_body(
    function: str, path: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler(function, deps, monkeypatch)
    status, body = _call(handler, http_event("POST", path, body="[" * 100_000, user="ada"))
    assert (status, body["error"]["code"]) == (400, "invalid_body")
    assert "deeper than" in body["error"]["message"]


@pytest.mark.parametrize(("function", "path"), ROUTES)
def test_a_field_nested_5000_deep_is_invalid_body(
    function: str, path: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler(function, deps, monkeypatch)
    status, body = _call(handler, http_event("POST", path, body=_nested_field(5000), user="ada"))
    assert (status, body["error"]["code"]) == (400, "invalid_body")


@pytest.mark.parametrize(("function", "path"), ROUTES)
@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream", None])
def test_non_utf8_bytes_are_invalid_body_with_or_without_a_content_type(
    function: str,
    path: str,
    content_type: str | None,
    deps: Dependencies,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = _handler(function, deps, monkeypatch)
    event = _raw_event(path, b'{"prompt": "\xff\xfe\xc3\x28"}', content_type=content_type)
    status, body = _call(handler, event)
    assert (status, body["error"]["code"]) == (400, "invalid_body")
    assert "UTF-8" in body["error"]["message"]


def test_malformed_base64_from_the_gateway_is_invalid_body(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    event = http_event("POST", "/generations", user="ada")
    event["body"], event["isBase64Encoded"] = "%%%not base64", True
    status, body = _call(handler, event)
    assert (status, body["error"]["code"]) == (400, "invalid_body")


@pytest.mark.parametrize("raw", ["", "{not json", "null", '"a string"', "[1, 2]", "1e999999"])
def test_a_body_that_is_not_a_json_object_is_a_4xx(
    raw: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    status, body = _call(handler, http_event("POST", "/generations", body=raw, user="ada"))
    assert status == 400
    assert body["error"]["code"] in {"invalid_body", "invalid_input"}


def test_a_body_over_the_cap_is_refused_before_it_is_read(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    huge = json.dumps({"sketch": "a" * (MAX_BODY_BYTES + 1), "prompt": "p"})
    status, body = _call(handler, http_event("POST", "/generations", body=huge, user="ada"))
    assert (status, body["error"]["code"]) == (413, "body_too_large")


def test_brackets_inside_strings_do_not_count_as_nesting(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    prompt = "[[[[" * 100 + ' \\" {{{{' * 50
    status, body = _call(
        handler,
        http_event(
            "POST", "/generations", body={"sketch": sketch_data_url(), "prompt": prompt}, user="ada"
        ),
    )
    assert status == 202, body


def _submit_with_key(handler: ModuleType, key: str) -> tuple[int, dict[str, Any]]:
    event = http_event(
        "POST", "/generations", body={"sketch": sketch_data_url(), "prompt": "a turtle"}, user="ada"
    )
    event["headers"]["idempotency-key"] = key
    return _call(handler, event)


@pytest.mark.parametrize(
    "key",
    ["k" * 4000, "k" * 256, "", "tab\there", "line\nbreak", "caf\u00e9", "nul\x00"],
    ids=["4000-chars", "256-chars", "empty", "tab", "newline", "non-ascii", "nul"],
)
def test_an_idempotency_key_that_is_too_long_or_unprintable_is_a_400(
    key: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    status, body = _submit_with_key(handler, key)
    assert (status, body["error"]["code"]) == (400, "invalid_header")
    assert "Idempotency-Key" in body["error"]["message"]


def test_an_idempotency_key_of_255_printable_characters_is_accepted(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    key = ("a-Z_0 9#~" * 40)[:255]
    first = _submit_with_key(handler, key)
    again = _submit_with_key(handler, key)
    assert first[0] == 202 and again[1]["id"] == first[1]["id"]


@pytest.mark.parametrize(
    "job_id",
    ["x" * 2049, "a" * 129, "../../etc/passwd", "id with spaces", "%00", "\u00e9t\u00e9"],
    ids=["over-2kb", "129-chars", "traversal", "spaces", "percent", "non-ascii"],
)
def test_a_job_id_that_is_not_ours_is_a_404_without_touching_the_store(
    job_id: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(_: str) -> None:
        raise AssertionError("an id that is not ours reached the job store")

    monkeypatch.setattr(deps.jobs, "get", no_lookup)
    handler = _handler("query", deps, monkeypatch)
    event = http_event(
        "GET", f"/generations/{job_id}", user="ada", path_parameters={"job_id": job_id}
    )
    status, body = _call(handler, event)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert len(body["error"]["message"]) < 200


@pytest.mark.parametrize(
    "prompt",
    [
        "\u200b\u200b\u200b",  # zero-width spaces
        "\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM
        " \u200b \u202e\u2066 \t",  # with whitespace and bidi controls
        "\u3164\u3164",  # Hangul fillers
        "\u2800",  # braille blank
        "\u0301\u0301",  # combining marks alone
    ],
    ids=["zero-width", "joiners-bom", "with-whitespace", "hangul-filler", "braille", "combining"],
)
def test_a_prompt_of_only_invisible_characters_is_invalid_prompt(
    prompt: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), "prompt": prompt}
    status, answer = _call(handler, http_event("POST", "/generations", body=body, user="ada"))
    assert (status, answer["error"]["code"]) == (400, "invalid_prompt")
    assert deps.queue.messages == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("prompt", ["a\u200bturtle", "\u6d77\u9f9f", "\U0001f422", "e\u0301"])
def test_a_prompt_with_something_visible_is_accepted(
    prompt: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), "prompt": prompt}
    status, _ = _call(handler, http_event("POST", "/generations", body=body, user="ada"))
    assert status == 202


@pytest.mark.parametrize(
    "flags",
    [
        {"allow_failover": 0},
        {"new_variation": "yes"},
        {"preprocessing": {"palette_hint": 1}},
    ],
    ids=["allow_failover-0", "new_variation-yes", "palette_hint-1"],
)
def test_a_flag_that_is_not_true_or_false_is_refused_as_the_schema_says(
    flags: dict[str, Any], deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by Schemathesis (ST201): `"allow_failover": 0` was accepted as false.
    handler = _handler("submit", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), "prompt": "a turtle", **flags}
    status, answer = _call(handler, http_event("POST", "/generations", body=body, user="ada"))
    assert status == 400
    assert answer["error"]["code"] in {"invalid_input", "invalid_params"}
    assert deps.queue.messages == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("function", "path"), ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        '{"prompt": "t", "params": {"steps": 1' + "0" * 5000 + "}}",
        '{"prompt": "t", "max_eta_s": Infinity}',
        '{"prompt": "t", "max_cost_usd": NaN}',
        '{"prompt": "t", "max_cost_usd": -Infinity}',
    ],
    ids=["5001-digit-integer", "infinity", "nan", "minus-infinity"],
)
def test_numbers_json_does_not_have_are_invalid_body(
    function: str, path: str, raw: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found hunting: the 5,001-digit integer answered 500 (Python's int conversion limit);
    # Infinity was accepted as a max_eta_s.
    handler = _handler(function, deps, monkeypatch)
    status, body = _call(handler, http_event("POST", path, body=raw, user="ada"))
    assert (status, body["error"]["code"]) == (400, "invalid_body")


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "tur\u0000tle"},
        {"prompt": "a turtle \u001b[2J\u001b[31mRED"},
        {"prompt": "a turtle", "negative_prompt": "fog\u0007"},
    ],
    ids=["nul", "ansi-escape", "bell-in-negative"],
)
def test_control_characters_in_prompts_are_refused(
    fields: dict[str, str], deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found hunting: a NUL or a terminal escape in the prompt was queued and echoed back.
    handler = _handler("submit", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), **fields}
    status, answer = _call(handler, http_event("POST", "/generations", body=body, user="ada"))
    assert status == 400
    assert answer["error"]["code"] in {"invalid_prompt", "invalid_input"}
    assert deps.queue.messages == []  # type: ignore[attr-defined]


def test_line_breaks_and_tabs_in_a_prompt_are_kept(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler("submit", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), "prompt": "a turtle\n\twatercolor"}
    status, answer = _call(handler, http_event("POST", "/generations", body=body, user="ada"))
    assert status == 202 and answer["prompt"] == "a turtle\n\twatercolor"
