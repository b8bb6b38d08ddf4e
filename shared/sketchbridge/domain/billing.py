"""What a provider billed for one call: the facts it reported, and the cost derived from them.

An adapter reports ``ProviderUsage`` exactly as the provider returned it (OpenAI's ``usage``
tokens, Replicate's ``metrics.predict_time`` and hardware, an image count); nothing in it
comes from a price table. ``actual_cost`` (in ``sketchbridge.domain.pricing``) turns usage
into dollars with the versioned price table or an admin's override, and says how
(``ActualCost.basis``), so a ledger line can always be traced back to what was observed.

A quote is what the price table predicts before the call; an actual cost is what the
provider's own numbers say after it. The two differ, and both are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CostBasis = Literal[
    "openai_usage_tokens",  # usage.output_tokens (partial images included) × token prices
    "replicate_predict_time",  # metrics.predict_time × the model's hardware $/s
    "replicate_per_image",  # an official model's per-image price × images delivered
    "bedrock_per_image",  # Stability's per-image price on Bedrock × images delivered
    "free",  # the offline renderer, or a call the provider did not bill
    "price_table",  # the provider reported nothing usable: the table's estimate, said so
]


@dataclass(frozen=True)
class ProviderUsage:
    """What one provider call consumed, as the provider reported it."""

    provider: str
    model: str
    images: int = 0  # pictures delivered
    input_tokens: int | None = None  # OpenAI usage.input_tokens (text + image)
    output_tokens: int | None = None  # OpenAI usage.output_tokens, partial images included
    predict_time_s: float | None = None  # Replicate metrics.predict_time
    hardware: str | None = None  # Replicate's hardware SKU, when it says
    external_id: str | None = None  # the provider's id for the call (prediction, request)
    # OpenAI usage.input_tokens_details: text and image input are priced apart.
    input_text_tokens: int | None = None
    input_image_tokens: int | None = None
    # The delivered pictures' size and quality, which pick a per-image or token price row.
    width: int | None = None
    height: int | None = None
    quality: str | None = None
    # Previews streamed before the call ended: what OpenAI bills for a stream that broke off
    # before its completed event (which alone carries usage).
    partial_images: int = 0


@dataclass(frozen=True)
class ActualCost:
    usd: float
    basis: CostBasis
    price_version: str  # which price table (or "override") produced it
    detail: str  # one line a human can check: "1056 output tokens × $30.00/1M"
