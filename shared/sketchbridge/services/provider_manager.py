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
from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.latency import eta, prior_eta
from sketchbridge.domain.models import GenerationParams
from sketchbridge.domain.parameter_rules import ParameterCheck, check_parameters
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
from sketchbridge.providers.base import ImageProvider, ProviderCapabilities
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
    # The part of ``reasons`` that is about the request's parameters (out of its ranges).
    parameter_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The providers a job tries, in order; the first is the pick."""

    order: tuple[str, ...]
    quotes: dict[str, Quote]
    # The model each provider runs for this job (an admin may have chosen another one).
    models: dict[str, str] = field(default_factory=dict)
    # The providers ``auto`` left out, and why, in the registry's order.
    excluded: tuple[tuple[str, str], ...] = ()
    # Set when no provider ``auto`` may use takes the request's parameters: submit refuses
    # the request with it (400 invalid_params, each provider's reason) and queues nothing.
    parameter_refusal: InvalidParamsError | None = None

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
        steps: int | None,
        now: float,
        queue_ahead_s: float | None = None,
        params: GenerationParams | None = None,
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
            check = self.check_parameters(provider.name, params, steps=steps)
            provider_steps = steps_on(caps, steps)
            summary = self._deps.latency.summary(provider.name, now=now)
            alone = eta(
                summary,
                steps=provider_steps,
                prior=prior_eta(profile.typical_s),
                prior_steps=profile.typical_steps,
                scales_with_steps=caps.max_steps > 1,
            )
            expected = alone.plus(
                queue_ahead_s
                if queue_ahead_s is not None
                else waiting / INTERACTIVE_CONCURRENCY * alone.p50_s
            )
            parameter_reasons = tuple(problem.describe() for problem in check.problems)
            reasons = (*unmet_needs(caps, needs), *parameter_reasons)
            quotes[provider.name] = Quote(
                provider=provider.name,
                eligible=not reasons and status.health != "down",
                reasons=reasons if status.health != "down" else (*reasons, status.reason),
                cost_usd=price_of(chosen, profile.price, width, height, provider_steps),
                eta_s=round(expected.p50_s, 2),
                eta_p90_s=round(expected.p90_s, 2),
                health=status.health,
                parameter_reasons=parameter_reasons,
            )
        return quotes

    def check_parameters(
        self,
        name: str,
        params: GenerationParams | None,
        *,
        steps: int | None = None,
        drawn_seed: int | None = None,
    ) -> ParameterCheck:
        """The named provider's verdict on the request's parameters, for the model it runs
        (``params`` None: only ``steps``, as the plain request of ``GET /providers``)."""
        requested = (
            params.model_dump(include={"steps", "strength", "guidance_scale", "seed"})
            if params is not None
            else {"steps": steps}
        )
        return check_parameters(
            self.provider(name).capabilities.parameters,
            requested,
            provider=name,
            drawn_seed=drawn_seed,
        )

    def is_ai(self, name: str) -> bool:
        return bool(self._deps.providers.resolve(name).is_ai)

    def auto_pool(self, *, allow_offline_fallback: bool) -> list[str]:
        """The providers ``auto`` may use at all, health aside: the enabled AI ones (and the
        rest when the request allows an offline fallback, or when there is no AI one)."""
        enabled = [name for name, profile in self.profiles().items() if profile.enabled]
        ai = [name for name in enabled if self.is_ai(name)]
        return ai if ai and not allow_offline_fallback else enabled

    def plan(
        self,
        needs: RequestNeeds,
        *,
        requested: str,
        policy: Policy,
        steps: int | None,
        allow_failover: bool,
        max_cost_usd: float | None,
        max_eta_s: float | None,
        now: float,
        seed: int,
        queue_ahead_s: float | None = None,
        params: GenerationParams | None = None,
        allow_offline_fallback: bool = False,
    ) -> Plan:
        """The order to try providers in: the one asked for (or the policy's pick) first.

        ``auto`` means AI: while the deployment has an enabled AI provider, a non-AI one
        (``local``) is never picked; it ends the failover chain only when the request allows
        an offline fallback. Only providers that take the request's parameters are candidates.
        """
        quotes = self.quotes(
            needs, steps=steps, now=now, queue_ahead_s=queue_ahead_s, params=params
        )
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
        ai = [name for name in quotes if self.is_ai(name) and profiles[name].enabled]
        # A deployment without any AI provider (only the offline renderer) has nothing else.
        usable = [name for name in ranked if name in ai or not ai or allow_offline_fallback]
        chain = [name for name in usable if name in ai] + [n for n in usable if n not in ai]
        if requested != "auto":
            explicit = self._deps.providers.resolve(requested).name
            others = [name for name in chain if name != explicit] if allow_failover else []
            return Plan(order=(explicit, *others), quotes=quotes, models=models)
        excluded = tuple(
            (name, _exclusion(quotes[name], max_cost_usd, max_eta_s, offline=name not in ai))
            for name in quotes
            if name not in chain
        )
        if chain:
            return Plan(order=tuple(chain), quotes=quotes, models=models, excluded=excluded)
        pool = ai if ai and not allow_offline_fallback else list(quotes)
        refusal = None
        if all(quotes[name].parameter_reasons for name in pool):
            refusal = InvalidParamsError(
                "No provider takes these parameters: "
                + "; ".join(f"{name}: {'; '.join(quotes[name].parameter_reasons)}" for name in pool)
                + ".",
                suggestions=["Change the parameters to fit a provider's range (GET /providers)."],
                details={
                    "excluded": [
                        {"provider": name, "reason": "; ".join(quotes[name].parameter_reasons)}
                        for name in pool
                    ]
                },
            )
        # Nothing fits and is up: still try one that could, whose error will say why.
        fallback = next(
            (
                name
                for name in [self._deps.providers.default, *pool]
                if name in pool and not quotes[name].parameter_reasons
            ),
            self._deps.providers.default,
        )
        return Plan(
            order=(fallback,),
            quotes=quotes,
            models=models,
            excluded=excluded,
            parameter_refusal=refusal,
        )


def _exclusion(
    quote: Quote, max_cost_usd: float | None, max_eta_s: float | None, *, offline: bool
) -> str:
    """Why ``auto`` left a provider out, in words for the user."""
    if quote.reasons:
        return "; ".join(quote.reasons)
    if max_cost_usd is not None and quote.cost_usd > max_cost_usd:
        return f"costs ${quote.cost_usd:g}, above the limit of ${max_cost_usd:g}"
    if max_eta_s is not None and quote.eta_s > max_eta_s:
        return f"takes about {quote.eta_s:g} s, above the limit of {max_eta_s:g} s"
    if offline:
        return "not AI: auto uses it only as the last hop when allow_offline_fallback is set"
    return "not eligible"


def steps_on(caps: ProviderCapabilities, steps: int | None) -> int:
    """The steps a request runs with on a provider, for its ETA and price: the request's (or
    the provider's default), 1 where it has no step control. An out-of-range request is
    refused before it runs; its figures are quoted at the nearest the provider takes."""
    ranges = caps.parameters.steps
    if ranges is None:
        return 1
    if steps is None:
        return int(ranges.default)
    return int(min(max(steps, ranges.minimum), ranges.maximum))


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
        steps=steps_on(provider.capabilities, steps),
        quality=quality if isinstance(quality, str) else None,
    )
