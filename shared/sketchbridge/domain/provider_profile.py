"""How this deployment uses each provider: on or off, weight, price, rate limit, deadlines, dates.

The defaults are in code (``DEFAULT_PROFILES``); an admin changes them without a deploy by
writing an override to the providers table (``DynamoProviderConfigStore.put``). An override is
a partial dictionary in the shape ``profile_to_dict`` writes; ``merge`` lays the overrides over
the defaults and refuses (ValueError) a key it does not know or a value out of range.

How to use::

    profiles = merge(DEFAULT_PROFILES, config_store.overrides(DEFAULT_PROFILES))
    profile = profiles["replicate"]
    profile.enabled, profile.weight, profile.price, profile.rate_limit
    retirement_status(profile.retires_on, today)   # "ok" | "flagged" | "retired"

Whether a provider is deployed at all is ENABLED_PROVIDERS (settings); ``enabled`` lets an
admin switch a deployed one off for a while.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any, Literal

from sketchbridge.domain.pricing import (
    DEFAULT_PRICES,
    PerImage,
    PriceModel,
    price_model_from_dict,
    price_model_to_dict,
)
from sketchbridge.domain.rate_limit import TokenBucket

RetirementStatus = Literal["ok", "flagged", "retired"]
# A model this close to its retirement date is flagged to admins (issue 4: "within 30 days").
RETIREMENT_NOTICE = timedelta(days=30)
DEFAULT_FIRST_BYTE_DEADLINE_S = 5.0
FREE = PerImage.flat(0.0)
DEFAULT_RATE_LIMIT = TokenBucket(capacity=10, refill_per_s=1.0)
_MODEL_ID = re.compile(r"[^\s]{1,200}")


@dataclass(frozen=True)
class ProviderProfile:
    enabled: bool = True
    weight: float = 1.0  # share of load among near-equal providers; 0 = only as a fallback
    price: PriceModel = FREE
    rate_limit: TokenBucket = DEFAULT_RATE_LIMIT
    # A call that has shown no sign of life (first byte, first progress) by then is abandoned.
    first_byte_deadline_s: float = DEFAULT_FIRST_BYTE_DEADLINE_S
    retires_on: date | None = None  # the configured model stops answering on this day
    # The ETA before any call was measured: seconds a picture takes at typical_steps.
    typical_s: float = 10.0
    typical_steps: int = 20
    # The model to run instead of the one the deployment configured (REPLICATE_MODEL, ...);
    # None: the configured one.
    model: str | None = None

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError("weight cannot be negative")
        if self.first_byte_deadline_s <= 0 or self.typical_s <= 0:
            raise ValueError("first_byte_deadline_s and typical_s must be positive")
        if self.typical_steps < 1:
            raise ValueError("typical_steps must be at least 1")
        if self.model is not None and not _MODEL_ID.fullmatch(self.model):
            raise ValueError("model must be a model id of 1 to 200 characters, no spaces")


def retirement_status(retires_on: date | None, today: date) -> RetirementStatus:
    """``retired`` from the date on (treat the provider as down), ``flagged`` in the 30 days
    before it, else ``ok``."""
    if retires_on is None:
        return "ok"
    if today >= retires_on:
        return "retired"
    if retires_on - today <= RETIREMENT_NOTICE:
        return "flagged"
    return "ok"


def profile_to_dict(profile: ProviderProfile) -> dict[str, Any]:
    """JSON-like values; any subset of them is a valid override."""
    return {
        "enabled": profile.enabled,
        "weight": profile.weight,
        "price": price_model_to_dict(profile.price),
        "rate_limit": {
            "capacity": profile.rate_limit.capacity,
            "refill_per_s": profile.rate_limit.refill_per_s,
        },
        "first_byte_deadline_s": profile.first_byte_deadline_s,
        "retires_on": profile.retires_on.isoformat() if profile.retires_on else None,
        "typical_s": profile.typical_s,
        "typical_steps": profile.typical_steps,
        "model": profile.model,
    }


def apply_override(profile: ProviderProfile, override: Mapping[str, Any]) -> ProviderProfile:
    """``profile`` with the override's keys replaced; ValueError naming what is wrong."""
    known = {f.name for f in fields(ProviderProfile)}
    unknown = sorted(set(override) - known)
    if unknown:
        raise ValueError(f"unknown profile settings {unknown}; known: {sorted(known)}")
    changes: dict[str, Any] = {}
    try:
        for key, value in override.items():
            changes[key] = _parse(key, value)
        return replace(profile, **changes)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"profile override {dict(override)!r} is malformed: {exc}") from None


