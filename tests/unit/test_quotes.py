"""GET /providers and POST /estimates as an admin and a client read them: health with its
reason, the configured prices, the wait, and the provider ``auto`` would pick."""

from __future__ import annotations

from typing import Any

import pytest

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.domain.models import EstimateRequest, EstimatesResponse
from sketchbridge.domain.pricing import DEFAULT_PRICES, price_model_to_dict
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateProvider
from sketchbridge.services.estimates import estimate
from sketchbridge.services.list_providers import list_providers
from sketchbridge.services.ports import Dependencies
from tests.support.fakes import FakeClock, fake_dependencies, sketch_data_url

# gpt-image-2 at medium quality, 1024x1024: (1056 output tokens + 2 partial images x 100)
# x $30 per million tokens (pricing.md; see domain/pricing.py).
OPENAI_MEDIUM_SQUARE_USD = 0.03768


def _deps(*names: str, openai_model: str = "gpt-image-2") -> Dependencies:
    """The real adapters (built from configuration only: nothing is called)."""
    every: dict[str, ImageProvider] = {
        "local": LocalProvider(),
        "replicate": ReplicateProvider(lambda: None),
        "openai": OpenAIProvider(OpenAIConfig(model=openai_model), api_key=lambda: None),
        "bedrock": BedrockProvider(BedrockConfig(region="us-west-2")),
    }
    deps = fake_dependencies()
    chosen = names or tuple(every)
    deps.providers = ProviderRegistry({name: every[name] for name in chosen}, default=chosen[0])
    return deps


def _now(deps: Dependencies) -> float:
    return deps.clock().timestamp()


def _fail(deps: Dependencies, name: str, times: int) -> None:
    for _ in range(times):
        deps.breakers.record(name, ok=False, now=_now(deps))
        deps.latency.record(name, seconds=1.0, ok=False, steps=20, now=_now(deps))


def _estimate(deps: Dependencies, **body: Any) -> EstimatesResponse:
    return estimate(EstimateRequest.model_validate({"prompt": "a sea turtle", **body}), deps=deps)


def _by_provider(response: EstimatesResponse) -> dict[str, Any]:
    return {quote.provider: quote for quote in response.estimates}


# ---------------------------------------------------------------- GET /providers


def test_providers_are_listed_with_their_configured_prices_and_what_a_plain_picture_costs() -> None:
    listed = {p.name: p for p in list_providers(_deps()).providers}

    assert list(listed) == ["local", "replicate", "openai", "bedrock"]
    for name, provider in listed.items():
        assert provider.price == price_model_to_dict(DEFAULT_PRICES[name])
        assert (provider.quote.width, provider.quote.height) == (1024, 1024)
    assert listed["local"].quote.cost_usd == 0.0
    assert listed["replicate"].quote.cost_usd == 0.025
    assert listed["openai"].quote.cost_usd == OPENAI_MEDIUM_SQUARE_USD
    assert listed["bedrock"].quote.cost_usd == 0.07
    assert listed["local"].is_ai is False and listed["bedrock"].is_ai is True


def test_providers_show_what_each_accepts_as_ranges() -> None:
    listed = {p.name: p for p in list_providers(_deps()).providers}

    replicate = listed["replicate"].parameters
    assert (replicate.width.min, replicate.width.max, replicate.width.multiple) == (256, 1440, 16)
    assert replicate.steps is not None and replicate.guidance_scale is not None
    assert (replicate.steps.min, replicate.steps.max, replicate.steps.default) == (1, 50, 28)
    assert replicate.steps.native_name == "num_inference_steps" and replicate.steps.integer
    assert replicate.guidance_scale.native_name == "guidance"
    assert listed["replicate"].ignored == ["strength"]
    # Bedrock's strength is sent as the model's control_strength; it has no steps.
    bedrock = listed["bedrock"]
    assert bedrock.parameters.strength is not None
    assert bedrock.parameters.strength.native_name == "control_strength"
    assert bedrock.ignored == ["steps", "guidance_scale"]
    # OpenAI takes none of them: one "step" is the whole picture, so it is quoted at one.
    assert listed["openai"].parameters.steps is None and listed["openai"].quote.steps == 1
    assert listed["openai"].ignored == ["steps", "strength", "guidance_scale", "seed"]
    assert listed["openai"].capabilities.seed is False
    assert listed["local"].ignored == ["guidance_scale"]


