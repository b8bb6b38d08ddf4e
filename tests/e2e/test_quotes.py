"""Quotes and health through the local stack with the provider stand-ins: what an admin and a
client read from GET /providers and POST /estimates, and what the scheduled probe changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import StackProcess
from sketchbridge.domain.pricing import DEFAULT_PRICES, estimate_cost, price_model_to_dict

pytestmark = pytest.mark.e2e

PROVIDERS = ("local", "replicate", "openai", "bedrock")
STAND_INS = ("replicate", "openai", "bedrock")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """`make run STANDINS=1`, in its own process, on free ports."""
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_standins(stack: StackProcess) -> None:
    for name in STAND_INS:
        httpx.post(f"{_standin(stack, name)}/_control/reset", timeout=10).raise_for_status()


def _standin(stack: StackProcess, name: str) -> str:
    return str(stack.state["standins"][name])


def _get_providers(stack: StackProcess) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.api_url}/providers",
        headers={"authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _post_estimates(stack: StackProcess, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.api_url}/estimates",
        json=body,
        headers={"authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _run_health_check(stack: StackProcess) -> dict[str, str]:
    """What the EventBridge schedule does every five minutes, now (the Lambda Invoke API)."""
    response = httpx.post(
        f"{stack.lambda_url}/2015-03-31/functions/HealthFunction/invocations", json={}, timeout=60
    )
    assert response.status_code == 200, response.text
    return {probe["provider"]: probe["outcome"] for probe in response.json()["probes"]}


def _configured_cost(name: str) -> float:
    quality = "medium" if name == "openai" else None  # OPENAI_IMAGE_QUALITY's default
    # Each provider's own default steps (Replicate's FLUX: 28); one call where it has none.
    steps = {"local": 20, "replicate": 28}.get(name, 1)
    return estimate_cost(
        DEFAULT_PRICES[name], width=1024, height=1024, steps=steps, quality=quality
    )


def test_providers_list_all_four_with_the_configured_prices(stack: StackProcess) -> None:
    answer = _get_providers(stack)

    listed = {provider["name"]: provider for provider in answer["providers"]}
    assert list(listed) == list(PROVIDERS)
    for name, provider in listed.items():
        assert provider["price"] == price_model_to_dict(DEFAULT_PRICES[name]), name
        assert provider["quote"]["cost_usd"] == _configured_cost(name), name
        assert provider["status"] == "healthy" and provider["reason"], name
        assert provider["quote"]["eta_p90_s"] >= provider["quote"]["eta_s"] > 0, name
    assert listed["bedrock"]["quote"]["cost_usd"] == 0.07
    assert listed["local"]["quote"]["cost_usd"] == 0.0
    assert listed["local"]["is_ai"] is False and listed["openai"]["is_ai"] is True
    # auto means AI: never the local renderer while a stand-in answers.
    assert answer["auto"] in STAND_INS


def test_estimates_quote_each_provider_and_auto_takes_the_cheapest_ai_one(
    stack: StackProcess,
) -> None:
    answer = _post_estimates(stack, {"prompt": "a lighthouse at dusk", "policy": "cheapest"})

    quotes = {quote["provider"]: quote for quote in answer["estimates"]}
    assert {name: quote["cost_usd"] for name, quote in quotes.items()} == {
        name: _configured_cost(name) for name in PROVIDERS
    }
    assert all(quote["eligible"] for quote in quotes.values())
    # The free local renderer is not AI: auto leaves it out and says why.
    assert answer["auto"] == "replicate"
    assert [excluded["provider"] for excluded in answer["excluded"]] == ["local"]
    assert answer["excluded"][0]["reason"].startswith("not AI")


def test_estimates_say_why_a_provider_cannot_take_the_request(stack: StackProcess) -> None:
    answer = _post_estimates(
        stack,
        {
            "prompt": "a lighthouse at dusk",
            "provider": "bedrock",
            "params": {"seed": 7},
            "max_cost_usd": 0.05,
        },
    )

    quotes = {quote["provider"]: quote for quote in answer["estimates"]}
    assert quotes["openai"]["reasons"] == ["cannot honour a seed"]
    assert quotes["bedrock"]["reasons"] == ["costs $0.07, above the limit of $0.05"]
    assert quotes["replicate"]["eligible"] is True
    assert answer["auto"] == "replicate"


def test_the_scheduled_probe_marks_a_provider_down_without_drawing_anything(
    stack: StackProcess,
) -> None:
    assert _run_health_check(stack) == dict.fromkeys(PROVIDERS, "ok")
    httpx.post(
        f"{_standin(stack, 'replicate')}/_control/mode", json={"mode": "down"}, timeout=10
    ).raise_for_status()

    for _ in range(3):  # the breaker's threshold: three failures in a row
        assert _run_health_check(stack)["replicate"] == "provider_unavailable"

    replicate = {p["name"]: p for p in _get_providers(stack)["providers"]}["replicate"]
    assert replicate["status"] == "down"
    assert "paused" in replicate["reason"]
    estimate = _post_estimates(stack, {"prompt": "a lighthouse", "provider": "replicate"})
    quote = {q["provider"]: q for q in estimate["estimates"]}["replicate"]
    assert quote["eligible"] is False and quote["health"] == "down"
    # Only model lookups reached Replicate: no prediction was created, nothing was billed.
    received = httpx.get(f"{_standin(stack, 'replicate')}/_control/requests", timeout=10).json()
    assert {(r["method"], r["path"]) for r in received} == {
        ("GET", "/v1/models/black-forest-labs/flux-canny-dev")
    }
    assert len(received) == 4
