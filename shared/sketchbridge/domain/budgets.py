"""Budgets and quotas as pure rules: scopes, periods, limits, and what fits.

A budget caps what one scope (the whole app, or one user) may commit in one period (a UTC
day or a UTC month), with a soft limit (warn, let the job run) and a hard limit (refuse).
Amounts are integer micro-dollars wherever they are stored or compared, so sums never drift.

What a period has committed is what it spent plus what running jobs hold reserved; a quote
fits when ``committed + quote <= hard``. Nothing here reads the clock: callers pass ``at``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sketchbridge.domain.errors import InvalidParamsError

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)
MICROS_PER_USD = 1_000_000
# Far above any real budget, far below what a DynamoDB number or a float can hold exactly.
MAX_BUDGET_USD = 1_000_000_000.0
APP = "app"
USER_PREFIX = "user:"


def to_micros(usd: float) -> int:
    """USD → integer micro-dollars, rounded to the nearest (a quote of $0.0035 is 3500)."""
    return round(usd * MICROS_PER_USD)


def to_usd(micros: int) -> float:
    return micros / MICROS_PER_USD


# ---------------------------------------------------------------- scopes


@dataclass(frozen=True)
class BudgetScope:
    """The app (``user_id`` None) or one user."""

    user_id: str | None = None

    @property
    def label(self) -> str:
        """``app`` or ``user:<sub>``, as the admin API names it."""
        return APP if self.user_id is None else f"{USER_PREFIX}{self.user_id}"


APP_SCOPE = BudgetScope()


def parse_scope(text: str) -> BudgetScope:
    """``app`` or ``user:<sub>``; anything else is the caller's mistake."""
    if text == APP:
        return APP_SCOPE
    if text.startswith(USER_PREFIX) and text.removeprefix(USER_PREFIX).strip():
        return BudgetScope(user_id=text.removeprefix(USER_PREFIX))
    raise InvalidParamsError(f'scope must be "app" or "user:<sub>", not {text!r}.')


def parse_period(text: str) -> Period:
    for period in PERIODS:
        if text == period:
            return period
    raise InvalidParamsError(f'period must be "day" or "month", not {text!r}.')


# ---------------------------------------------------------------- periods


def period_key(period: Period, at: datetime) -> str:
    """The UTC day (``2026-12-03``) or month (``2026-12``) that ``at`` falls in."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%d") if period == "day" else utc.strftime("%Y-%m")


def resets_at(period: Period, at: datetime) -> datetime:
    """When the period ``at`` falls in ends: the next UTC midnight, or the first of next month."""
    utc = at.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight + timedelta(days=1)
    first = midnight.replace(day=1)
    if first.month == 12:
        return first.replace(year=first.year + 1, month=1)
    return first.replace(month=first.month + 1)


# Counters outlive their period this long (TTL), for the admins' look back and late settling.
DAY_COUNTER_KEPT = timedelta(days=40)
MONTH_COUNTER_KEPT = timedelta(days=400)


def period_start(period: Period, key: str) -> datetime:
    """The first instant of the period a key names (``2026-12-03`` or ``2026-12``)."""
    if period == "day":
        return datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC)
    return datetime.strptime(key, "%Y-%m").replace(tzinfo=UTC)


def counter_expires_at(period: Period, key: str) -> int:
    """Epoch seconds after which a period's counter may go (DynamoDB TTL)."""
    ends = resets_at(period, period_start(period, key))
    kept = DAY_COUNTER_KEPT if period == "day" else MONTH_COUNTER_KEPT
    return int((ends + kept).timestamp())


def previous_month_key(key: str) -> str:
    start = period_start("month", key)
    return period_key("month", start - timedelta(days=1))


def minute_key(at: datetime) -> str:
    """The UTC minute ``at`` falls in, the window of a requests-per-minute quota."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def seconds_to_next_minute(at: datetime) -> int:
    """Whole seconds until the next minute's window opens (at least 1): a Retry-After."""
    utc = at.astimezone(UTC)
    next_minute = utc.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(1, math.ceil((next_minute - utc).total_seconds()))


# ---------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limit:
    """One scope's limits for one period, in micro-dollars; None: no such limit."""

    soft: int | None = None
    hard: int | None = None
    # "admin": an override stored in the budgets table; "default": configuration (or none).
    source: Literal["admin", "default"] = "default"

    @property
    def is_set(self) -> bool:
        return self.soft is not None or self.hard is not None


def validated_limit(soft_usd: float | None, hard_usd: float | None) -> Limit:
    """An admin's limit, checked: non-negative numbers, soft no higher than hard, one at least."""
    for name, value in (("soft_usd", soft_usd), ("hard_usd", hard_usd)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParamsError(f"{name} must be a number of US dollars.")
        if not math.isfinite(value) or value < 0 or value > MAX_BUDGET_USD:
            raise InvalidParamsError(
                f"{name} must be between 0 and {MAX_BUDGET_USD:,.0f} US dollars."
            )
    if soft_usd is None and hard_usd is None:
        raise InvalidParamsError("Give soft_usd, hard_usd or both.")
    if soft_usd is not None and hard_usd is not None and soft_usd > hard_usd:
        raise InvalidParamsError("soft_usd must not be above hard_usd.")
    return Limit(
        soft=None if soft_usd is None else to_micros(soft_usd),
        hard=None if hard_usd is None else to_micros(hard_usd),
        source="admin",
    )


def default_limit(soft_usd: float | None, hard_usd: float | None) -> Limit:
    """A limit from configuration, where empty or 0 means none."""
    return Limit(
        soft=to_micros(soft_usd) if soft_usd else None,
        hard=to_micros(hard_usd) if hard_usd else None,
    )


@dataclass(frozen=True)
class Quota:
    """A user's quotas; None: unlimited."""

    requests_per_minute: int | None = None
    jobs_in_flight: int | None = None
    source: Literal["admin", "default"] = "default"


def validated_quota(requests_per_minute: int | None, jobs_in_flight: int | None) -> Quota:
    for name, value in (
        ("requests_per_minute", requests_per_minute),
        ("jobs_in_flight", jobs_in_flight),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParamsError(f"{name} must be a whole number.")
        if value < 1 or value > 1_000_000:
            raise InvalidParamsError(f"{name} must be between 1 and 1,000,000.")
    return Quota(requests_per_minute, jobs_in_flight, source="admin")


@dataclass(frozen=True)
class BudgetDefaults:
    """What applies when no admin override does (from settings; None: no limit)."""

    app_day: Limit = Limit()
    app_month: Limit = Limit()
    quota: Quota = Quota()

    def app(self, period: Period) -> Limit:
        return self.app_day if period == "day" else self.app_month


# ---------------------------------------------------------------- what fits


def room_under(hard: int | None, committed: int) -> int | None:
    """What may still be committed under ``hard`` (never negative); None without a limit."""
    return None if hard is None else max(0, hard - committed)


def fits(quote: int, *, committed: int, hard: int | None) -> bool:
    return hard is None or committed + quote <= hard


def past_soft(quote: int, *, committed: int, soft: int | None) -> bool:
    """Whether committing ``quote`` on top of ``committed`` goes past the soft limit."""
    return soft is not None and committed + quote > soft
