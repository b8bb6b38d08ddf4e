"""What was spent, by provider, day, month or user: ``GET /usage`` and the admins' view.

Read from the ledger's daily totals (one item per provider, or user, per day), never from a
scan of the entries; amounts are summed as integer micro-dollars, so the total equals the sum
of the jobs' ``cost_usd`` exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Literal, cast, get_args

from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.ledger import UsageRow, micros_to_usd
from sketchbridge.domain.models import UsageGroup, UsageGroupBy, UsageResponse
from sketchbridge.services.ports import Dependencies

# A year and a day: one report covers at most this many days (a leap year, both ends in).
MAX_USAGE_DAYS = 366
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CALLER_GROUPS = ("provider", "day", "month")


def usage_report(
    deps: Dependencies,
    *,
    user_id: str | None,
    start: date,
    end: date,
    group_by: Literal["provider", "day", "month", "user"],
) -> UsageResponse:
    """Usage from ``start`` to ``end`` (UTC days, both included) of one user, or everyone's.

    ``user_id`` None: everyone (the admin API); only then may ``group_by`` be ``user``.
    Raises ``InvalidParamsError`` for a range backwards or longer than ``MAX_USAGE_DAYS``.
    """
    if group_by not in get_args(UsageGroupBy):
        raise InvalidParamsError(f"group_by must be one of {', '.join(get_args(UsageGroupBy))}.")
    if group_by == "user" and user_id is not None:
        raise InvalidParamsError("group_by=user is for everyone's usage, not one user's.")
    if start > end:
        raise InvalidParamsError("from must not be after to.")
    if (end - start).days + 1 > MAX_USAGE_DAYS:
        raise InvalidParamsError(f"One report covers at most {MAX_USAGE_DAYS} days.")
    rows = deps.ledger.usage(
        user_id=user_id, start=start, end=end, by="user" if group_by == "user" else "provider"
    )
    kept = [row for row in rows if start <= row.day <= end]
    groups: dict[str, list[UsageRow]] = {}
    for row in kept:
        groups.setdefault(_group_key(row, group_by), []).append(row)
    return UsageResponse(
        from_=start,
        to=end,
        group_by=group_by,
        total_cost_usd=micros_to_usd(sum(row.cost_micros for row in kept)),
        images=sum(row.images for row in kept),
        cache_hits=sum(row.cache_hits for row in kept),
        saved_usd=micros_to_usd(sum(row.saved_micros for row in kept)),
        reserved_usd=deps.reservations.reserved_usd(user_id),
        groups=[
            UsageGroup(
                key=key,
                cost_usd=micros_to_usd(sum(row.cost_micros for row in members)),
                images=sum(row.images for row in members),
                cache_hits=sum(row.cache_hits for row in members),
                saved_usd=micros_to_usd(sum(row.saved_micros for row in members)),
            )
            for key, members in sorted(groups.items())
        ],
    )


def caller_usage(
    deps: Dependencies, *, user_id: str, query: Mapping[str, str] | None
) -> UsageResponse:
    """``GET /usage?from=&to=&group_by=`` for the caller; this month, by day, by default.

    ``to`` defaults to today (UTC) and ``from`` to the first day of ``to``'s month.
    """
    query = query or {}
    unknown = sorted(set(query) - {"from", "to", "group_by"})
    if unknown:
        raise InvalidParamsError(f"Unknown parameter {unknown[0]!r}; use from, to and group_by.")
    end = _day(query, "to") or deps.clock().date()
    start = _day(query, "from") or end.replace(day=1)
    group_by = query.get("group_by", "day")
    if group_by not in _CALLER_GROUPS:
        raise InvalidParamsError(f"group_by must be one of {', '.join(_CALLER_GROUPS)}.")
    return usage_report(
        deps,
        user_id=user_id,
        start=start,
        end=end,
        group_by=cast(Literal["provider", "day", "month"], group_by),
    )


def _group_key(row: UsageRow, group_by: str) -> str:
    if group_by == "day":
        return row.day.isoformat()
    if group_by == "month":
        return row.day.isoformat()[:7]
    return row.key  # provider, or user


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not _ISO_DAY.fullmatch(raw):
        raise InvalidParamsError(f"{name} must be a day written YYYY-MM-DD, not {raw[:40]!r}.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidParamsError(f"{name} is not a day of the calendar: {raw!r}.") from None
