"""Spend held while jobs run: quotas at the door, reservations at submit, settlement at the end.

At submit, after the request is validated and before anything is stored or queued:

1. ``admit_request``: the user's requests-per-minute quota (429 ``rate_limited``).
2. ``reserve_quotes``: every new job's quote is reserved at once against the user's and the
   app's daily and monthly budgets, with a job slot each under the user's jobs-in-flight
   quota: all or nothing, atomically (402 ``budget_exceeded`` or 429). A soft limit passed
   lets the jobs run with a warning, a metric and one notification to the admins.

Wherever a job ends (processed, failed, dead-lettered, swept), ``settle_job`` turns its
reservation into what it cost, or releases it; a job that needs no provider call (a cache
hit, a follower of an identical job) releases at once with ``release_reservation``. Settling
twice is harmless: the second finds nothing reserved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.budgets import (
    APP_SCOPE,
    PERIODS,
    BudgetScope,
    Limit,
    Period,
    Quota,
    minute_key,
    past_soft,
    period_key,
    resets_at,
    seconds_to_next_minute,
    to_micros,
    to_usd,
)
from sketchbridge.domain.errors import BudgetExceededError, QuotaExceededError
from sketchbridge.domain.models import BudgetLimitInfo, JobRecord, JobStatus, WarningInfo
from sketchbridge.services.ports import (
    BudgetCounter,
    BudgetLine,
    BudgetStore,
    Dependencies,
    Refusal,
    ReservationRequest,
)

# A job slot frees when a job ends, which takes seconds to a minute: ask to wait a little.
JOBS_IN_FLIGHT_RETRY_AFTER_S = 10
PERIOD_WORDS: dict[Period, str] = {"day": "daily", "month": "monthly"}


# ---------------------------------------------------------------- what applies


def effective_limits(
    store: BudgetStore, deps: Dependencies, scopes: list[BudgetScope]
) -> dict[tuple[BudgetScope, Period], Limit]:
    """Each scope's limits per period: the admin's override, else the configured default
    (app-wide only; a user without an override has no budget of their own)."""
    overrides = store.limits(scopes)
    return {
        (scope, period): overrides.get((scope, period))
        or (deps.budget_defaults.app(period) if scope.user_id is None else Limit())
        for scope in scopes
        for period in PERIODS
    }


def effective_quota(store: BudgetStore, deps: Dependencies, user_id: str) -> Quota:
    """The user's quotas: each of the admin's values where set, else the configured default."""
    default = deps.budget_defaults.quota
    override = store.quota(user_id)
    if override is None:
        return default
    return Quota(
        requests_per_minute=override.requests_per_minute
        if override.requests_per_minute is not None
        else default.requests_per_minute,
        jobs_in_flight=override.jobs_in_flight
        if override.jobs_in_flight is not None
        else default.jobs_in_flight,
        source="admin",
    )


# ---------------------------------------------------------------- at submit


def admit_request(deps: Dependencies, *, user_id: str) -> None:
    """Count the request against the user's per-minute quota; 429 when it is used up."""
    store = deps.budgets
    if store is None:
        return
    limit = effective_quota(store, deps, user_id).requests_per_minute
    if limit is None:
        return
    now = deps.clock()
    if store.count_request(user_id, minute_key(now), limit=limit, expires_at=int(now.timestamp())):
        return
    deps.metrics.add(metrics.QUOTA_EXCEEDED, 1)
    raise QuotaExceededError(
        f"You sent {limit} requests this minute, the most allowed; wait for the next minute.",
        retry_after_s=seconds_to_next_minute(now),
    )


