"""What each adapter says a call cost equals what the provider would bill for it.

Each adapter runs through its real SDK against its stand-in; the usage the adapter reports is
priced by ``actual_cost`` (our versioned table) and held against the stand-in's own bill
(``GET /_control/billing``, computed from the stand-in's constants, never from our table) for
the same call: successes, and failures the provider still bills (a Replicate prediction canceled
at our deadline bills the seconds it ran; an OpenAI stream that broke off bills its previews).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.standins import bedrock as bedrock_standin
from local.standins import openai as openai_standin
from local.standins import replicate as replicate_standin
from local.standins.control import StandinControl
from sketchbridge.domain.billing import ActualCost, ProviderUsage
from sketchbridge.domain.errors import ProviderError
from sketchbridge.domain.pricing import PRICE_TABLE_VERSION, actual_cost, billing_price
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider, openai_usage
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from tests.contract import test_bedrock_provider, test_openai_provider, test_replicate_provider
from tests.contract.conftest import Serve

REPLICATE_TOKEN = "r8_billing_test_token"
OPENAI_KEY = "sk-billing-test-key"
COMMUNITY = {"model": "jagilley/controlnet-scribble"}


def cost_of(usage: ProviderUsage) -> ActualCost:
    price, version = billing_price(usage.provider, usage.model)
    return actual_cost(usage, price, version=version)


def bill_for(base_url: str, call_id: str | None) -> dict[str, Any]:
    """The stand-in's bill for one call, read as any client would: over HTTP."""
    billing = httpx.get(f"{base_url}/_control/billing", timeout=10).json()
    assert billing["total_usd"] == round(sum(call["usd"] for call in billing["calls"]), 6)
    (call,) = [call for call in billing["calls"] if call["id"] == call_id]
    return dict(call)


