"""Quotes match the configured prices (../shared/providers/pricing.md)."""

from __future__ import annotations

import pytest

from sketchbridge.domain.pricing import (
    DEFAULT_PRICES,
    ImagePrice,
    PerImage,
    PerSecond,
    estimate_cost,
    price_model_from_dict,
    price_model_to_dict,
)


def quote(provider: str, width: int = 1024, height: int = 1024, **options: object) -> float:
    return estimate_cost(DEFAULT_PRICES[provider], width=width, height=height, **options)  # type: ignore[arg-type]


def test_flat_prices_do_not_depend_on_the_request() -> None:
    assert quote("local") == 0.0
    assert quote("replicate") == 0.025
    assert quote("replicate", 512, 768, steps=50) == 0.025
    assert quote("bedrock") == 0.07


@pytest.mark.parametrize(
    ("width", "height", "quality", "tokens"),
    [
        (1024, 1024, "low", 272),
        (1024, 1024, "medium", 1056),
        (1024, 1024, "high", 4160),
        (1536, 1024, "medium", 1584),
        (1024, 1536, "high", 6240),
    ],
)
def test_openai_charges_its_output_tokens_plus_two_streamed_previews(
    width: int, height: int, quality: str, tokens: int
) -> None:
    expected = (tokens + 2 * 100) * 30 / 1_000_000

    assert quote("openai", width, height, quality=quality) == pytest.approx(expected)


def test_openai_prices_a_size_by_the_picture_it_will_actually_make() -> None:
    # 1200 x 800 is drawn at 1536 x 1024, the configured size nearest its shape.
    assert quote("openai", 1200, 800, quality="medium") == quote(
        "openai", 1536, 1024, quality="medium"
    )
    assert quote("openai", 512, 512, quality="low") == quote("openai", 1024, 1024, quality="low")


def test_a_quality_the_table_does_not_know_is_quoted_at_its_dearest() -> None:
    assert quote("openai", quality="auto") == quote("openai", 1024, 1536, quality="high")


def test_time_billed_models_cost_more_with_more_steps() -> None:
    price = PerSecond(usd_per_s=0.001, typical_s=10, typical_steps=20)

    assert estimate_cost(price, width=512, height=512, steps=20) == pytest.approx(0.01)
    assert estimate_cost(price, width=512, height=512, steps=40) == pytest.approx(0.02)
    flat_time = PerSecond(usd_per_s=0.001, typical_s=10)
    assert estimate_cost(flat_time, width=512, height=512, steps=40) == pytest.approx(0.01)


def test_sized_per_image_tables_pick_the_nearest_size() -> None:
    price = PerImage(
        (ImagePrice(0.04, 1024, 1024, "standard"), ImagePrice(0.06, 2048, 2048, "standard"))
    )

    assert estimate_cost(price, width=1000, height=1000, quality="standard") == 0.04
    assert estimate_cost(price, width=2000, height=2000, quality="standard") == 0.06


@pytest.mark.parametrize("provider", sorted(DEFAULT_PRICES))
def test_every_default_price_survives_a_round_trip_through_configuration(provider: str) -> None:
    price = DEFAULT_PRICES[provider]

    assert price_model_from_dict(price_model_to_dict(price)) == price


def test_a_per_second_price_survives_a_round_trip_through_configuration() -> None:
    price = PerSecond(usd_per_s=0.000975, typical_s=6, typical_steps=28)

    assert price_model_from_dict(price_model_to_dict(price)) == price


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "per_banana"},
        {"kind": "per_image"},
        {"kind": "per_image", "prices": []},
        {"kind": "per_second", "usd_per_s": 0.001},
        {"kind": "per_image", "prices": [{"usd": -1}]},
        {"kind": "per_image", "prices": [{"dollars": 1}]},
    ],
)
def test_a_malformed_price_is_refused_with_a_reason(values: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        price_model_from_dict(values)
