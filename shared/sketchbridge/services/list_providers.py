"""Every enabled provider, how it is doing and what it costs now (``GET /providers``).

An admin reads why a provider is down or degraded; a client reads what each one accepts,
its price model and the cost and wait of a plain request, and which one ``auto`` picks.
"""

from __future__ import annotations

from sketchbridge.domain.latency import DEFAULT_WINDOW_S
from sketchbridge.domain.models import (
    ParameterRangeResponse,
    ProviderCapabilitiesResponse,
    ProviderLatencyResponse,
    ProviderParametersResponse,
    ProviderQuoteResponse,
    ProviderResponse,
    ProvidersResponse,
)
from sketchbridge.domain.parameters import ParameterRange
from sketchbridge.domain.pricing import price_model_to_dict
from sketchbridge.domain.selection import RequestNeeds
from sketchbridge.providers.base import ProviderCapabilities
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import Policy, ProviderManager, steps_on

# The plain request every provider is quoted for: a square picture at each one's own default
# steps (None: the provider's default).
DEFAULT_SIDE = 1024
DEFAULT_STEPS: int | None = None
DEFAULT_POLICY: Policy = "balanced"


def list_providers(deps: Dependencies) -> ProvidersResponse:
    manager = ProviderManager(deps)
    now = deps.clock().timestamp()
    statuses = manager.statuses(now=now)
    profiles = manager.profiles()
    plan = manager.plan(
        RequestNeeds(width=DEFAULT_SIDE, height=DEFAULT_SIDE),
        requested="auto",
        policy=DEFAULT_POLICY,
        steps=DEFAULT_STEPS,
        allow_failover=True,
        max_cost_usd=None,
        max_eta_s=None,
        now=now,
        # Near-ties are drawn by weight per job; a fixed draw keeps this answer stable.
        seed=0,
    )
    providers = []
    for provider in deps.providers.all():
        status = statuses[provider.name]
        quote = plan.quotes[provider.name]
        caps = manager.provider(provider.name).capabilities  # the admin's model's, if chosen
        providers.append(
            ProviderResponse(
                name=provider.name,
                description=provider.description,
                is_ai=provider.is_ai,
                model=manager.provider(provider.name).model,
                status=status.health,
                reason=status.reason,
                capabilities=_capabilities(caps),
                parameters=_parameters(caps),
                ignored=list(caps.parameters.ignored()),
                price=price_model_to_dict(profiles[provider.name].price),
                quote=ProviderQuoteResponse(
                    width=DEFAULT_SIDE,
                    height=DEFAULT_SIDE,
                    steps=steps_on(caps, DEFAULT_STEPS),
                    cost_usd=quote.cost_usd,
                    eta_s=quote.eta_s,
                    eta_p90_s=quote.eta_p90_s,
                ),
                latency=ProviderLatencyResponse(
                    p50_s=status.p50_s,
                    p90_s=status.p90_s,
                    error_rate=round(status.error_rate, 4),
                    samples=status.samples,
                    window_s=DEFAULT_WINDOW_S,
                ),
                retires_on=status.retires_on,
                retirement=status.retirement,
            )
        )
    return ProvidersResponse(
        providers=providers,
        default=deps.providers.default,
        auto=plan.order[0],
        policy=DEFAULT_POLICY,
    )


def _capabilities(caps: ProviderCapabilities) -> ProviderCapabilitiesResponse:
    return ProviderCapabilitiesResponse(
        image_input=caps.image_input,
        seed=caps.seed,
        negative_prompt=caps.negative_prompt,
        min_side=caps.min_side,
        max_side=caps.max_side,
        size_multiple=caps.size_multiple,
        max_steps=caps.max_steps,
        progress=caps.progress,
    )


def _parameters(caps: ProviderCapabilities) -> ProviderParametersResponse:
    ranges = caps.parameters

    def side(name: str) -> ParameterRangeResponse:
        # No default: the size follows the sketch's aspect unless the request sets it.
        return ParameterRangeResponse(
            min=caps.min_side, max=caps.max_side, multiple=caps.size_multiple, native_name=name
        )

    return ProviderParametersResponse(
        width=side("width"),
        height=side("height"),
        steps=_range(ranges.steps),
        strength=_range(ranges.strength),
        guidance_scale=_range(ranges.guidance_scale),
        seed=_range(ranges.seed, default=False),
    )


def _range(
    declared: ParameterRange | None, *, default: bool = True
) -> ParameterRangeResponse | None:
    """One generic parameter as a client reads it; None where the provider ignores it. A
    seed has no default to show: one is drawn when the request sets none."""
    if declared is None:
        return None

    def number(value: float) -> int | float:
        return int(value) if declared.integer else value

    return ParameterRangeResponse(
        min=number(declared.minimum),
        max=number(declared.maximum),
        default=number(declared.default) if default else None,
        native_name=declared.native_name,
        integer=declared.integer,
    )