def test_a_quiet_deployment_is_healthy_and_auto_picks_an_ai_provider_not_the_local_renderer() -> (
    None
):
    response = list_providers(_deps())

    ai = {p.name for p in response.providers if p.is_ai}
    assert response.auto in ai and response.policy == "balanced"
    assert response.default == "local"
    for provider in response.providers:
        assert (provider.status, provider.reason) == ("healthy", "answering normally")
        assert provider.latency.samples == 0 and provider.latency.p50_s is None
        # Before any measurement, the wait is the profile's typical time.
        assert provider.quote.eta_s > 0 and provider.quote.eta_p90_s >= provider.quote.eta_s


def test_a_provider_whose_calls_keep_failing_is_listed_down_with_the_reason() -> None:
    deps = _deps("replicate", "bedrock")
    _fail(deps, "replicate", times=3)

    listed = {p.name: p for p in list_providers(deps).providers}

    assert listed["replicate"].status == "down"
    assert "paused after repeated errors" in listed["replicate"].reason
    assert listed["replicate"].latency.error_rate == 1.0
    assert listed["bedrock"].status == "healthy"
    assert list_providers(deps).auto == "bedrock"


def test_latency_percentiles_come_from_the_calls_of_the_window() -> None:
    deps = _deps("local", "replicate")
    for seconds in (4.0, 5.0, 6.0, 7.0, 20.0):
        deps.latency.record("replicate", seconds=seconds, ok=True, steps=20, now=_now(deps))

    replicate = {p.name: p for p in list_providers(deps).providers}["replicate"]

    assert (replicate.latency.p50_s, replicate.latency.p90_s) == (6.0, 20.0)
    assert replicate.latency.samples == 5 and replicate.latency.error_rate == 0.0
    assert replicate.latency.window_s == 900.0
    # The default request runs Replicate's own default, 28 steps: the ETA measured at 20
    # steps, scaled to 28.
    assert replicate.quote.steps == 28
    assert (replicate.quote.eta_s, replicate.quote.eta_p90_s) == (8.4, 28.0)


@pytest.mark.parametrize(
    ("model", "retirement", "status"),
    [
        ("gpt-image-2", "ok", "healthy"),
        ("gpt-image-1.5", "flagged", "healthy"),  # retires 2026-12-01, within 30 days
        ("gpt-image-1", "retired", "down"),  # retired 2026-10-23
    ],
)
def test_a_model_near_its_retirement_is_flagged_and_a_retired_one_is_down(
    model: str, retirement: str, status: str
) -> None:
    deps = _deps("local", "openai", openai_model=model)
    assert isinstance(deps.clock, FakeClock)  # 2026-11-25

    openai = {p.name: p for p in list_providers(deps).providers}["openai"]

    assert (openai.model, openai.retirement, openai.status) == (model, retirement, status)
    if retirement != "ok":
        assert openai.retires_on is not None and str(openai.retires_on) in openai.reason


def test_an_admin_switched_off_provider_is_down_and_never_auto() -> None:
    deps = _deps("local", "replicate")
    deps.provider_config.put("local", {"enabled": False})

    response = list_providers(deps)

    local = {p.name: p for p in response.providers}["local"]
    assert (local.status, local.reason) == ("down", "disabled by an admin")
    assert response.auto == "replicate"


# ---------------------------------------------------------------- POST /estimates


def test_an_estimate_quotes_every_provider_at_its_configured_price() -> None:
    response = _estimate(_deps(), policy="cheapest")

    quotes = _by_provider(response)
    assert {name: q.cost_usd for name, q in quotes.items()} == {
        "local": 0.0,
        "replicate": 0.025,
        "openai": OPENAI_MEDIUM_SQUARE_USD,
        "bedrock": 0.07,
    }
    assert all(q.eligible and q.reasons == [] for q in quotes.values())
    # Cheapest is the free local renderer, but auto means AI: the cheapest AI provider.
    assert response.auto == "replicate"
    assert [(e.provider, e.reason) for e in response.excluded] == [
        ("local", "not AI: auto uses it only as the last hop when allow_offline_fallback is set")
    ]
    # No steps asked for: each provider's own default.
    assert (response.width, response.height, response.steps) == (1024, 1024, None)


