"""GET /usage and the admins' usage report, as a user and an admin would read them."""

from __future__ import annotations

import json
from datetime import date
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.ledger import LedgerRecord, cache_hit_entry, usd_to_micros
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.usage import MAX_USAGE_DAYS, caller_usage, usage_report
from tests.support.fakes import FakeReservations, fake_dependencies
from tests.support.handlers import FakeLambdaContext, http_event, load_function


def _call(
    deps: Dependencies, user: str, at: str, provider: str, usd: float, *, ok: bool = True
) -> LedgerRecord:
    """One billed call, recorded as the processor records it."""
    entry = LedgerRecord(
        entry_id=f"call#{provider}#{user}-{at}-{usd}",
        kind="call",
        user_id=user,
        job_id=f"job-{user}-{at}-{usd}",
        fingerprint="f" * 64,
        provider=provider,
        model="m",
        outcome="ok" if ok else "timeout",
        images=1 if ok else 0,
        quoted_micros=None,
        actual_micros=usd_to_micros(usd),
        saved_micros=0,
        basis="replicate_predict_time",
        price_version="test",
        detail="test",
        at=at,
    )
    assert deps.ledger.record(entry)
    return entry


def _hit(deps: Dependencies, user: str, at: str, provider: str, saved: float) -> None:
    entry = cache_hit_entry(
        user_id=user,
        job_id=f"hit-{user}-{at}",
        fingerprint="f" * 64,
        provider=provider,
        model="m",
        saved_usd=saved,
        at=at,
    )
    assert deps.ledger.record(entry)


@pytest.fixture
def deps() -> Dependencies:
    deps = fake_dependencies()  # its clock reads 2026-11-25T12:00Z
    _call(deps, "ada", "2026-11-02T09:00:00+00:00", "replicate", 0.1)
    _call(deps, "ada", "2026-11-02T10:00:00+00:00", "openai", 0.2)
    _call(deps, "ada", "2026-11-20T10:00:00+00:00", "replicate", 0.0063, ok=False)
    _hit(deps, "ada", "2026-11-21T08:00:00+00:00", "replicate", 0.1)
    _call(deps, "ada", "2026-10-31T23:59:59+00:00", "bedrock", 0.07)
    _call(deps, "bob", "2026-11-02T11:00:00+00:00", "replicate", 5.0)
    return deps


def test_a_months_usage_adds_up_exactly_and_groups_by_provider(deps: Dependencies) -> None:
    report = usage_report(
        deps, user_id="ada", start=date(2026, 11, 1), end=date(2026, 11, 30), group_by="provider"
    )

    # 0.1 + 0.2 + 0.0063, to the micro-dollar (floats would give 0.30630000000000002).
    assert report.total_cost_usd == 0.3063
    assert (report.images, report.cache_hits, report.saved_usd) == (3, 1, 0.1)
    assert [(g.key, g.cost_usd, g.images, g.cache_hits) for g in report.groups] == [
        ("openai", 0.2, 1, 0),
        ("replicate", 0.1063, 2, 1),
    ]
    assert report.reserved_usd == 0.0


def test_days_and_months_are_utc_days(deps: Dependencies) -> None:
    by_day = usage_report(
        deps, user_id="ada", start=date(2026, 10, 1), end=date(2026, 11, 30), group_by="day"
    )
    assert [g.key for g in by_day.groups] == [
        "2026-10-31",
        "2026-11-02",
        "2026-11-20",
        "2026-11-21",
    ]
    by_month = usage_report(
        deps, user_id="ada", start=date(2026, 10, 1), end=date(2026, 11, 30), group_by="month"
    )
    assert [(g.key, g.cost_usd) for g in by_month.groups] == [
        ("2026-10", 0.07),
        ("2026-11", 0.3063),
    ]


def test_the_range_includes_both_ends_and_nothing_outside(deps: Dependencies) -> None:
    one_day = usage_report(
        deps, user_id="ada", start=date(2026, 11, 2), end=date(2026, 11, 2), group_by="day"
    )
    assert one_day.total_cost_usd == 0.3 and one_day.images == 2


def test_everyones_usage_groups_by_user_for_the_admins(deps: Dependencies) -> None:
    report = usage_report(
        deps, user_id=None, start=date(2026, 11, 1), end=date(2026, 11, 30), group_by="user"
    )
    assert [(g.key, g.cost_usd) for g in report.groups] == [("ada", 0.3063), ("bob", 5.0)]
    assert report.total_cost_usd == 5.3063


