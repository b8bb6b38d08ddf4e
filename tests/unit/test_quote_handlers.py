"""GET /providers, POST /estimates and the scheduled health check at the Lambda edge."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.domain.errors import ProviderUnavailableError
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from tests.support.fakes import FakeMetrics, fake_dependencies, sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function
from tests.support.probed_provider import ProbedProvider


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


def test_providers_answer_with_health_price_quote_and_the_auto_pick(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = _handler("query", deps, monkeypatch)

    status, body = _call(query, http_event("GET", "/providers"))

    assert status == 200 and body["auto"] == "local" and body["policy"] == "balanced"
    (local,) = body["providers"]
    assert local["status"] == "healthy" and local["reason"]
    assert local["price"] == {"kind": "per_image", "prices": [{"usd": 0.0}]}
    assert local["quote"]["cost_usd"] == 0.0 and local["quote"]["width"] == 1024
    assert local["latency"]["samples"] == 0 and local["latency"]["p50_s"] is None
    assert local["retirement"] == "ok" and local["retires_on"] is None
    assert local["parameters"]["steps"] == {
        "min": 1,
        "max": 100,
        "multiple": 1,
        "default": 20,
        "native_name": "steps",
        "integer": True,
    }
    assert local["parameters"]["guidance_scale"] is None and local["ignored"] == ["guidance_scale"]


def test_an_estimate_without_a_sketch_quotes_a_square_picture(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = _handler("query", deps, monkeypatch)

    status, body = _call(query, http_event("POST", "/estimates", body={"prompt": "a turtle"}))

    assert status == 200
    assert body["auto"] == "local" and (body["width"], body["height"]) == (1024, 1024)
    assert body["estimates"] == [
        {
            "provider": "local",
            "eligible": True,
            "reasons": [],
            "cost_usd": 0.0,
            "eta_s": 2.0,
            "eta_p90_s": 3.0,
            "health": "healthy",
        }
    ]


def test_an_estimate_takes_the_same_body_as_a_submit(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = _handler("query", deps, monkeypatch)
    body = {"sketch": sketch_data_url(), "prompt": "a turtle", "params": {"steps": 40}}

    status, answer = _call(query, http_event("POST", "/estimates", body=body))

    assert status == 200 and answer["steps"] == 40
    assert answer["estimates"][0]["eta_s"] == 4.0  # the local renderer's 2 s at 20 steps


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_body"),
        ({}, 400, "invalid_prompt"),
        ({"prompt": "x", "sketch": "https://example.com/a.png"}, 400, "invalid_sketch"),
        ({"prompt": "x", "provider": "nope"}, 400, "unknown_provider"),
        ({"prompt": "x", "params": {"steps": 0}}, 400, "invalid_params"),
        ({"prompt": "x", "max_cost_usd": -1}, 400, "invalid_input"),
    ],
)
def test_a_malformed_estimate_is_refused_with_the_field_to_fix(
    deps: Dependencies,
    monkeypatch: pytest.MonkeyPatch,
    body: Any,
    status: int,
    code: str,
) -> None:
    query = _handler("query", deps, monkeypatch)

    answered, answer = _call(query, http_event("POST", "/estimates", body=body))

    assert (answered, answer["error"]["code"]) == (status, code)


def test_the_scheduled_health_check_probes_every_provider_and_counts_the_outcomes(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = ProbedProvider(
        name="replicate", failure=ProviderUnavailableError("503", provider="replicate")
    )
    deps.providers = ProviderRegistry({"local": LocalProvider(), "replicate": failing}, "local")
    health = _handler("health", deps, monkeypatch)
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

    answer = health.lambda_handler(scheduled, FakeLambdaContext())

    outcomes = {probe["provider"]: probe["outcome"] for probe in answer["probes"]}
    assert outcomes == {"local": "ok", "replicate": "provider_unavailable"}
    assert isinstance(deps.metrics, FakeMetrics)
    assert deps.metrics.total("ProviderProbeSucceeded") == 1
    assert deps.metrics.total("ProviderProbeFailed") == 1
