"""Which providers may serve a request, how healthy each is, and in what order to try them.

``unmet_needs`` / ``fits`` filter by capability (a request that needs a seed cannot go to a
provider without seeds, such as OpenAI); ``assess_health`` reads a provider's breaker, latency
and retirement date as ``healthy`` | ``degraded`` | ``down`` with a reason; ``rank`` orders
the candidates for ``auto`` by policy. The first name is the pick (what ``POST /estimates``
reports); the rest is the failover chain, in order.

How to use::

    candidates = [
        Candidate(name, fits=fits(caps, needs), cost_usd=..., eta_s=..., eta_p90_s=...,
                  health=assess_health(...).status, weight=profile.weight)
        for name, caps in ...
    ]
    chain = rank(candidates, "balanced", max_cost_usd=request_max_cost, seed=job_id)

The ranking rules:

- Providers that are ``down`` or do not fit are left out; so are those above ``max_cost_usd``
  or ``max_eta_s`` when the request sets them: a limit the user gave is a promise.
- ``healthy`` providers come before ``degraded`` ones, each group ordered by the policy:
  ``cheapest`` by cost then ETA; ``fastest`` by ETA then cost; ``balanced`` first those whose
  ETA meets ``max_eta_s`` (or, without one, 1.5 × the best p90 among the candidates) by cost,
  then the slower rest by ETA.
- Providers whose deciding figure is within ``tie_tolerance`` (relative) of each other are a
  near-tie: their order is a weighted draw seeded by ``seed`` (the job id), so load spreads
  across them by weight, and one job always gets the same order. Weight 0 draws last.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, Protocol

from sketchbridge.domain.circuit_breaker import BreakerPolicy, BreakerState, allows_call
from sketchbridge.domain.latency import LatencySummary
from sketchbridge.domain.provider_profile import retirement_status

Health = Literal["healthy", "degraded", "down"]
SelectionPolicy = Literal["cheapest", "fastest", "balanced"]
# Balanced without a max ETA: "fast enough" is within this factor of the best p90.
BALANCED_SLACK = 1.5
# An error rate over the window at or above this marks a provider degraded...
DEGRADED_ERROR_RATE = 0.2
# ...once the window holds this many calls, so one early failure does not.
DEGRADED_MIN_SAMPLES = 5


class Capabilities(Protocol):
    """The part of ``sketchbridge.providers.base.ProviderCapabilities`` selection reads."""

    @property
    def image_input(self) -> bool: ...

    @property
    def seed(self) -> bool: ...

    @property
    def min_side(self) -> int: ...

    @property
    def max_side(self) -> int: ...


@dataclass(frozen=True)
class RequestNeeds:
    """What a request cannot do without. A size is a need only when the request sets one."""

    seed: bool = False  # the request gives a seed and expects it honoured
    image_input: bool = True  # the sketch must reach the model
    width: int | None = None
    height: int | None = None


def unmet_needs(capabilities: Capabilities, needs: RequestNeeds) -> tuple[str, ...]:
    """Why a provider cannot serve the request, in words for the user; empty when it can."""
    unmet: list[str] = []
    if needs.seed and not capabilities.seed:
        unmet.append("cannot honour a seed")
    if needs.image_input and not capabilities.image_input:
        unmet.append("cannot take the sketch as input")
    for side_name, side in (("width", needs.width), ("height", needs.height)):
        if side is not None and not capabilities.min_side <= side <= capabilities.max_side:
            unmet.append(
                f"{side_name} {side} is outside {capabilities.min_side}..{capabilities.max_side}"
            )
    return tuple(unmet)


def fits(capabilities: Capabilities, needs: RequestNeeds) -> bool:
    return not unmet_needs(capabilities, needs)


@dataclass(frozen=True)
class HealthReport:
    status: Health
    reason: str


def assess_health(
    *,
    breaker: BreakerState,
    latency: LatencySummary,
    retires_on: date | None,
    now: float,
    policy: BreakerPolicy,
) -> HealthReport:
    """A provider's status with the reason an admin would want first; ``retires_on`` is its
    model's retirement date, judged on ``now``'s UTC day.

    ``down``: its model is retired, or its circuit is open and not yet due a probe.
    ``degraded``: a probe is due or running, or its recent error rate is high. Otherwise
    ``healthy`` (naming the retirement date when the model retires within 30 days).
    """
    retirement = retirement_status(retires_on, datetime.fromtimestamp(now, UTC).date())
    if retirement == "retired":
        return HealthReport("down", f"its model was retired on {retires_on}")
    decision = allows_call(breaker, now, policy)
    if not decision.allowed and breaker.status == "open":
        return HealthReport("down", "failing: calls are paused after repeated errors")
    if breaker.status != "closed":
        return HealthReport("degraded", "recovering: one trial call decides whether it is back")
    if latency.samples >= DEGRADED_MIN_SAMPLES and latency.error_rate >= DEGRADED_ERROR_RATE:
        return HealthReport(
            "degraded", f"{latency.error_rate:.0%} of recent calls failed ({latency.samples})"
        )
    if retirement == "flagged":
        # A model that still answers is not shunned before its day: ``auto`` keeps choosing
        # it, and the date stands in the reason (and in ``retires_on``) for the admin.
        return HealthReport("healthy", f"answering normally; its model retires on {retires_on}")
    return HealthReport("healthy", "answering normally")


@dataclass(frozen=True)
class Candidate:
    name: str
    fits: bool
    cost_usd: float
    eta_s: float
    eta_p90_s: float
    health: Health
    weight: float = 1.0


def rank(
    candidates: Iterable[Candidate],
    policy: SelectionPolicy,
    *,
    max_cost_usd: float | None = None,
    max_eta_s: float | None = None,
    seed: int | str = 0,
    tie_tolerance: float = 0.05,
) -> list[str]:
    """The names to try, best first; empty when none may serve the request."""
    eligible = [
        candidate
        for candidate in candidates
        if candidate.fits
        and candidate.health != "down"
        and (max_cost_usd is None or candidate.cost_usd <= max_cost_usd)
        and (max_eta_s is None or candidate.eta_s <= max_eta_s)
    ]
    if not eligible:
        return []
    draw = random.Random(seed)
    fast_enough = (
        max_eta_s
        if max_eta_s is not None
        else BALANCED_SLACK * min(candidate.eta_p90_s for candidate in eligible)
    )
    ordered: list[Candidate] = []
    for health in ("healthy", "degraded"):
        group = [candidate for candidate in eligible if candidate.health == health]
        if policy == "cheapest":
            ordered += _order(group, _cost, _eta, tie_tolerance, draw)
        elif policy == "fastest":
            ordered += _order(group, _eta, _cost, tie_tolerance, draw)
        else:
            quick = [candidate for candidate in group if candidate.eta_s <= fast_enough]
            slow = [candidate for candidate in group if candidate.eta_s > fast_enough]
            ordered += _order(quick, _cost, _eta, tie_tolerance, draw)
            ordered += _order(slow, _eta, _cost, tie_tolerance, draw)
    return [candidate.name for candidate in ordered]


def _cost(candidate: Candidate) -> float:
    return candidate.cost_usd


def _eta(candidate: Candidate) -> float:
    return candidate.eta_s


def _order(
    candidates: Sequence[Candidate],
    primary: Callable[[Candidate], float],
    secondary: Callable[[Candidate], float],
    tolerance: float,
    draw: random.Random,
) -> list[Candidate]:
    """Sorted by ``primary`` (then ``secondary``, then name); near-ties on ``primary`` drawn by
    weight."""
    ordered = sorted(candidates, key=lambda c: (primary(c), secondary(c), c.name))
    result: list[Candidate] = []
    while ordered:
        first = primary(ordered[0])
        tied = [c for c in ordered if primary(c) - first <= tolerance * max(abs(first), 1e-9)]
        ordered = ordered[len(tied) :]
        result += _weighted_shuffle(tied, draw)
    return result


def _weighted_shuffle(candidates: list[Candidate], draw: random.Random) -> list[Candidate]:
    """An order in which each next pick is drawn with probability proportional to its weight."""
    remaining = list(candidates)
    shuffled: list[Candidate] = []
    while remaining:
        total = sum(c.weight for c in remaining)
        if total <= 0:
            return shuffled + remaining  # all weight 0: keep the sorted order
        point = draw.random() * total
        # Float rounding may leave the point past the end: the last weighted one takes it.
        chosen = max(index for index, c in enumerate(remaining) if c.weight > 0)
        for index, candidate in enumerate(remaining):
            point -= candidate.weight
            if candidate.weight > 0 and point < 0:
                chosen = index
                break
        shuffled.append(remaining.pop(chosen))
    return shuffled