def test_reserved_is_what_running_jobs_hold_now(deps: Dependencies) -> None:
    deps.reservations = FakeReservations({"ada": 0.05, None: 0.5})
    mine = usage_report(
        deps, user_id="ada", start=date(2026, 11, 1), end=date(2026, 11, 30), group_by="day"
    )
    everyone = usage_report(
        deps, user_id=None, start=date(2026, 11, 1), end=date(2026, 11, 30), group_by="day"
    )
    assert (mine.reserved_usd, everyone.reserved_usd) == (0.05, 0.5)


def test_by_default_the_caller_sees_this_month_by_day(deps: Dependencies) -> None:
    report = caller_usage(deps, user_id="ada", query=None)
    assert (report.from_, report.to, report.group_by) == (
        date(2026, 11, 1),
        date(2026, 11, 25),
        "day",
    )
    assert report.total_cost_usd == 0.3063


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-11-30", "to": "2026-11-01"},  # backwards
        {"from": "2025-01-01", "to": "2026-11-01"},  # too long
        {"from": "2026-13-01"},
        {"from": "2026-02-30"},
        {"to": "yesterday"},
        {"to": "20261101"},
        {"from": "2026-11-01,2026-11-02"},  # a repeated parameter, as API Gateway joins it
        {"group_by": "user"},  # one user's usage is not split by user
        {"group_by": "week"},
        {"fro": "2026-11-01"},
    ],
)
def test_a_bad_query_is_refused_and_says_why(deps: Dependencies, query: dict[str, str]) -> None:
    with pytest.raises(InvalidParamsError) as refused:
        caller_usage(deps, user_id="ada", query=query)
    assert refused.value.message


def test_a_year_and_a_day_is_the_longest_report(deps: Dependencies) -> None:
    longest = usage_report(
        deps,
        user_id="ada",
        start=date(2026, 1, 1),
        end=date(2026, 1, 1).replace(year=2027),
        group_by="month",
    )
    assert (longest.to - longest.from_).days + 1 == MAX_USAGE_DAYS


# ---------------------------------------------------------------- at the Lambda edge


@pytest.fixture
def query_function(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("query")
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    return module


def _get(module: ModuleType, **event: Any) -> tuple[int, dict[str, Any]]:
    response = module.lambda_handler(http_event("GET", "/usage", **event), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_get_usage_answers_the_callers_own_usage(query_function: ModuleType) -> None:
    status, body = _get(
        query_function,
        user="ada",
        query={"from": "2026-11-01", "to": "2026-11-30", "group_by": "provider"},
    )

    assert status == 200
    assert (body["from"], body["to"], body["group_by"]) == ("2026-11-01", "2026-11-30", "provider")
    assert body["total_cost_usd"] == 0.3063
    assert set(body) == {
        "from",
        "to",
        "group_by",
        "total_cost_usd",
        "images",
        "cache_hits",
        "saved_usd",
        "reserved_usd",
        "groups",
    }
    assert set(body["groups"][0]) == {"key", "cost_usd", "images", "cache_hits", "saved_usd"}


def test_another_users_usage_is_never_visible(query_function: ModuleType) -> None:
    # Bob spent $5 the same day; Carol spent nothing. Neither sees anyone else's spend,
    # whatever they ask for.
    _, bob = _get(query_function, user="bob", query={"from": "2026-11-01", "to": "2026-11-30"})
    _, carol = _get(query_function, user="carol", query={"group_by": "provider"})
    status, everyone = _get(query_function, user="carol", query={"group_by": "user"})

    assert bob["total_cost_usd"] == 5.0 and [g["key"] for g in bob["groups"]] == ["2026-11-02"]
    assert carol["total_cost_usd"] == 0.0 and carol["groups"] == []
    assert status == 400 and everyone["error"]["code"] == "invalid_params"


@pytest.mark.parametrize(
    "query",
    [
        {"from": "not-a-day"},
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "1900-01-01", "to": "9999-12-31"},
        {"to": "9999-99-99"},
        {"group_by": "'; DROP TABLE"},
    ],
)
def test_get_usage_with_bad_parameters_answers_400(
    query_function: ModuleType, query: dict[str, str]
) -> None:
    status, body = _get(query_function, user="ada", query=query)
    assert status == 400 and body["error"]["code"] == "invalid_params"


def test_get_usage_needs_a_verified_caller(query_function: ModuleType) -> None:
    status, body = _get(query_function, user=None)
    assert status == 401 and body["error"]["code"] == "unauthorized"
