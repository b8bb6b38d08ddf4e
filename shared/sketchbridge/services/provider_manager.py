"""Which providers are fit, healthy, how much and how long: the quotes and the plan.

Pure rules live in the domain (``selection``, ``pricing``, ``latency``,
``circuit_breaker``, ``provider_profile``); this module reads the shared state
they need (breakers, latencies, admins' overrides) once per call and combines
them for GET /providers, POST /estimates and the order a job tries providers in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Literal

from sketchbridge.domain.billing import ActualCost, ProviderUsage
from sketchbridge.domain.latency import eta, prior_eta
from sketchbridge.domain.pricing import (
    PriceModel,
    actual_cost,
    billing_price,
    estimate_cost,
    price_model_from_dict,
    table_price,
)
from sketchbridge.domain.provider_profile import (
    DEFAULT_PROFILES,
    ProviderProfile,
    merge,
    retirement_status,
)
from sketchbridge.domain.selection import (
    Candidate,
    Health,
    RequestNeeds,
    assess_health,
    rank,
    unmet_needs,
)
from sketchbridge.providers.base import ImageProvider
from sketchbridge.services.ports import Dependencies

Policy = Literal["cheapest", "fastest", "balanced"]
# Jobs the processor runs at once from the interactive queue (template.yaml, JobsQueue's
# event source MaximumConcurrency): the queue ahead drains this many at a time.
INTERACTIVE_CONCURRENCY = 8


@dataclass(frozen=True)
class ProviderStatus:
    name: str
    health: Health
    reason: str
    p50_s: float | None
    p90_s: float | None
    error_rate: float
    samples: int
    retires_on: date | None
    retirement: Literal["ok", "flagged", "retired"]


@dataclass(frozen=True)
class Quote:
    provider: str
    eligible: bool
    reasons: tuple[str, ...]  # why it is not eligible, in words
    cost_usd: float
    eta_s: float
    eta_p90_s: float
    health: Health


@dataclass(frozen=True)
class Plan:
    """The providers a job tries, in order; the first is the pick."""

    order: tuple[str, ...]
    quotes: dict[str, Quote]
    # The model each provider runs for this job (an admin may have chosen another one).
    models: dict[str, str] = field(default_factory=dict)

    @property
    def chosen(self) -> Quote:
        return self.quotes[self.order[0]]


class ProviderManager:
    """One per request or job: it reads the admins' overrides once, on first use."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps
        self._profiles: dict[str, ProviderProfile] | None = None
        self._price_overrides: dict[str, PriceModel] = {}

    def profiles(self) -> dict[str, ProviderProfile]:
        """The enabled providers' profiles: defaults in code, overridden by the admins.

        Read (one consistent BatchGetItem) once per manager, that is once per request or
        job and never across them, so an admin's change applies from the next request or
        job that starts after the admin API answered, on every instance, without a deploy.
        """
        if self._profiles is None:
            names = self._deps.providers.names
            overrides = self._deps.provider_config.overrides(names)
            self._profiles = merge(
                {
                    name: self.default_profile(name, model=overrides.get(name, {}).get("model"))
                    for name in names
                },
                overrides,
            )
            self._price_overrides = {
                name: price_model_from_dict(override["price"])
                for name, override in overrides.items()
                if override.get("price") is not None
            }
        return self._profiles

    def default_profile(self, name: str, *, model: str | None = None) -> ProviderProfile:
        """The profile in code, priced for the model it runs: ``model`` (an admin's choice)
        or the one this deployment configured (a community Replicate model bills by the
        second, an official one by the image)."""
        profile = DEFAULT_PROFILES.get(name, ProviderProfile())
        price = table_price(name, model or self._deps.providers.resolve(name).model)
        return replace(profile, price=price) if price is not None else profile

    def provider(self, name: str) -> ImageProvider:
        """The named provider's adapter, running the model an admin chose, if one did."""
        profile = self.profiles().get(name)
        try:
            return self._deps.providers.resolve_model(name, profile.model if profile else None)
        except ValueError:
            # Checked when the admin set it; a model this adapter cannot run (its provider
            # deployed since) leaves the configured one in charge rather than fail every job.
            return self._deps.providers.resolve(name)

    def actual_cost(self, usage: ProviderUsage, *, quote_usd: float | None = None) -> ActualCost:
        """What one provider call cost, from what the provider reported: priced by the admin's
        override of that provider's price if there is one, else by the versioned table."""
        self.profiles()
        price, version = billing_price(
            usage.provider, usage.model, override=self._price_overrides.get(usage.provider)
        )
        return actual_cost(usage, price, version=version, quote_usd=quote_usd)

    def statuses(self, *, now: float) -> dict[str, ProviderStatus]:
        deps = self._deps
        breakers = deps.breakers.load_many(deps.providers.names)
        statuses: dict[str, ProviderStatus] = {}
        for provider in deps.providers.all():
            latency = deps.latency.summary(provider.name, now=now)
            retires_on = retirement_date(
                self.provider(provider.name), self.profiles()[provider.name]
            )
            report = assess_health(
                breaker=breakers[provider.name],
                latency=latency,
                retires_on=retires_on,
                now=now,
                policy=deps.breakers.policy,
            )
            if not self.profiles()[provider.name].enabled:
                report = type(report)("down", "disabled by an admin")
            statuses[provider.name] = ProviderStatus(
                name=provider.name,
                health=report.status,
                reason=report.reason,
                p50_s=latency.p50_s,
                p90_s=latency.p90_s,
                error_rate=latency.error_rate,
                samples=latency.samples,
                retires_on=retires_on,
                retirement=retirement_status(retires_on, datetime.fromtimestamp(now, UTC).date()),
            )
        return statuses

    def quotes(
        self,
        needs: RequestNeeds,
        *,
        steps: int,
        now: float,
        queue_ahead_s: float | None = None,
    ) -> dict[str, Quote]:
        """Cost and ETA of the request on every enabled provider, and whether it fits.

        The ETA includes the wait behind the jobs already queued: ``queue_ahead_s`` when the
        caller knows it, else the interactive queue's (cached) depth shared by the processor's
        concurrency, each job taking as long as this one would: a rough figure, on purpose.
        """
        statuses = self.statuses(now=now)
        waiting = self._deps.queue_depth.jobs_waiting("interactive") if queue_ahead_s is None else 0
        quotes: dict[str, Quote] = {}
        for provider in self._deps.providers.all():
            profile = self.profiles()[provider.name]
            status = statuses[provider.name]
            width, height = needs.width or 1024, needs.height or 1024
            # The model an admin chose brings its own sizes, steps, ranges and price.
            chosen = self.provider(provider.name)
            caps = chosen.capabilities
            summary = self._deps.latency.summary(provider.name, now=now)
            alone = eta(
                summary,
                steps=min(steps, caps.max_steps),
                prior=prior_eta(profile.typical_s),
                prior_steps=profile.typical_steps,
                scales_with_steps=caps.max_steps > 1,
            )
            expected = alone.plus(
                queue_ahead_s
                if queue_ahead_s is not None
                else waiting / INTERACTIVE_CONCURRENCY * alone.p50_s
            )
            reasons = unmet_needs(caps, needs)
            quotes[provider.name] = Quote(
                provider=provider.name,
                eligible=not reasons and status.health != "down",
                reasons=reasons if status.health != "down" else (*reasons, status.reason),
                cost_usd=price_of(chosen, profile.price, width, height, steps),
                eta_s=round(expected.p50_s, 2),
                eta_p90_s=round(expected.p90_s, 2),
                health=status.health,
            )
        return quotes

    def plan(
        self,
        needs: RequestNeeds,
        *,
        requested: str,
        policy: Policy,
        steps: int,
        allow_failover: bool,
        max_cost_usd: float | None,
        max_eta_s: float | None,
        now: float,
        seed: int,
        queue_ahead_s: float | None = None,
    ) -> Plan:
        """The order to try providers in: the one asked for (or the policy's pick) first."""
        quotes = self.quotes(needs, steps=steps, now=now, queue_ahead_s=queue_ahead_s)
        profiles = self.profiles()
        ranked = rank(
            [
                Candidate(
                    name=name,
                    fits=quote.eligible and profiles[name].enabled,
                    cost_usd=quote.cost_usd,
                    eta_s=quote.eta_s,
                    eta_p90_s=quote.eta_p90_s,
                    health=quote.health,
                    weight=profiles[name].weight,
                )
                for name, quote in quotes.items()
            ],
            policy,
            max_cost_usd=max_cost_usd,
            max_eta_s=max_eta_s,
            seed=seed,
        )
        models = {name: self.provider(name).model for name in quotes}
        if requested != "auto":
            explicit = self._deps.providers.resolve(requested).name
            others = [name for name in ranked if name != explicit] if allow_failover else []
            return Plan(order=(explicit, *others), quotes=quotes, models=models)
        if not ranked:
            # Nothing fits and is up: still try the default, whose error will say why.
            return Plan(order=(self._deps.providers.default,), quotes=quotes, models=models)
        return Plan(order=tuple(ranked), quotes=quotes, models=models)


def retirement_date(provider: ImageProvider, profile: ProviderProfile) -> date | None:
    """The admins' date if they set one, else the adapter's configured one."""
    if profile.retires_on is not None:
        return profile.retires_on
    configured = getattr(provider, "retires_on", None)
    return configured if isinstance(configured, date) else None


def price_of(
    provider: ImageProvider, price: PriceModel, width: int, height: int, steps: int
) -> float:
    quality = getattr(provider, "quality", None)
    return estimate_cost(
        price,
        width=width,
        height=height,
        steps=min(steps, provider.capabilities.max_steps),
        quality=quality if isinstance(quality, str) else None,
    )
