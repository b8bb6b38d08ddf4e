"""What one picture costs at each provider: price models as data, and the estimate from a request.

Three shapes cover the providers we call:

    PerImage    a price per picture, by size and quality where the provider charges so
                (a flat price is one row that matches any size and quality)
    PerSecond   hardware time: $/s × the seconds a picture takes (scaled by steps)
    PerToken    output tokens per picture, by size and quality, × $/token, plus the tokens
                each streamed partial image adds

Prices are configuration: ``PRICE_TABLE`` (provider → model → price, versioned by
``PRICE_TABLE_VERSION``) is the default in code, each number citing its line in
``../shared/providers/pricing.md``, and says how each model is billed (Replicate's official
models per image, community versions per second of hardware); ``DEFAULT_PRICES`` are its
prices for each provider's default model. An admin overrides a provider's price in the
providers table with the dictionary ``price_model_to_dict`` writes and ``price_model_from_dict``
reads.

A quote (``estimate_cost``) is what the table predicts before a call; the actual cost
(``actual_cost``) prices what the provider reported after it (``ProviderUsage``), and says on
what basis and by which prices (the table's version, or ``"override"``).

How to use::

    cost = estimate_cost(DEFAULT_PRICES["openai"], width=1024, height=1024, steps=20,
                         quality="medium")        # 0.03768 (USD)
    price, version = billing_price("replicate", usage.model, override=admins_price_or_none)
    actual_cost(usage, price, version=version)    # ActualCost(usd, basis, price_version, detail)

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

from sketchbridge.domain.billing import ActualCost, CostBasis, ProviderUsage

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
    # What the input (prompt text, the sketch as an image) costs per token. The quote leaves
    # input out (no per-picture count is published); the actual cost bills what usage reports.
    usd_per_input_text_token: float = 0.0
    usd_per_input_image_token: float = 0.0

    def __post_init__(self) -> None:
        if self.usd_per_output_token < 0 or not self.output_tokens:
            raise ValueError("a per-token price needs a rate >= 0 and at least one token row")
        if self.partial_images < 0 or self.tokens_per_partial_image < 0:
            raise ValueError("partial images and their tokens cannot be negative")
        if self.usd_per_input_text_token < 0 or self.usd_per_input_image_token < 0:
            raise ValueError("input token rates cannot be negative")


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
        "usd_per_input_text_token": price.usd_per_input_text_token,
        "usd_per_input_image_token": price.usd_per_input_image_token,
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
                usd_per_input_text_token=float(values.get("usd_per_input_text_token", 0.0)),
                usd_per_input_image_token=float(values.get("usd_per_input_image_token", 0.0)),
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"price model {dict(values)!r} is incomplete: {exc}") from None
    raise ValueError(f"price model kind must be per_image, per_second or per_token, not {kind!r}")


def _row_dict(row: ImagePrice | ImageTokens) -> dict[str, Any]:
    return {key: value for key, value in vars(row).items() if value is not None}


# ---------------------------------------------------------------- the price table

# Which prices: bump it whenever a number below changes, so every ledger line says which table
# (or "override") priced it. The date is the day pricing.md's figures were collected.
PRICE_TABLE_VERSION = "2026-11-25.1"
OVERRIDE_VERSION = "override"
_PER_MILLION = 1_000_000

# OpenAI bills gpt-image models by tokens (ImagesResponse.usage / the completed event's usage);
# pricing.md has no per-image table for gpt-image-2 ("[?] per-image figures for 2.x"). The
# quote's tokens per picture are gpt-image-1's (same size and quality rows; OpenAI publishes no
# token table for 2.x), at the model's own output rate, plus the streamed partial images'.
_GPT_IMAGE_2_USD_PER_OUTPUT_TOKEN = 30.00 / _PER_MILLION  # pricing.md:26 "gpt-image-2, ...
# | 1M tokens | text in $5 · image in $8 · image out $30"
_GPT_IMAGE_2_USD_PER_INPUT_TEXT_TOKEN = 5.00 / _PER_MILLION  # pricing.md:26 "text in $5"
_GPT_IMAGE_2_USD_PER_INPUT_IMAGE_TOKEN = 8.00 / _PER_MILLION  # pricing.md:26 "image in $8"
_GPT_IMAGE_15_USD_PER_OUTPUT_TOKEN = 32.00 / _PER_MILLION  # pricing.md:24 "gpt-image-1.5 tokens
# | 1M | text in $5 · text out $10 · image in $8 · image out $32"
_GPT_IMAGE_1_SQUARE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}  # pricing.md:18
# "gpt-image-1 low / medium / high, 1024×1024 ... output-token table 272/1056/4160 tokens"
_GPT_IMAGE_1_OBLONG_TOKENS = {"low": 408, "medium": 1584, "high": 6240}  # pricing.md:19
# "gpt-image-1 ... 1024×1536 or 1536×1024 ... (tokens 408-400 / 1584-1568 / 6240-6208)";
# the higher of each pair, so the quote does not undershoot
_TOKENS_PER_PARTIAL_IMAGE = 100  # pricing.md:27 "streaming partial images | | +100 image
# output tokens per partial" [?]. OpenAI counts them in usage.output_tokens (openai-images.md
# §2), so the actual cost never adds them again; the quote must.
_OPENAI_PARTIAL_IMAGES = 2  # OpenAIConfig.partial_images' default (OPENAI_PARTIAL_IMAGES)

_GPT_IMAGE_TOKEN_ROWS = tuple(
    ImageTokens(tokens, width, height, quality)
    for width, height, table in (
        (1024, 1024, _GPT_IMAGE_1_SQUARE_TOKENS),
        (1536, 1024, _GPT_IMAGE_1_OBLONG_TOKENS),
        (1024, 1536, _GPT_IMAGE_1_OBLONG_TOKENS),
    )
    for quality, tokens in table.items()
)

GPT_IMAGE_2_PRICE = PerToken(
    usd_per_output_token=_GPT_IMAGE_2_USD_PER_OUTPUT_TOKEN,
    output_tokens=_GPT_IMAGE_TOKEN_ROWS,
    partial_images=_OPENAI_PARTIAL_IMAGES,
    tokens_per_partial_image=_TOKENS_PER_PARTIAL_IMAGE,
    usd_per_input_text_token=_GPT_IMAGE_2_USD_PER_INPUT_TEXT_TOKEN,
    usd_per_input_image_token=_GPT_IMAGE_2_USD_PER_INPUT_IMAGE_TOKEN,
)

# Replicate bills two ways (pricing.md:39, :48): an *official* model (run through
# /v1/models/{owner}/{name}/predictions, no version) by a price per output image, whatever
# its metrics.predict_time; a *community* model version by metrics.predict_time × the $/s of
# the hardware it runs on, also when the prediction failed or was canceled.
_FLUX_CANNY_DEV_USD_PER_IMAGE = 0.025  # official, per image. flux-canny-dev has no published
# price (pricing.md:45 "not found [?]"); its sibling's is pricing.md:43
# "black-forest-labs/flux-depth-dev (control image → depth) | image | $0.025"
_FLUX_CANNY_PRO_USD_PER_IMAGE = 0.05  # official, per image; as its sibling, pricing.md:44
# "black-forest-labs/flux-depth-pro | image | $0.05" (pricing.md:45: canny-pro not found [?])
_L40S_USD_PER_S = 0.000975  # community, per second: pricing.md:36 "Nvidia L40S | second |
# $0.000975"; the hardware pricing.md:46 names for ControlNet scribble models ("≈ 3–10 s on
# L40S/A100"). A model on other hardware needs an admin's override (PerSecond usd_per_s).
_CONTROLNET_TYPICAL_S = 6.0  # the middle of pricing.md:46's "≈ 3–10 s", at 20 steps

# Stability's Control Sketch on Bedrock is billed per image delivered: pricing.md:58
# "Stability control sketch via Bedrock (stability.stable-image-control-sketch-v1:0) |
# $0.07 / image". A filtered answer delivers no image and is not billed [?].
_BEDROCK_SKETCH_USD_PER_IMAGE = 0.07

PRICE_TABLE: Mapping[str, Mapping[str, PriceModel]] = MappingProxyType(
    {
        # Renders inside our own function: no provider bills for it.
        "local": MappingProxyType({"sketchbridge-local-renderer-1": PerImage.flat(0.0)}),
        "replicate": MappingProxyType(
            {
                # official: per image
                "black-forest-labs/flux-canny-dev": PerImage.flat(_FLUX_CANNY_DEV_USD_PER_IMAGE),
                "black-forest-labs/flux-canny-pro": PerImage.flat(_FLUX_CANNY_PRO_USD_PER_IMAGE),
                # community: per second of L40S
                "rossjillian/controlnet": PerSecond(
                    usd_per_s=_L40S_USD_PER_S, typical_s=_CONTROLNET_TYPICAL_S, typical_steps=20
                ),
                # The Replicate catalog's scribble model (providers/replicate/catalog.py); its
                # hardware is not recorded in pricing.md [?]: :46's L40S/A100, priced as L40S.
                "jagilley/controlnet-scribble": PerSecond(
                    usd_per_s=_L40S_USD_PER_S, typical_s=_CONTROLNET_TYPICAL_S, typical_steps=20
                ),
            }
        ),
        "openai": MappingProxyType(
            {
                "gpt-image-2": GPT_IMAGE_2_PRICE,
                "gpt-image-1.5": PerToken(
                    usd_per_output_token=_GPT_IMAGE_15_USD_PER_OUTPUT_TOKEN,
                    output_tokens=_GPT_IMAGE_TOKEN_ROWS,
                    partial_images=_OPENAI_PARTIAL_IMAGES,
                    tokens_per_partial_image=_TOKENS_PER_PARTIAL_IMAGE,
                    usd_per_input_text_token=5.00 / _PER_MILLION,  # pricing.md:24 "text in $5"
                    usd_per_input_image_token=8.00 / _PER_MILLION,  # pricing.md:24 "image in $8"
                ),
            }
        ),
        "bedrock": MappingProxyType(
            {
                "stability.stable-image-control-sketch-v1:0": PerImage.flat(
                    _BEDROCK_SKETCH_USD_PER_IMAGE
                )
            }
        ),
    }
)
# The model each provider is configured with by default; its price is the provider's default.
DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "local": "sketchbridge-local-renderer-1",
        "replicate": "black-forest-labs/flux-canny-dev",
        "openai": "gpt-image-2",
        "bedrock": "stability.stable-image-control-sketch-v1:0",
    }
)
DEFAULT_PRICES: Mapping[str, PriceModel] = MappingProxyType(
    {provider: PRICE_TABLE[provider][model] for provider, model in DEFAULT_MODELS.items()}
)


def table_price(provider: str, model: str) -> PriceModel | None:
    """The table's price of ``model`` at ``provider``, else of the provider's default model
    (None for a provider the table does not know)."""
    prices = PRICE_TABLE.get(provider)
    if prices is None:
        return None
    # A pinned version ("owner/name:version") is priced as its model.
    return prices.get(model) or prices.get(model.partition(":")[0]) or DEFAULT_PRICES.get(provider)


def billing_price(
    provider: str, model: str, *, override: PriceModel | None = None
) -> tuple[PriceModel, str]:
    """(price, version) to bill a call by: an admin's override wins (``"override"``), else
    the table's price of the model (``PRICE_TABLE_VERSION``); a provider neither knows is free."""
    if override is not None:
        return override, OVERRIDE_VERSION
    return table_price(provider, model) or PerImage.flat(0.0), PRICE_TABLE_VERSION