def reserve_quotes(
    deps: Dependencies, *, user_id: str, quotes: Mapping[str, float]
) -> list[WarningInfo]:
    """Reserve every job's quote (job id → USD) at once; the warnings the jobs carry.

    Raises ``BudgetExceededError`` (nothing reserved) when the quotes do not fit a hard
    limit, ``QuotaExceededError`` when they would take the user past their jobs in flight.
    """
    store = deps.budgets
    if store is None or not quotes:
        return []
    now = deps.clock()
    user = BudgetScope(user_id)
    limits = effective_limits(store, deps, [user, APP_SCOPE])
    quota = effective_quota(store, deps, user_id)
    lines = tuple(
        BudgetLine(scope, period, period_key(period, now), hard=limits[(scope, period)].hard)
        for scope in (user, APP_SCOPE)
        for period in PERIODS
    )
    micros = {job_id: to_micros(usd) for job_id, usd in quotes.items()}
    total = sum(micros.values())
    # What was committed before, for the soft limits and the app's gauges; only read
    # where a limit makes it matter.
    watched = [line for line in lines if limits[(line.scope, line.period)].is_set]
    before = store.counters((line.scope, line.period, line.key) for line in watched)
    refusal = store.reserve(
        ReservationRequest(
            user_id=user_id,
            quotes=micros,
            lines=lines,
            jobs_in_flight_limit=quota.jobs_in_flight,
            expires_at=int((now + timedelta(days=deps.job_ttl_days)).timestamp()),
        )
    )
    if refusal is not None:
        raise _refused(deps, refusal, total=total, quota=quota, now=now)
    warnings = []
    for line in watched:
        soft = limits[(line.scope, line.period)].soft
        counter = before[(line.scope, line.period)]
        if soft is None or not past_soft(total, committed=counter.committed, soft=soft):
            continue
        warnings.append(_soft_warning(line, soft, counter, total, now))
        if store.mark_soft_limit_crossed(
            line.scope, line.period, line.key, soft=soft, at=now.isoformat()
        ):
            _notify_admins(deps, line, soft=soft, committed=counter.committed + total)
    app_counters = {
        line.period: _plus_reserved(before[(line.scope, line.period)], total)
        for line in watched
        if line.scope == APP_SCOPE
    }
    _record_app_budget(deps, limits, app_counters)
    return warnings


def _refused(
    deps: Dependencies, refusal: Refusal, *, total: int, quota: Quota, now: datetime
) -> BudgetExceededError | QuotaExceededError:
    if refusal.line is None:
        deps.metrics.add(metrics.QUOTA_EXCEEDED, 1)
        return QuotaExceededError(
            f"You already have {quota.jobs_in_flight} generations in progress, the most "
            "allowed; submit again when one has finished.",
            retry_after_s=JOBS_IN_FLIGHT_RETRY_AFTER_S,
        )
    deps.metrics.add(metrics.BUDGET_EXCEEDED, 1)
    line = refusal.line
    counter = refusal.counter or BudgetCounter(line.scope, line.period, line.key)
    assert line.hard is not None  # only a hard limit refuses
    resets = resets_at(line.period, now)
    return BudgetExceededError(
        f"This request's quote (${to_usd(total):.4f}) does not fit {_budget_name(line)}: "
        f"${to_usd(counter.spent):.4f} spent and ${to_usd(counter.reserved):.4f} reserved "
        f"of ${to_usd(line.hard):.2f}. It resets at {resets.isoformat()}.",
        budget=BudgetLimitInfo(
            scope=line.scope.label,
            period=line.period,
            limit_usd=to_usd(line.hard),
            spent_usd=to_usd(counter.spent),
            reserved_usd=to_usd(counter.reserved),
            quote_usd=to_usd(total),
            resets_at=resets.isoformat(),
        ),
    )


def _soft_warning(
    line: BudgetLine, soft: int, counter: BudgetCounter, total: int, now: datetime
) -> WarningInfo:
    return WarningInfo(
        code="budget_soft_limit",
        message=(
            f"This job takes {_budget_name(line)} past its soft limit of ${to_usd(soft):.2f} "
            f"(${to_usd(counter.committed + total):.4f} spent or reserved); it runs, and the "
            f"budget resets at {resets_at(line.period, now).isoformat()}."
        ),
        scope=line.scope.label,
        period=line.period,
        limit_usd=to_usd(soft),
    )