def test_without_local_the_cheapest_policy_picks_replicate_and_fastest_may_differ() -> None:
    deps = _deps("replicate", "openai", "bedrock")
    for seconds in (2.0, 2.0, 2.0):
        deps.latency.record("bedrock", seconds=seconds, ok=True, steps=1, now=_now(deps))

    assert _estimate(deps, policy="cheapest").auto == "replicate"
    assert _estimate(deps, policy="fastest").auto == "bedrock"


def test_a_request_with_a_seed_cannot_go_to_openai_and_is_told_why() -> None:
    response = _estimate(_deps(), params={"seed": 42})

    openai = _by_provider(response)["openai"]
    assert openai.eligible is False
    assert openai.reasons == ["cannot honour a seed"]
    assert _by_provider(response)["local"].eligible is True


def test_a_cost_limit_rules_out_dearer_providers_and_auto_keeps_within_it() -> None:
    response = _estimate(_deps("replicate", "openai", "bedrock"), max_cost_usd=0.03)

    quotes = _by_provider(response)
    assert quotes["replicate"].eligible is True
    assert quotes["bedrock"].eligible is False
    assert quotes["bedrock"].reasons == ["costs $0.07, above the limit of $0.03"]
    assert quotes["openai"].eligible is False
    assert response.auto == "replicate"


def test_when_nothing_fits_there_is_no_auto_pick() -> None:
    response = _estimate(_deps("replicate", "openai", "bedrock"), max_cost_usd=0.01)

    assert response.auto is None
    assert not any(q.eligible for q in response.estimates)


def test_a_provider_that_is_down_is_quoted_but_not_eligible() -> None:
    deps = _deps("local", "replicate")
    _fail(deps, "replicate", times=3)

    replicate = _by_provider(_estimate(deps, provider="replicate"))["replicate"]

    assert replicate.eligible is False and replicate.health == "down"
    assert replicate.reasons == ["failing: calls are paused after repeated errors"]
    assert replicate.cost_usd == 0.025


def test_a_size_outside_a_providers_range_is_named() -> None:
    response = _estimate(_deps(), params={"width": 2048, "height": 2048})

    quotes = _by_provider(response)
    assert quotes["openai"].reasons == [
        "width 2048 is outside 1024..1536",
        "height 2048 is outside 1024..1536",
    ]
    assert quotes["bedrock"].eligible is True
    assert (response.width, response.height) == (2048, 2048)


def test_without_a_sketch_a_single_side_makes_a_square_and_a_sketch_gives_its_aspect() -> None:
    deps = _deps("local")

    one_side = _estimate(deps, params={"width": 512})
    assert (one_side.width, one_side.height) == (512, 512)
    with_sketch = _estimate(deps, sketch=sketch_data_url())
    assert max(with_sketch.width, with_sketch.height) == 768  # submit's default long side


def test_an_unknown_provider_is_refused_as_at_submit() -> None:
    with pytest.raises(UnknownProviderError):
        _estimate(_deps(), provider="dall-e")


def test_steps_raise_the_wait_where_they_matter() -> None:
    deps = _deps("replicate", "bedrock")

    few = _by_provider(_estimate(deps, params={"steps": 10}))
    many = _by_provider(_estimate(deps, params={"steps": 40}))

    assert many["replicate"].eta_s == 4 * few["replicate"].eta_s
    # Bedrock has no steps: its wait does not move.
    assert many["bedrock"].eta_s == few["bedrock"].eta_s


def test_an_estimate_reads_the_health_of_now() -> None:
    deps = _deps("local", "replicate")
    _fail(deps, "replicate", times=3)
    assert isinstance(deps.clock, FakeClock)
    deps.clock.advance(31)  # the cool-down has passed

    replicate = _by_provider(_estimate(deps))["replicate"]

    assert replicate.health == "degraded" and replicate.eligible is True
