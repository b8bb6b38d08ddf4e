"""Which providers a request may go to, and in what order ``auto`` tries them."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

import pytest

from sketchbridge.domain.circuit_breaker import CLOSED, BreakerPolicy, on_failure, start_probe
from sketchbridge.domain.latency import EMPTY_SUMMARY, LatencySummary
from sketchbridge.domain.selection import (
    Candidate,
    RequestNeeds,
    assess_health,
    fits,
    rank,
    unmet_needs,
)
from sketchbridge.providers.bedrock import BEDROCK_CAPABILITIES
from sketchbridge.providers.local import LOCAL_CAPABILITIES
from sketchbridge.providers.openai_images import OpenAIConfig, capabilities_for
from sketchbridge.providers.replicate import REPLICATE_CAPABILITIES

OPENAI_CAPABILITIES = capabilities_for(OpenAIConfig())
NOW = 1_795_608_000.0  # 2026-11-25
POLICY = BreakerPolicy()

CHEAP_SLOW = Candidate("cheap", True, cost_usd=0.01, eta_s=40, eta_p90_s=60, health="healthy")
MIDDLE = Candidate("middle", True, cost_usd=0.03, eta_s=12, eta_p90_s=18, health="healthy")
DEAR_FAST = Candidate("dear", True, cost_usd=0.07, eta_s=8, eta_p90_s=10, health="healthy")
ALL = [CHEAP_SLOW, MIDDLE, DEAR_FAST]

# ---------------------------------------------------------------- capabilities


def test_a_request_that_needs_its_seed_never_goes_to_openai() -> None:
    needs = RequestNeeds(seed=True)

    assert not fits(OPENAI_CAPABILITIES, needs)
    assert unmet_needs(OPENAI_CAPABILITIES, needs) == ("cannot honour a seed",)
    assert fits(REPLICATE_CAPABILITIES, needs)
    assert fits(BEDROCK_CAPABILITIES, needs)
    assert fits(LOCAL_CAPABILITIES, needs)


def test_without_a_seed_every_provider_that_takes_the_sketch_fits() -> None:
    for capabilities in (OPENAI_CAPABILITIES, REPLICATE_CAPABILITIES, BEDROCK_CAPABILITIES):
        assert fits(capabilities, RequestNeeds())


def test_a_text_only_model_cannot_serve_a_sketch() -> None:
    text_only = replace(LOCAL_CAPABILITIES, image_input=False)

    assert unmet_needs(text_only, RequestNeeds()) == ("cannot take the sketch as input",)


def test_an_explicit_size_must_be_within_the_providers_range() -> None:
    needs = RequestNeeds(width=2048, height=1024)

    assert not fits(REPLICATE_CAPABILITIES, needs)  # at most 1440 a side
    assert "width 2048 is outside" in unmet_needs(REPLICATE_CAPABILITIES, needs)[0]
    assert fits(BEDROCK_CAPABILITIES, needs)


# ---------------------------------------------------------------- ranking


def test_cheapest_tries_the_cheapest_first_and_the_rest_as_failover() -> None:
    assert rank(ALL, "cheapest") == ["cheap", "middle", "dear"]


def test_fastest_tries_the_fastest_first() -> None:
    assert rank(ALL, "fastest") == ["dear", "middle", "cheap"]


def test_balanced_picks_the_cheapest_that_is_fast_enough() -> None:
    # Without a limit, fast enough is 1.5 x the best p90 (10 s): 15 s.
    assert rank(ALL, "balanced") == ["middle", "dear", "cheap"]
    # A user who can wait 45 s gets the cheapest.
    assert rank(ALL, "balanced", max_eta_s=45) == ["cheap", "middle", "dear"]


def test_a_limit_the_user_gave_is_never_broken_by_failover() -> None:
    assert rank(ALL, "fastest", max_cost_usd=0.03) == ["middle", "cheap"]
    assert rank(ALL, "balanced", max_eta_s=12) == ["middle", "dear"]
    assert rank(ALL, "cheapest", max_cost_usd=0.001) == []


def test_down_and_unfit_providers_are_never_tried() -> None:
    candidates = [replace(CHEAP_SLOW, health="down"), replace(MIDDLE, fits=False), DEAR_FAST]

    assert rank(candidates, "cheapest") == ["dear"]


def test_degraded_providers_are_tried_after_the_healthy_ones() -> None:
    candidates = [replace(CHEAP_SLOW, health="degraded"), MIDDLE, DEAR_FAST]

    assert rank(candidates, "cheapest") == ["middle", "dear", "cheap"]


def test_equal_providers_share_the_load_by_weight() -> None:
    heavy = Candidate("heavy", True, 0.02, 10, 15, "healthy", weight=3)
    light = Candidate("light", True, 0.02, 10, 15, "healthy", weight=1)

    firsts = Counter(rank([heavy, light], "cheapest", seed=f"job-{i}")[0] for i in range(2000))

    assert 1350 < firsts["heavy"] < 1650  # about three in four
    assert firsts["heavy"] + firsts["light"] == 2000


def test_one_job_always_gets_the_same_order() -> None:
    twins = [Candidate(f"p{i}", True, 0.02, 10, 15, "healthy") for i in range(4)]

    orders = {tuple(rank(twins, "cheapest", seed="job-42")) for _ in range(20)}

    assert len(orders) == 1


def test_a_weight_of_zero_makes_a_provider_a_fallback_only() -> None:
    spare = Candidate("spare", True, 0.02, 10, 15, "healthy", weight=0)
    main = Candidate("main", True, 0.02, 10, 15, "healthy", weight=1)

    assert {rank([spare, main], "cheapest", seed=i)[0] for i in range(200)} == {"main"}


def test_near_ties_but_not_clear_differences_are_shared() -> None:
    a = Candidate("a", True, 0.0200, 10, 15, "healthy")
    b = Candidate("b", True, 0.0205, 10, 15, "healthy")  # within 5 %
    c = Candidate("c", True, 0.0300, 10, 15, "healthy")

    firsts = {rank([a, b, c], "cheapest", seed=i)[0] for i in range(200)}

    assert firsts == {"a", "b"}


# ---------------------------------------------------------------- health


def health(**changes: object) -> tuple[str, str]:
    arguments: dict[str, object] = {
        "breaker": CLOSED,
        "latency": EMPTY_SUMMARY,
        "retires_on": None,
        "now": NOW,
        "policy": POLICY,
        **changes,
    }
    report = assess_health(**arguments)  # type: ignore[arg-type]
    return report.status, report.reason


def test_a_provider_with_nothing_against_it_is_healthy() -> None:
    assert health()[0] == "healthy"


def test_a_provider_whose_circuit_is_open_is_down_until_it_may_be_probed() -> None:
    opened = on_failure(CLOSED, NOW, POLICY, retry_after_s=60)

    assert health(breaker=opened)[0] == "down"
    assert health(breaker=opened, now=NOW + 60)[0] == "degraded"
    probing = start_probe(opened, NOW + 60, POLICY)
    assert health(breaker=probing, now=NOW + 61)[0] == "degraded"


def test_a_provider_that_often_fails_is_degraded() -> None:
    flaky = LatencySummary(p50_s=5, p90_s=8, error_rate=0.3, samples=10)
    one_bad_call = LatencySummary(p50_s=None, p90_s=None, error_rate=1.0, samples=1)

    status, reason = health(latency=flaky)
    assert status == "degraded" and "30%" in reason
    assert health(latency=one_bad_call)[0] == "healthy"


@pytest.mark.parametrize(
    ("retires_on", "status", "dated"),
    [
        (date(2026, 11, 25), "down", True),  # today
        (date(2026, 10, 23), "down", True),
        # Within 30 days: flagged, still healthy (auto keeps it), the date in the reason.
        (date(2026, 12, 1), "healthy", True),
        (date(2027, 6, 1), "healthy", False),
    ],
)
def test_a_model_past_its_retirement_is_down_and_one_close_to_it_flagged(
    retires_on: date, status: str, dated: bool
) -> None:
    got, reason = health(retires_on=retires_on)

    assert got == status
    assert (retires_on.isoformat() in reason) == dated
