"""Admins' budgets: read, set and remove the limits of the app or one user, per day or month.

Scopes are ``app`` and ``user:<sub>``; periods are the UTC ``day`` and ``month``. A change is
one write to the budgets table, read by the very next submit (no cache, no deploy). The
admin API (``/admin/budgets/{scope}``) and the CLI call these; amounts are USD here and
integer micro-dollars in the table.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from sketchbridge.domain.budgets import (
    PERIODS,
    parse_period,
    parse_scope,
    period_key,
    resets_at,
    to_usd,
    validated_limit,
)
from sketchbridge.domain.errors import InternalError, InvalidParamsError
from sketchbridge.domain.models import BudgetRequest, BudgetResponse, BudgetsResponse
from sketchbridge.services.ports import BudgetStore, Dependencies
from sketchbridge.services.reservations import effective_limits


def budget_request(payload: Any) -> BudgetRequest:
    """A request body as a ``BudgetRequest``; what is wrong with it as ``invalid_params``."""
    try:
        return BudgetRequest.model_validate(payload)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        raise InvalidParamsError(f"{field}: {problem['msg']}") from exc


def get_budgets(deps: Dependencies, scope: str) -> BudgetsResponse:
    """The scope's limits per period, what it spent and holds reserved, and when each resets."""
    parsed = parse_scope(scope)
    store = _store(deps)
    now = deps.clock()
    limits = effective_limits(store, deps, [parsed])
    counters = store.counters((parsed, period, period_key(period, now)) for period in PERIODS)
    budgets = []
    for period in PERIODS:
        limit = limits[(parsed, period)]
        counter = counters[(parsed, period)]
        budgets.append(
            BudgetResponse(
                period=period,
                soft_usd=None if limit.soft is None else to_usd(limit.soft),
                hard_usd=None if limit.hard is None else to_usd(limit.hard),
                spent_usd=to_usd(counter.spent),
                reserved_usd=to_usd(max(0, counter.reserved)),
                resets_at=resets_at(period, now).isoformat(),
                source=limit.source,
            )
        )
    return BudgetsResponse(scope=parsed.label, budgets=budgets)


def put_budget(deps: Dependencies, scope: str, request: BudgetRequest) -> BudgetsResponse:
    """Set one period's limits for the scope (replacing the earlier override)."""
    parsed = parse_scope(scope)
    period = parse_period(request.period)
    limit = validated_limit(request.soft_usd, request.hard_usd)
    _store(deps).put_limit(parsed, period, limit)
    return get_budgets(deps, scope)


def delete_budget(
    deps: Dependencies, scope: str, period: Literal["day", "month"] | None = None
) -> None:
    """Remove the override of one period (None: both); the default applies again."""
    parsed = parse_scope(scope)
    store = _store(deps)
    for each in PERIODS if period is None else (parse_period(period),):
        store.delete_limit(parsed, each)


def _store(deps: Dependencies) -> BudgetStore:
    if deps.budgets is None:
        raise InternalError("Budgets are not configured on this deployment.")
    return deps.budgets
