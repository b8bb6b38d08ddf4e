"""Provider profiles: defaults in code, overridden by an admin without a deploy."""

from __future__ import annotations

from datetime import date

import pytest

from sketchbridge.domain.pricing import PerImage, estimate_cost
from sketchbridge.domain.provider_profile import (
    DEFAULT_PROFILES,
    apply_override,
    merge,
    profile_to_dict,
    retirement_status,
)
from sketchbridge.domain.rate_limit import TokenBucket
from sketchbridge.providers.catalog import FACTORIES


def test_every_provider_in_the_catalog_has_a_default_profile() -> None:
    assert set(DEFAULT_PROFILES) == set(FACTORIES)


def test_first_byte_deadlines_default_to_five_seconds_where_a_provider_answers_at_once() -> None:
    assert DEFAULT_PROFILES["openai"].first_byte_deadline_s == 5
    assert DEFAULT_PROFILES["local"].first_byte_deadline_s == 5


def test_an_override_changes_only_what_it_names() -> None:
    profiles = merge(
        DEFAULT_PROFILES,
        {
            "replicate": {
                "weight": 3,
                "price": {"kind": "per_image", "prices": [{"usd": 0.05}]},
                "rate_limit": {"capacity": 2, "refill_per_s": 0.1},
                "retires_on": "2027-01-31",
            },
            "openai": {"enabled": False},
        },
    )

    replicate = profiles["replicate"]
    assert replicate.weight == 3
    assert estimate_cost(replicate.price, width=512, height=512) == 0.05
    assert replicate.rate_limit == TokenBucket(capacity=2, refill_per_s=0.1)
    assert replicate.retires_on == date(2027, 1, 31)
    assert replicate.first_byte_deadline_s == DEFAULT_PROFILES["replicate"].first_byte_deadline_s
    assert not profiles["openai"].enabled
    assert profiles["bedrock"] == DEFAULT_PROFILES["bedrock"]


def test_a_profile_written_out_reads_back_the_same() -> None:
    for profile in DEFAULT_PROFILES.values():
        assert apply_override(profile, profile_to_dict(profile)) == profile


def test_a_date_can_be_cleared_again() -> None:
    dated = apply_override(DEFAULT_PROFILES["openai"], {"retires_on": "2026-12-01"})

    assert apply_override(dated, {"retires_on": None}).retires_on is None


@pytest.mark.parametrize(
    "override",
    [
        {"wieght": 2},
        {"weight": -1},
        {"enabled": "yes"},
        {"retires_on": "next tuesday"},
        {"rate_limit": {"capacity": 0, "refill_per_s": 1}},
        {"rate_limit": {"capacity": 5}},
        {"price": {"kind": "per_banana"}},
        {"first_byte_deadline_s": 0},
    ],
)
def test_a_bad_override_is_refused_with_a_reason(override: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        apply_override(DEFAULT_PROFILES["replicate"], override)


def test_an_override_for_a_provider_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="replicat"):
        merge(DEFAULT_PROFILES, {"replicat": {"weight": 2}})


def test_retirement_is_flagged_thirty_days_ahead_and_final_on_the_day() -> None:
    retires = date(2026, 12, 1)

    assert retirement_status(None, date(2026, 11, 25)) == "ok"
    assert retirement_status(retires, date(2026, 10, 31)) == "ok"
    assert retirement_status(retires, date(2026, 11, 1)) == "flagged"
    assert retirement_status(retires, date(2026, 11, 30)) == "flagged"
    assert retirement_status(retires, date(2026, 12, 1)) == "retired"


def test_free_is_free() -> None:
    assert estimate_cost(PerImage.flat(0), width=64, height=64) == 0