def failure_of(generate: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        generate()
    return caught.value


# ---------------------------------------------------------------- Replicate


@pytest.fixture(scope="module")
def replicate_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def replicate_url(serve_for_module: Serve, replicate_control: StandinControl) -> str:
    # Slow enough steps that a 2 s budget ends mid-prediction (30 steps take 6 s).
    app = replicate_standin.create_app(
        replicate_control, api_token=REPLICATE_TOKEN, seconds_per_step=0.2
    )
    return serve_for_module(app)


def replicate(base_url: str, **config: Any) -> ReplicateProvider:
    settings = {"base_url": base_url, "poll_interval_s": 0.05, **config}
    return ReplicateProvider(lambda: REPLICATE_TOKEN, ReplicateConfig(**settings))


def test_an_official_replicate_model_costs_its_per_image_price_as_billed(
    replicate_url: str, replicate_control: StandinControl
) -> None:
    replicate_control.reset()

    result = replicate(replicate_url).generate(
        test_replicate_provider.sketch_request(steps=2), lambda _: None
    )

    usage = result.usage
    assert usage is not None and usage.images == 1 and usage.predict_time_s is not None
    cost = cost_of(usage)
    bill = bill_for(replicate_url, usage.external_id)
    assert (cost.basis, cost.price_version) == ("replicate_per_image", PRICE_TABLE_VERSION)
    assert cost.usd == bill["usd"] == 0.025


def test_a_community_replicate_model_costs_its_predict_time_as_billed(
    replicate_url: str, replicate_control: StandinControl
) -> None:
    replicate_control.reset()

    result = replicate(replicate_url, **COMMUNITY).generate(
        test_replicate_provider.sketch_request(steps=3), lambda _: None
    )

    usage = result.usage
    assert usage is not None and usage.predict_time_s is not None
    bill = bill_for(replicate_url, usage.external_id)
    cost = cost_of(usage)
    assert usage.predict_time_s == bill["predict_time"] > 0
    assert cost.basis == "replicate_predict_time"
    assert cost.usd == bill["usd"] > 0


def test_a_community_prediction_canceled_at_our_deadline_costs_the_seconds_it_ran(
    replicate_url: str, replicate_control: StandinControl
) -> None:
    replicate_control.reset()
    adapter = replicate(replicate_url, prefer_wait_s=1, **COMMUNITY)

    error = failure_of(
        lambda: adapter.generate(
            test_replicate_provider.sketch_request(steps=30, timeout_s=2.0), lambda _: None
        )
    )

    assert error.code == "timeout"
    assert error.usage is not None and error.usage.images == 0
    bill = bill_for(replicate_url, error.usage.external_id)
    assert bill["status"] == "canceled"
    assert error.usage.predict_time_s == bill["predict_time"] > 0
    assert cost_of(error.usage).usd == bill["usd"] > 0


def test_an_official_prediction_canceled_at_our_deadline_costs_nothing_as_billed(
    replicate_url: str, replicate_control: StandinControl
) -> None:
    replicate_control.reset()
    adapter = replicate(replicate_url, prefer_wait_s=1)

    error = failure_of(
        lambda: adapter.generate(
            test_replicate_provider.sketch_request(steps=30, timeout_s=2.0), lambda _: None
        )
    )

    assert error.code == "timeout" and error.usage is not None
    assert cost_of(error.usage).usd == bill_for(replicate_url, error.usage.external_id)["usd"]
    assert bill_for(replicate_url, error.usage.external_id)["usd"] == 0.0


def test_a_prediction_that_never_ran_bills_nothing_and_reports_nothing(
    replicate_url: str, replicate_control: StandinControl
) -> None:
    replicate_control.reset()
    replicate_control.set_script([{"outcome": "aborted"}])

    error = failure_of(
        lambda: replicate(replicate_url, **COMMUNITY).generate(
            test_replicate_provider.sketch_request(steps=2), lambda _: None
        )
    )

    assert error.usage is None
    billing = httpx.get(f"{replicate_url}/_control/billing", timeout=10).json()
    assert billing["total_usd"] == 0.0


# ---------------------------------------------------------------- OpenAI


@pytest.fixture(scope="module")
def openai_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def openai_url(serve_for_module: Serve, openai_control: StandinControl) -> str:
    return serve_for_module(openai_standin.create_app(openai_control, api_key=OPENAI_KEY))


@pytest.fixture
def openai_adapter(openai_url: str, openai_control: StandinControl) -> Iterator[OpenAIProvider]:
    openai_control.reset()
    adapter = OpenAIProvider(
        OpenAIConfig(base_url=f"{openai_url}/v1", retry_backoff_s=0.01), api_key=lambda: OPENAI_KEY
    )
    yield adapter
    adapter.close()


def test_an_openai_picture_costs_its_usage_tokens_as_billed(
    openai_url: str, openai_adapter: OpenAIProvider
) -> None:
    result = openai_adapter.generate(test_openai_provider.request(), lambda _: None)

    usage = result.usage
    assert usage is not None and usage.output_tokens is not None
    bill = bill_for(openai_url, usage.external_id)
    assert usage.output_tokens == bill["output_tokens"]
    assert usage.input_image_tokens == bill["input_image_tokens"]
    assert usage.partial_images == 2
    cost = cost_of(usage)
    assert cost.basis == "openai_usage_tokens"
    assert cost.usd == bill["usd"] > 0


def test_a_stream_that_broke_off_after_a_preview_costs_that_preview_as_billed(
    openai_url: str, openai_adapter: OpenAIProvider, openai_control: StandinControl
) -> None:
    openai_control.set_script([{"outcome": "aborted"}])

    error = failure_of(
        lambda: openai_adapter.generate(test_openai_provider.request(), lambda _: None)
    )

    assert error.usage is not None and error.usage.partial_images == 1
    cost = cost_of(error.usage)
    assert cost.basis == "price_table"  # OpenAI sent no usage: estimated, and said so
    assert cost.usd == bill_for(openai_url, error.usage.external_id)["usd"] == 0.003


def test_a_non_streamed_answer_s_usage_costs_what_is_billed(
    openai_url: str, openai_adapter: OpenAIProvider
) -> None:
    from openai import OpenAI

    with OpenAI(api_key=OPENAI_KEY, base_url=f"{openai_url}/v1", max_retries=0) as client:
        raw = client.images.with_raw_response.edit(
            image=("sketch.png", _sketch_png(), "image/png"),
            prompt="a red ball on green grass",
            model="gpt-image-2",
            size="1024x1024",
            quality="high",
        )
        response = raw.parse()

    usage = openai_usage(
        response.usage,
        model="gpt-image-2",
        images=len(response.data or []),
        external_id=raw.headers["x-request-id"],
    )
    assert cost_of(usage).usd == bill_for(openai_url, usage.external_id)["usd"] > 0


def _sketch_png() -> bytes:
    """A PNG of the Bedrock tests' sketch (a house and a sun)."""

    buffer = io.BytesIO()
    test_bedrock_provider.sketch().save(buffer, "PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- Bedrock


@pytest.fixture(scope="module")
def bedrock_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def bedrock_url(serve_for_module: Serve, bedrock_control: StandinControl) -> str:
    return serve_for_module(bedrock_standin.create_app(bedrock_control))


@pytest.fixture
def bedrock_adapter(
    monkeypatch: pytest.MonkeyPatch,
    bedrock_url: str,
    bedrock_control: StandinControl,
    tmp_path: Path,
) -> BedrockProvider:
    bedrock_control.reset()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return BedrockProvider(BedrockConfig(region="us-west-2", max_attempts=1))


def test_a_bedrock_picture_costs_its_per_image_price_as_billed(
    bedrock_url: str, bedrock_adapter: BedrockProvider
) -> None:
    result = bedrock_adapter.generate(test_bedrock_provider.request(), lambda _: None)

    usage = result.usage
    assert usage is not None and usage.images == 1
    cost = cost_of(usage)
    assert cost.basis == "bedrock_per_image"
    assert cost.usd == bill_for(bedrock_url, usage.external_id)["usd"] == 0.07


def test_a_filtered_bedrock_answer_bills_nothing_and_reports_nothing(
    bedrock_url: str, bedrock_adapter: BedrockProvider, bedrock_control: StandinControl
) -> None:
    bedrock_control.set_script([{"outcome": "moderation"}])

    error = failure_of(
        lambda: bedrock_adapter.generate(test_bedrock_provider.request(), lambda _: None)
    )

    assert error.usage is None
    assert httpx.get(f"{bedrock_url}/_control/billing", timeout=10).json() == {
        "calls": [],
        "total_usd": 0.0,
    }
