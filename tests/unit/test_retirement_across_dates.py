"""A model's retirement as the calendar passes it: what GET /providers says and what ``auto``
does before, within 30 days of, on and after the day (issue 9).

OpenAI's gpt-image-1.5 retires on 2026-12-01 (sketchbridge.providers.openai_images). Beside it
stands Bedrock, made dearer and slower (an admin's profile override of its typical time), so
that under the balanced policy ``auto`` prefers OpenAI while its model still answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.domain.models import GenerationRequest
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import fake_dependencies, sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function

RETIRES_ON = "2026-12-01"

DAYS = [
    # (the day, retirement, status, auto)
    (datetime(2026, 10, 1, 9, tzinfo=UTC), "ok", "healthy", "openai"),
    (datetime(2026, 11, 15, 9, tzinfo=UTC), "flagged", "healthy", "openai"),
    (datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "flagged", "healthy", "openai"),
    (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "retired", "down", "bedrock"),
    (datetime(2027, 12, 31, 9, tzinfo=UTC), "retired", "down", "bedrock"),
]


def _deps(day: datetime) -> Dependencies:
    providers: dict[str, ImageProvider] = {
        "openai": OpenAIProvider(OpenAIConfig(model="gpt-image-1.5"), api_key=lambda: None),
        "bedrock": BedrockProvider(BedrockConfig(region="us-west-2")),
    }
    deps = fake_dependencies()
    deps.providers = ProviderRegistry(providers, default="openai")
    deps.provider_config.put("bedrock", {"typical_s": 60.0})
    deps.clock = lambda: day
    return deps


def _query(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("query")
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    return module


def _call(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(("day", "retirement", "status", "auto"), DAYS)
def test_get_providers_reports_the_retirement_as_the_days_pass(
    day: datetime, retirement: str, status: str, auto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, body = _call(_query(_deps(day), monkeypatch), http_event("GET", "/providers"))

    assert code == 200
    openai = {provider["name"]: provider for provider in body["providers"]}["openai"]
    assert (openai["retirement"], openai["status"]) == (retirement, status)
    assert openai["retires_on"] == RETIRES_ON  # visible every day, not only once flagged
    if retirement != "ok":
        assert RETIRES_ON in openai["reason"]
    assert body["auto"] == auto


@pytest.mark.parametrize(("day", "retirement", "status", "auto"), DAYS)
def test_auto_never_plans_a_retired_model_and_still_plans_a_flagged_one(
    day: datetime, retirement: str, status: str, auto: str
) -> None:
    deps = _deps(day)
    request = GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": "auto",
            # A size gpt-image-1.5 draws (it takes only its standard sizes).
            "params": {"width": 1024, "height": 1024},
        }
    )

    job = submit_generation(request, user_id="user-1", deps=deps)

    plan = deps.jobs.get(job.id).plan  # type: ignore[union-attr]
    assert plan is not None and plan[0] == auto
    assert ("openai" in plan) == (retirement != "retired")
    assert job.quote is not None and job.quote.provider == auto


def test_an_estimate_on_the_retirement_day_names_why_the_model_is_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deps = _deps(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))

    code, body = _call(
        _query(deps, monkeypatch), http_event("POST", "/estimates", body={"prompt": "a turtle"})
    )

    assert code == 200 and body["auto"] == "bedrock"
    openai = {quote["provider"]: quote for quote in body["estimates"]}["openai"]
    assert openai["eligible"] is False
    assert any(RETIRES_ON in reason for reason in openai["reasons"])
