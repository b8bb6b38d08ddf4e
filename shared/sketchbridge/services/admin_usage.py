"""Everyone's usage for the admins (``GET /admin/usage?from=&to=&group_by=``).

The report itself is ``services.usage.usage_report`` with no user (everyone); this module
only reads the admin's query: ``group_by`` user, provider, day or month (default user),
``to`` today (UTC) and ``from`` the first day of ``to``'s month by default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Literal, cast

from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.models import UsageResponse
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.usage import usage_report

ADMIN_GROUPS = ("user", "provider", "day", "month")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def everyone_usage(deps: Dependencies, query: Mapping[str, str] | None) -> UsageResponse:
    query = query or {}
    unknown = sorted(set(query) - {"from", "to", "group_by"})
    if unknown:
        raise InvalidParamsError(f"Unknown parameter {unknown[0]!r}; use from, to and group_by.")
    end = _day(query, "to") or deps.clock().date()
    start = _day(query, "from") or end.replace(day=1)
    group_by = query.get("group_by") or "user"
    if group_by not in ADMIN_GROUPS:
        raise InvalidParamsError(f"group_by must be one of {', '.join(ADMIN_GROUPS)}.")
    return usage_report(
        deps,
        user_id=None,
        start=start,
        end=end,
        group_by=cast(Literal["provider", "day", "month", "user"], group_by),
    )


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    if not _ISO_DAY.fullmatch(raw):
        raise InvalidParamsError(f"{name} must be a day written YYYY-MM-DD, not {raw[:40]!r}.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidParamsError(f"{name} is not a day of the calendar: {raw!r}.") from None