# ---------------------------------------------------------------- actual cost


def actual_cost(
    usage: ProviderUsage,
    price: PriceModel,
    *,
    version: str,
    quote_usd: float | None = None,
) -> ActualCost:
    """What the call cost by ``price``, from what the provider reported in ``usage``.

    ``version`` names where ``price`` came from (``PRICE_TABLE_VERSION`` or ``"override"``).
    The basis follows the price's shape and the provider: tokens × token prices, predict time ×
    $/s, or images delivered × the per-image price; the offline renderer is free. When the
    provider reported nothing the price bills by (no tokens, no predict time), the cost is the
    table's estimate, basis ``price_table``, and the detail says so: ``quote_usd`` (the job's
    quote) when given, else the estimate of the pictures (or streamed previews) the usage counts.
    """
    if usage.provider == "local":
        return ActualCost(0.0, "free", version, "the offline renderer: no provider bills for it")
    if isinstance(price, PerToken):
        if usage.output_tokens is not None:
            usd, detail = _token_cost(usage, price)
            return ActualCost(_rounded(usd), "openai_usage_tokens", version, detail)
        return _estimated(usage, price, version, quote_usd, "reported no usage tokens")
    if isinstance(price, PerSecond):
        if usage.predict_time_s is not None:
            usd = usage.predict_time_s * price.usd_per_s
            detail = f"metrics.predict_time {usage.predict_time_s:g} s × ${price.usd_per_s:g}/s"
            return ActualCost(_rounded(usd), "replicate_predict_time", version, detail)
        return _estimated(usage, price, version, quote_usd, "reported no predict_time")
    row = _pick(
        price.prices,
        usage.width or 1024,
        usage.height or 1024,
        usage.quality,
        dearest=lambda row: row.usd,
    )
    images = max(usage.images, 0)
    detail = f"{images} image{'' if images == 1 else 's'} delivered × ${row.usd:g}"
    basis: CostBasis
    if usage.provider == "replicate":
        basis = "replicate_per_image"
    elif usage.provider == "bedrock":
        basis = "bedrock_per_image"
    else:
        # A per-image price for a provider that bills otherwise (an admin's override): it is
        # the table's way of pricing, not the provider's, and is labelled so.
        basis = "price_table"
        detail += f" (a per-image price; {usage.provider} bills otherwise)"
    return ActualCost(_rounded(images * row.usd), basis, version, detail)