def _notify_admins(deps: Dependencies, line: BudgetLine, *, soft: int, committed: int) -> None:
    deps.metrics.add(metrics.BUDGET_SOFT_LIMIT_CROSSED, 1)
    whose = "The app's" if line.scope.user_id is None else f"User {line.scope.user_id}'s"
    name = f"{whose} {PERIOD_WORDS[line.period]} budget"
    hard = "no hard limit" if line.hard is None else f"hard limit ${to_usd(line.hard):.2f}"
    deps.alerts.notify(
        f"Sketchbridge: {name} passed its soft limit",
        f"{name} ({line.key}) has ${to_usd(committed):.4f} spent or reserved, past its soft "
        f"limit of ${to_usd(soft):.2f} ({hard}). Jobs still run up to the hard limit; "
        f"change it with PUT /admin/budgets/{line.scope.label}.",
    )


def _budget_name(line: BudgetLine) -> str:
    whose = "the app's" if line.scope.user_id is None else "your"
    return f"{whose} {PERIOD_WORDS[line.period]} budget"


def _plus_reserved(counter: BudgetCounter, amount: int) -> BudgetCounter:
    return BudgetCounter(
        counter.scope, counter.period, counter.key, counter.spent, counter.reserved + amount
    )


# ---------------------------------------------------------------- at the end


def settle_job(deps: Dependencies, record: JobRecord) -> None:
    """Turn an ended job's reservation into its cost, or release it; nothing if none is held.

    A succeeded job spends its ``cost_usd`` (its quote when the cost is unknown); a failed or
    canceled one what its calls were billed regardless (``cost_usd``, usually nothing). So
    a budget's spend is the sum of its jobs' ``cost_usd``, as the ledger's is. A job still
    queued or running keeps its reservation.
    """
    if deps.budgets is None or not record.status.is_final:
        return
    if record.status is JobStatus.SUCCEEDED:
        spent = None if record.cost_usd is None else to_micros(record.cost_usd)
    else:
        spent = to_micros(record.cost_usd or 0.0)
    if deps.budgets.settle(record.id, spent=spent) is not None:
        _record_app_spend(deps)


def release_reservation(deps: Dependencies, job_id: str) -> None:
    """Give back a job's whole reservation: it will not call a provider."""
    if deps.budgets is None:
        return
    if deps.budgets.settle(job_id, spent=0) is not None:
        _record_app_spend(deps)


def _record_app_spend(deps: Dependencies) -> None:
    store = deps.budgets
    assert store is not None
    now = deps.clock()
    limits = effective_limits(store, deps, [APP_SCOPE])
    counters = store.counters((APP_SCOPE, period, period_key(period, now)) for period in PERIODS)
    _record_app_budget(deps, limits, {period: counters[(APP_SCOPE, period)] for period in PERIODS})


def _record_app_budget(
    deps: Dependencies,
    limits: Mapping[tuple[BudgetScope, Period], Limit],
    counters: Mapping[Period, BudgetCounter],
) -> None:
    """The app's spend, and spend and reservations against each of its limits (gauges)."""
    for period, counter in counters.items():
        deps.metrics.add(
            metrics.BUDGET_SPENT, to_usd(counter.spent), {"Scope": "app", "Period": period}
        )
        limit = limits[(APP_SCOPE, period)]
        for kind, value in (("soft", limit.soft), ("hard", limit.hard)):
            if not value:
                continue
            dimensions = {"Scope": "app", "Period": period, "Limit": kind}
            deps.metrics.add(metrics.BUDGET_SPENT_FRACTION, counter.spent / value, dimensions)
            deps.metrics.add(metrics.BUDGET_RESERVED_FRACTION, counter.reserved / value, dimensions)
