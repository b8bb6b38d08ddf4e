"""What one picture costs at each provider: price models as data, and the estimate from a request.

Three shapes cover the providers we call:

    PerImage    a price per picture, by size and quality where the provider charges so
                (a flat price is one row that matches any size and quality)
    PerSecond   hardware time: $/s × the seconds a picture takes (scaled by steps)
    PerToken    output tokens per picture, by size and quality, × $/token, plus the tokens
                each streamed partial image adds

Prices are configuration: ``DEFAULT_PRICES`` are the defaults in code, each number citing its
line in ``../shared/providers/pricing.md``; an admin overrides one in the providers table with
the dictionary ``price_model_to_dict`` writes and ``price_model_from_dict`` reads.

How to use::

    cost = estimate_cost(DEFAULT_PRICES["openai"], width=1024, height=1024, steps=20,
                         quality="medium")        # 0.03768 (USD)

A quality the table does not know is priced as the table's dearest row, and a size as the
row nearest in aspect ratio, then in pixels: a quote may overshoot, never undershoot the
table it has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeVar

# Quotes are in USD to a millionth: below that, float noise would show (0.030000000000000002).
_DIGITS = 6


@dataclass(frozen=True)
class ImagePrice:
    """One row of a per-image table; a None size or quality matches any."""

    usd: float
    width: int | None = None
    height: int | None = None
    quality: str | None = None


@dataclass(frozen=True)
class ImageTokens:
    """One row of a per-token table: the output tokens a picture of this size and quality uses."""

    tokens: int
    width: int | None = None
    height: int | None = None
    quality: str | None = None


@dataclass(frozen=True)
class PerImage:
    prices: tuple[ImagePrice, ...]
    kind: Literal["per_image"] = "per_image"

    def __post_init__(self) -> None:
        if not self.prices or any(row.usd < 0 for row in self.prices):
            raise ValueError("a per-image price needs at least one row, none negative")

    @classmethod
    def flat(cls, usd: float) -> PerImage:
        return cls((ImagePrice(usd),))


@dataclass(frozen=True)
class PerSecond:
    usd_per_s: float
    typical_s: float  # seconds a picture takes at typical_steps
    typical_steps: int | None = None  # None: the time does not depend on steps
    kind: Literal["per_second"] = "per_second"

    def __post_init__(self) -> None:
        if self.usd_per_s < 0 or self.typical_s <= 0:
            raise ValueError("a per-second price needs a rate >= 0 and typical seconds > 0")
        if self.typical_steps is not None and self.typical_steps < 1:
            raise ValueError("typical_steps must be at least 1")


@dataclass(frozen=True)
class PerToken:
    usd_per_output_token: float
    output_tokens: tuple[ImageTokens, ...]
    partial_images: int = 0  # streamed previews per picture...
    tokens_per_partial_image: int = 0  # ...each of which costs this many output tokens more
    kind: Literal["per_token"] = "per_token"

    def __post_init__(self) -> None:
        if self.usd_per_output_token < 0 or not self.output_tokens:
            raise ValueError("a per-token price needs a rate >= 0 and at least one token row")
        if self.partial_images < 0 or self.tokens_per_partial_image < 0:
            raise ValueError("partial images and their tokens cannot be negative")


PriceModel = PerImage | PerSecond | PerToken


def estimate_cost(
    price: PriceModel, *, width: int, height: int, steps: int = 1, quality: str | None = None
) -> float:
    """The USD a picture of this size, quality and steps costs under ``price``."""
    if width < 1 or height < 1 or steps < 1:
        raise ValueError("width, height and steps must be at least 1")
    if isinstance(price, PerImage):
        usd = _pick(price.prices, width, height, quality, dearest=lambda row: row.usd).usd
    elif isinstance(price, PerSecond):
        scale = steps / price.typical_steps if price.typical_steps else 1.0
        usd = price.usd_per_s * price.typical_s * scale
    else:
        row = _pick(price.output_tokens, width, height, quality, dearest=lambda row: row.tokens)
        tokens = row.tokens + price.partial_images * price.tokens_per_partial_image
        usd = tokens * price.usd_per_output_token
    return round(usd, _DIGITS)


_Row = TypeVar("_Row", ImagePrice, ImageTokens)


def _pick(
    rows: Sequence[_Row],
    width: int,
    height: int,
    quality: str | None,
    *,
    dearest: Callable[[_Row], float],
) -> _Row:
    matching = [row for row in rows if row.quality is None or row.quality == quality]
    if not matching:
        return max(rows, key=dearest)

    def distance(row: _Row) -> tuple[float, float]:
        if row.width is None or row.height is None:
            return (0.0, 0.0)
        aspect = abs(math.log(row.width / row.height) - math.log(width / height))
        return (aspect, abs(row.width * row.height - width * height))

    return min(matching, key=distance)


def price_model_to_dict(price: PriceModel) -> dict[str, Any]:
    """JSON-like values (what GET /providers shows and the providers table stores)."""
    if isinstance(price, PerImage):
        return {"kind": price.kind, "prices": [_row_dict(row) for row in price.prices]}
    if isinstance(price, PerSecond):
        values: dict[str, Any] = {
            "kind": price.kind,
            "usd_per_s": price.usd_per_s,
            "typical_s": price.typical_s,
        }
        if price.typical_steps is not None:
            values["typical_steps"] = price.typical_steps
        return values
    return {
        "kind": price.kind,
        "usd_per_output_token": price.usd_per_output_token,
        "output_tokens": [_row_dict(row) for row in price.output_tokens],
        "partial_images": price.partial_images,
        "tokens_per_partial_image": price.tokens_per_partial_image,
    }


def price_model_from_dict(values: Mapping[str, Any]) -> PriceModel:
    """The price model a dictionary describes; ValueError naming what is wrong."""
    try:
        kind = values["kind"]
        if kind == "per_image":
            return PerImage(tuple(ImagePrice(**row) for row in values["prices"]))
        if kind == "per_second":
            steps = values.get("typical_steps")
            return PerSecond(
                usd_per_s=float(values["usd_per_s"]),
                typical_s=float(values["typical_s"]),
                typical_steps=int(steps) if steps is not None else None,
            )
        if kind == "per_token":
            return PerToken(
                usd_per_output_token=float(values["usd_per_output_token"]),
                output_tokens=tuple(ImageTokens(**row) for row in values["output_tokens"]),
                partial_images=int(values.get("partial_images", 0)),
                tokens_per_partial_image=int(values.get("tokens_per_partial_image", 0)),
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"price model {dict(values)!r} is incomplete: {exc}") from None
    raise ValueError(f"price model kind must be per_image, per_second or per_token, not {kind!r}")


def _row_dict(row: ImagePrice | ImageTokens) -> dict[str, Any]:
    return {key: value for key, value in vars(row).items() if value is not None}


# ---------------------------------------------------------------- defaults (USD, 2026-11-25)

# gpt-image-2 is billed by tokens and pricing.md has no per-image table for it ("[?] per-image
# figures for 2.x"). The per-image figure is derived as pricing.md allows: the output tokens a
# picture takes under gpt-image-1 (same size and quality rows; OpenAI publishes no token table
# for 2.x), at gpt-image-2's output rate, plus the tokens of the streamed partial images. Input
# tokens (the sketch and the prompt) are left out: pricing.md gives no per-image count for them.
_GPT_IMAGE_2_USD_PER_OUTPUT_TOKEN = 30.00 / 1_000_000  # pricing.md, OpenAI: "gpt-image-2, ...
# | 1M tokens | text in $5 · image in $8 · image out $30"
_GPT_IMAGE_1_SQUARE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}  # pricing.md, OpenAI:
# "gpt-image-1 low / medium / high, 1024×1024 ... output-token table 272/1056/4160 tokens"
_GPT_IMAGE_1_OBLONG_TOKENS = {"low": 408, "medium": 1584, "high": 6240}  # pricing.md, OpenAI:
# "gpt-image-1 ... 1024×1536 or 1536×1024 ... (tokens 408-400 / 1584-1568 / 6240-6208)";
# the higher of each pair, so the quote does not undershoot
_TOKENS_PER_PARTIAL_IMAGE = 100  # pricing.md, OpenAI: "streaming partial images | | +100 image
# output tokens per partial" [?]
_OPENAI_PARTIAL_IMAGES = 2  # OpenAIConfig.partial_images' default (OPENAI_PARTIAL_IMAGES)

GPT_IMAGE_2_PRICE = PerToken(
    usd_per_output_token=_GPT_IMAGE_2_USD_PER_OUTPUT_TOKEN,
    output_tokens=tuple(
        ImageTokens(tokens, width, height, quality)
        for width, height, table in (
            (1024, 1024, _GPT_IMAGE_1_SQUARE_TOKENS),
            (1536, 1024, _GPT_IMAGE_1_OBLONG_TOKENS),
            (1024, 1536, _GPT_IMAGE_1_OBLONG_TOKENS),
        )
        for quality, tokens in table.items()
    ),
    partial_images=_OPENAI_PARTIAL_IMAGES,
    tokens_per_partial_image=_TOKENS_PER_PARTIAL_IMAGE,
)

DEFAULT_PRICES: Mapping[str, PriceModel] = MappingProxyType(
    {
        # Renders inside our own function: no provider bills for it.
        "local": PerImage.flat(0.0),
        # black-forest-labs/flux-canny-dev has no published price (pricing.md, Replicate:
        # "flux-canny-pro / -dev ... not found [?]"); the closest published one is its sibling
        # "black-forest-labs/flux-depth-dev (control image → depth) | image | $0.025 |
        # replicate.com model page".
        "replicate": PerImage.flat(0.025),
        "openai": GPT_IMAGE_2_PRICE,
        # pricing.md, Stability: "Stability control sketch via Bedrock
        # (stability.stable-image-control-sketch-v1:0) | $0.07 / image | litellm (source
        # aws.amazon.com/bedrock/pricing)".
        "bedrock": PerImage.flat(0.07),
    }
)