def _token_cost(usage: ProviderUsage, price: PerToken) -> tuple[float, str]:
    output = usage.output_tokens or 0
    usd = output * price.usd_per_output_token
    parts = [f"{output} output tokens × {_per_million(price.usd_per_output_token)}"]
    if usage.input_text_tokens is not None or usage.input_image_tokens is not None:
        text, image = usage.input_text_tokens or 0, usage.input_image_tokens or 0
        usd += text * price.usd_per_input_text_token + image * price.usd_per_input_image_token
        parts.append(
            f"{image} image input tokens × {_per_million(price.usd_per_input_image_token)}"
        )
        parts.append(f"{text} text input tokens × {_per_million(price.usd_per_input_text_token)}")
    elif usage.input_tokens:
        # No split reported: all input at the dearer input rate, so the cost cannot undershoot.
        rate = max(price.usd_per_input_text_token, price.usd_per_input_image_token)
        usd += usage.input_tokens * rate
        parts.append(
            f"{usage.input_tokens} input tokens (no split reported) × {_per_million(rate)}"
        )
    return usd, " + ".join(parts)


def _estimated(
    usage: ProviderUsage,
    price: PriceModel,
    version: str,
    quote_usd: float | None,
    missing: str,
) -> ActualCost:
    said = f"{usage.provider} {missing}: "
    if quote_usd is not None:
        return ActualCost(
            _rounded(quote_usd), "price_table", version, said + "the price table's quote"
        )
    width, height = usage.width or 1024, usage.height or 1024
    if isinstance(price, PerToken) and usage.images == 0:
        # A stream that broke off: OpenAI bills the previews it sent (pricing.md:27).
        tokens = usage.partial_images * price.tokens_per_partial_image
        return ActualCost(
            _rounded(tokens * price.usd_per_output_token),
            "price_table",
            version,
            said + f"{usage.partial_images} previews × {price.tokens_per_partial_image} "
            f"output tokens × {_per_million(price.usd_per_output_token)} (estimate)",
        )
    steps = price.typical_steps or 1 if isinstance(price, PerSecond) else 1
    each = estimate_cost(price, width=width, height=height, steps=steps, quality=usage.quality)
    images = max(usage.images, 1)
    return ActualCost(
        _rounded(images * each),
        "price_table",
        version,
        said + f"{images} × the price table's estimate ${each:g}",
    )


def _per_million(usd_per_token: float) -> str:
    return f"${usd_per_token * _PER_MILLION:.2f}/1M"


def _rounded(usd: float) -> float:
    return round(usd, _DIGITS)
