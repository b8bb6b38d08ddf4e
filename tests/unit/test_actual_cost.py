"""What a call actually cost, as the bill would show it: every basis, with the arithmetic done by
hand in each test (never by the code under test), and failed calls the provider still billed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PIL import Image

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import ProviderTimeoutError, ProviderUnavailableError
from sketchbridge.domain.pricing import (
    DEFAULT_PRICES,
    PRICE_TABLE,
    PRICE_TABLE_VERSION,
    PerImage,
    PerSecond,
    actual_cost,
    billing_price,
    price_model_from_dict,
    price_model_to_dict,
    table_price,
)
from sketchbridge.domain.provider_profile import ProviderProfile
from sketchbridge.providers.base import ProgressCallback, ProviderRequest, ProviderResult
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from sketchbridge.services.provider_chain import ChainFailedError, run_chain
from sketchbridge.services.provider_manager import ProviderManager
from tests.support.fakes import FakeProvider, fake_dependencies

GPT_IMAGE_2 = PRICE_TABLE["openai"]["gpt-image-2"]
FLUX_CANNY_DEV = PRICE_TABLE["replicate"]["black-forest-labs/flux-canny-dev"]
CONTROLNET = PRICE_TABLE["replicate"]["rossjillian/controlnet"]
BEDROCK_SKETCH = PRICE_TABLE["bedrock"]["stability.stable-image-control-sketch-v1:0"]


def _openai(**facts: object) -> ProviderUsage:
    return ProviderUsage(provider="openai", model="gpt-image-2", **facts)  # type: ignore[arg-type]


def test_openai_bills_its_usage_tokens_input_and_output_at_their_own_prices() -> None:
    usage = _openai(
        images=1, input_tokens=328, input_text_tokens=5, input_image_tokens=323, output_tokens=1256
    )

    cost = actual_cost(usage, GPT_IMAGE_2, version=PRICE_TABLE_VERSION)

    # 1256 x $30/1M = 0.03768; 323 x $8/1M = 0.002584; 5 x $5/1M = 0.000025
    assert cost.usd == 0.040289
    assert (cost.basis, cost.price_version) == ("openai_usage_tokens", PRICE_TABLE_VERSION)
    assert "1256 output tokens × $30.00/1M" in cost.detail


def test_openai_output_tokens_already_count_the_partial_images() -> None:
    # Two previews streamed: OpenAI put their 200 tokens in output_tokens; none are added.
    usage = _openai(images=1, output_tokens=1256, input_text_tokens=0, input_image_tokens=0)

    assert actual_cost(usage, GPT_IMAGE_2, version="v").usd == 0.03768  # 1256 x $30/1M


def test_input_without_its_split_is_billed_at_the_dearer_input_rate() -> None:
    usage = _openai(images=1, input_tokens=100, output_tokens=1000)

    # 1000 x $30/1M = 0.03; 100 x $8/1M (image input, dearer than text's $5) = 0.0008
    assert actual_cost(usage, GPT_IMAGE_2, version="v").usd == 0.0308


def test_openai_without_usage_is_the_quote_and_says_so() -> None:
    cost = actual_cost(_openai(images=1), GPT_IMAGE_2, version="v", quote_usd=0.03768)

    assert (cost.usd, cost.basis) == (0.03768, "price_table")
    assert "reported no usage tokens" in cost.detail


def test_openai_without_usage_or_quote_is_the_tables_estimate_of_the_picture() -> None:
    usage = _openai(images=1, width=1024, height=1024, quality="medium")

    cost = actual_cost(usage, GPT_IMAGE_2, version="v")

    # medium 1024x1024: 1056 tokens + 2 previews x 100 = 1256 x $30/1M
    assert (cost.usd, cost.basis) == (0.03768, "price_table")


def test_a_stream_that_broke_off_after_one_preview_costs_that_previews_tokens() -> None:
    cost = actual_cost(_openai(images=0, partial_images=1), GPT_IMAGE_2, version="v")

    assert (cost.usd, cost.basis) == (0.003, "price_table")  # 100 tokens x $30/1M
    assert "1 previews" in cost.detail and "estimate" in cost.detail


def test_an_official_replicate_model_bills_per_image_whatever_its_seconds() -> None:
    usage = ProviderUsage(
        provider="replicate",
        model="black-forest-labs/flux-canny-dev",
        images=1,
        predict_time_s=9.5,
    )

    cost = actual_cost(usage, FLUX_CANNY_DEV, version=PRICE_TABLE_VERSION)

    assert (cost.usd, cost.basis) == (0.025, "replicate_per_image")


def test_an_official_replicate_prediction_that_drew_nothing_costs_nothing() -> None:
    usage = ProviderUsage(
        provider="replicate",
        model="black-forest-labs/flux-canny-dev",
        images=0,
        predict_time_s=3.0,
    )

    assert actual_cost(usage, FLUX_CANNY_DEV, version="v").usd == 0.0


def test_a_community_replicate_model_bills_its_predict_time_on_its_hardware() -> None:
    usage = ProviderUsage(
        provider="replicate", model="rossjillian/controlnet", images=0, predict_time_s=8.0
    )

    cost = actual_cost(usage, CONTROLNET, version=PRICE_TABLE_VERSION)

    assert (cost.usd, cost.basis) == (0.0078, "replicate_predict_time")  # 8 s x $0.000975/s
    assert cost.detail == "metrics.predict_time 8 s × $0.000975/s"


def test_a_community_model_without_predict_time_is_its_typical_time_said_to_be_estimated() -> None:
    usage = ProviderUsage(provider="replicate", model="rossjillian/controlnet", images=1)

    cost = actual_cost(usage, CONTROLNET, version="v")

    assert (cost.usd, cost.basis) == (0.00585, "price_table")  # typical 6 s x $0.000975/s
    assert "reported no predict_time" in cost.detail


def test_bedrock_bills_each_image_delivered() -> None:
    usage = ProviderUsage(
        provider="bedrock", model="stability.stable-image-control-sketch-v1:0", images=1
    )

    cost = actual_cost(usage, BEDROCK_SKETCH, version=PRICE_TABLE_VERSION)

    assert (cost.usd, cost.basis) == (0.07, "bedrock_per_image")


def test_the_local_renderer_is_free() -> None:
    usage = ProviderUsage(provider="local", model=LocalProvider.model, images=1)

    cost = actual_cost(usage, DEFAULT_PRICES["local"], version=PRICE_TABLE_VERSION)

    assert (cost.usd, cost.basis) == (0.0, "free")


def test_an_admins_price_override_wins_and_says_so() -> None:
    a100 = PerSecond(usd_per_s=0.0014, typical_s=5.0)
    usage = ProviderUsage(provider="replicate", model="rossjillian/controlnet", predict_time_s=10.0)

    price, version = billing_price("replicate", "rossjillian/controlnet", override=a100)
    cost = actual_cost(usage, price, version=version)

    assert (cost.usd, cost.basis, cost.price_version) == (
        0.014,  # 10 s x $0.0014/s
        "replicate_predict_time",
        "override",
    )


def test_without_an_override_the_tables_price_of_the_model_bills() -> None:
    price, version = billing_price("replicate", "rossjillian/controlnet")

    assert (price, version) == (CONTROLNET, PRICE_TABLE_VERSION)
    # A model the table does not list is priced as the provider's default model.
    assert table_price("replicate", "someone/else") == FLUX_CANNY_DEV
    assert table_price("nobody", "x") is None


def test_a_per_token_price_with_input_rates_survives_the_admins_json() -> None:
    assert price_model_from_dict(price_model_to_dict(GPT_IMAGE_2)) == GPT_IMAGE_2


def test_the_manager_prices_by_the_admins_override_of_the_provider() -> None:
    deps = fake_dependencies()
    deps.providers = ProviderRegistry(
        {"replicate": ReplicateProvider(lambda: None)}, default="replicate"
    )
    deps.provider_config.stored["replicate"] = {  # type: ignore[attr-defined]
        "price": price_model_to_dict(PerImage.flat(0.04))
    }
    usage = ProviderUsage(provider="replicate", model="black-forest-labs/flux-canny-dev", images=2)

    cost = ProviderManager(deps).actual_cost(usage)

    assert (cost.usd, cost.basis, cost.price_version) == (0.08, "replicate_per_image", "override")


def test_without_an_override_the_manager_prices_by_the_versioned_table() -> None:
    deps = fake_dependencies()
    provider = ReplicateProvider(
        lambda: None, ReplicateConfig(model="jagilley/controlnet-scribble")
    )
    deps.providers = ProviderRegistry({"replicate": provider}, default="replicate")
    usage = ProviderUsage(provider="replicate", model="rossjillian/controlnet", predict_time_s=4.0)

    cost = ProviderManager(deps).actual_cost(usage)

    assert (cost.usd, cost.basis, cost.price_version) == (
        0.0039,  # 4 s x $0.000975/s
        "replicate_predict_time",
        PRICE_TABLE_VERSION,
    )


def test_quotes_follow_the_configured_model_s_way_of_billing() -> None:
    # A community model is quoted by its hardware seconds, not the official per-image price.
    deps = fake_dependencies()
    provider = ReplicateProvider(
        lambda: None, ReplicateConfig(model="jagilley/controlnet-scribble")
    )
    deps.providers = ProviderRegistry({"replicate": provider}, default="replicate")

    profile = ProviderManager(deps).profiles()["replicate"]

    assert profile.price == CONTROLNET


# ---------------------------------------------------------------- every hop says what it billed


def sketch_request() -> ProviderRequest:
    return ProviderRequest(
        sketch=Image.new("RGB", (64, 64), "white"),
        prompt="a sea turtle",
        negative_prompt=None,
        seed=1,
        steps=2,
        strength=0.8,
        guidance_scale=7.5,
        width=64,
        height=64,
        timeout_s=10.0,
    )


@dataclass
class _BilledProvider:
    """Draws like FakeProvider, and reports a usage as a real adapter does."""

    name: str
    model: str = "m"
    description: str = "billed"
    is_ai: bool = True
    capabilities: object = LocalProvider.capabilities

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        result = FakeProvider(name=self.name).generate(request, on_progress)
        usage = ProviderUsage(provider=self.name, model=self.model, images=1)
        return ProviderResult(
            result.image_png, result.width, result.height, self.model, result.seed, usage
        )


def test_a_failed_hop_the_provider_billed_carries_its_usage_and_the_success_its_own() -> None:
    canceled = ProviderUsage(provider="replicate", model="m", predict_time_s=4.0, external_id="p1")
    first = FakeProvider(
        name="replicate",
        errors=[ProviderTimeoutError("late", provider="replicate", usage=canceled)],
    )
    second = _BilledProvider(name="openai")
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({"replicate": first, "openai": second}, default="replicate")  # type: ignore[dict-item]

    chain = run_chain(
        ["replicate", "openai"],
        sketch_request(),
        deps=deps,
        profiles={"replicate": ProviderProfile(), "openai": ProviderProfile()},
        on_progress=lambda _: None,
        on_hop=lambda hop, following: None,
    )

    assert [(hop.provider, hop.outcome, hop.usage) for hop in chain.hops] == [
        ("replicate", "timeout", canceled),
        ("openai", "ok", ProviderUsage(provider="openai", model="m", images=1)),
    ]
    assert chain.result.usage == chain.hops[-1].usage


def test_a_chain_that_fails_still_lists_what_each_call_billed() -> None:
    billed = ProviderUsage(provider="replicate", model="m", predict_time_s=2.5)
    deps = fake_dependencies()
    deps.providers = ProviderRegistry(
        {
            "replicate": FakeProvider(
                name="replicate",
                errors=[ProviderUnavailableError("failed", provider="replicate", usage=billed)],
            )
        },
        default="replicate",
    )

    with pytest.raises(ChainFailedError) as failed:
        run_chain(
            ["replicate"],
            sketch_request(),
            deps=deps,
            profiles={"replicate": ProviderProfile()},
            on_progress=lambda _: None,
            on_hop=lambda hop, following: None,
        )

    assert [hop.usage for hop in failed.value.hops] == [billed]