def merge(
    defaults: Mapping[str, ProviderProfile], overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, ProviderProfile]:
    """Every default profile with its override applied; an override for no known provider is
    refused, since it is most likely a misspelt name."""
    strangers = sorted(set(overrides) - set(defaults))
    if strangers:
        raise ValueError(f"overrides for unknown providers {strangers}")
    return {
        name: apply_override(profile, overrides.get(name, {})) for name, profile in defaults.items()
    }


def _parse(key: str, value: Any) -> Any:
    if key == "enabled":
        if not isinstance(value, bool):
            raise ValueError("enabled must be true or false")
        return value
    if key == "price":
        return price_model_from_dict(value)
    if key == "rate_limit":
        return TokenBucket(
            capacity=float(value["capacity"]), refill_per_s=float(value["refill_per_s"])
        )
    if key == "retires_on":
        return date.fromisoformat(value) if value is not None else None
    if key == "typical_steps":
        return int(value)
    if key == "model":
        if value is not None and not isinstance(value, str):
            raise ValueError("model must be a model id or null")
        return value
    return float(value)  # weight, first_byte_deadline_s, typical_s


# ---------------------------------------------------------------- defaults

# Rate limits are what this deployment allows itself, shared by all processor instances; the
# providers' own limits depend on the account, so an admin tunes them in the providers table.
# typical_s is only the ETA until the first real calls are measured.
DEFAULT_PROFILES: Mapping[str, ProviderProfile] = MappingProxyType(
    {
        "local": ProviderProfile(
            price=DEFAULT_PRICES["local"],
            # Runs in our own function: the processor's concurrency is its only limit.
            rate_limit=TokenBucket(capacity=100, refill_per_s=100.0),
            typical_s=2.0,
        ),
        "replicate": ProviderProfile(
            price=DEFAULT_PRICES["replicate"],
            # Replicate allows 600 prediction creations a minute (replicate.md §1: a POST
            # leaves ratelimit-remaining 599); the burst is the processor's concurrency (10).
            rate_limit=TokenBucket(capacity=10, refill_per_s=10.0),
            # The 5 s default: the create request holds its answer up to
            # ReplicateConfig.prefer_wait_s (2 s, "Prefer: wait=2") and answers within a
            # moment of it, so a healthy create's first byte comes well inside 5 s. Its
            # answer (the prediction id, reported through on_started) is the sign of life;
            # then progress comes from the logs. The price of the short hold: a model that
            # finishes in 2-5 s is polled once or twice instead of answered by the create.
            typical_s=10.0,
        ),
        "openai": ProviderProfile(
            price=DEFAULT_PRICES["openai"],
            # The default 5 s: the image stream opens (headers) at once; that is the sign of
            # life, reported as the adapter's opening progress, previews follow later.
            # Image limits are per organisation and tier (openai-images.md quotes one of
            # "Limit: 0/1min"); five a minute is a cautious default until an admin sets theirs.
            rate_limit=TokenBucket(capacity=5, refill_per_s=5 / 60),
            typical_s=30.0,
        ),
        "bedrock": ProviderProfile(
            price=DEFAULT_PRICES["bedrock"],
            # Bedrock's on-demand quota for the Stability models is per account and region
            # (bedrock.md lists only ThrottlingException); a cautious default.
            rate_limit=TokenBucket(capacity=5, refill_per_s=1.0),
            # InvokeModel streams nothing: its first byte is the finished picture, so no
            # deadline under a picture's draw time is possible (the adapter's "Drawing on
            # Amazon Bedrock…" line is said before the call and is no sign of life).
            first_byte_deadline_s=60.0,
            typical_s=10.0,
        ),
    }
)
