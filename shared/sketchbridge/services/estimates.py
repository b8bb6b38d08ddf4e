"""What a request would cost and how long it would take on each provider (``POST /estimates``).

The same plan a submit makes (``ProviderManager.plan`` over the same ``RequestNeeds``), made
without storing or queueing anything: a client can show the price and the wait before the
user commits, and the one ``auto`` would pick under the request's policy and limits.
"""

from __future__ import annotations

from sketchbridge.domain.models import (
    EstimateRequest,
    EstimateResponse,
    EstimatesResponse,
    ExcludedProvider,
)
from sketchbridge.domain.selection import RequestNeeds
from sketchbridge.preprocessing.decode import decode_sketch, parse_data_url
from sketchbridge.preprocessing.fit import choose_output_size
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import Plan, ProviderManager, Quote

# Without a sketch and without a size, the picture quoted is this square.
DEFAULT_SIDE = 1024


def estimate(request: EstimateRequest, *, deps: Dependencies) -> EstimatesResponse:
    """Every enabled provider's quote for ``request``, and ``auto``'s pick (None: none fits)."""
    if request.provider != "auto":
        deps.providers.resolve(request.provider)  # an unknown name is refused, as at submit
    width, height = output_size(request)
    plan = ProviderManager(deps).plan(
        RequestNeeds(seed=request.params.seed is not None, width=width, height=height),
        requested="auto",
        policy=request.policy,
        steps=request.params.steps,
        params=request.params,
        allow_failover=request.allow_failover,
        allow_offline_fallback=request.allow_offline_fallback,
        max_cost_usd=request.max_cost_usd,
        max_eta_s=request.max_eta_s,
        now=deps.clock().timestamp(),
        # Near-ties are spread by weight per job; a fixed draw keeps the same answer for
        # the same request (a job may still land on an equally good provider).
        seed=0,
    )
    estimates = [_estimate(quote, request) for quote in plan.quotes.values()]
    return EstimatesResponse(
        estimates=estimates,
        auto=_auto_pick(plan, estimates),
        policy=request.policy,
        width=width,
        height=height,
        steps=request.params.steps,
        excluded=[ExcludedProvider(provider=name, reason=reason) for name, reason in plan.excluded],
    )


def output_size(request: EstimateRequest) -> tuple[int, int]:
    """The size submit would choose: from the sketch's aspect when there is a sketch."""
    params = request.params
    if request.sketch is None:
        if params.width is None and params.height is None:
            return DEFAULT_SIDE, DEFAULT_SIDE
        sketch_size = (DEFAULT_SIDE, DEFAULT_SIDE)  # a missing side as long as the other
    else:
        sketch_size = decode_sketch(parse_data_url(request.sketch)).image.size
    # The bounds submit sizes a picture within before a provider is chosen.
    return choose_output_size(
        sketch_size,
        width=params.width,
        height=params.height,
        min_side=64,
        max_side=2048,
        multiple=8,
    )


def _estimate(quote: Quote, request: EstimateRequest) -> EstimateResponse:
    """The quote, not eligible also when it breaks a limit the request set."""
    reasons = list(quote.reasons)
    if request.max_cost_usd is not None and quote.cost_usd > request.max_cost_usd:
        reasons.append(f"costs ${quote.cost_usd:g}, above the limit of ${request.max_cost_usd:g}")
    if request.max_eta_s is not None and quote.eta_s > request.max_eta_s:
        reasons.append(f"takes about {quote.eta_s:g} s, above the limit of {request.max_eta_s:g} s")
    return EstimateResponse(
        provider=quote.provider,
        eligible=quote.eligible and not reasons,
        reasons=reasons,
        cost_usd=quote.cost_usd,
        eta_s=quote.eta_s,
        eta_p90_s=quote.eta_p90_s,
        health=quote.health,
    )


def _auto_pick(plan: Plan, estimates: list[EstimateResponse]) -> str | None:
    # When nothing fits, the plan still names the default (whose error says why at submit);
    # a quote reports that as no pick.
    eligible = {estimate.provider for estimate in estimates if estimate.eligible}
    return plan.order[0] if plan.order[0] in eligible else None
