"""Budgets and quotas as a user and an admin notice them: what is refused, what runs, what it
costs, and that nothing stays reserved once a job has ended.

The budgets store is the real DynamoDB adapter on in-process moto (tests/support/budgets.py);
the provider is a fake named "bedrock", whose price is $0.07 an image.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sketchbridge.aws.dynamo_budgets import MAX_TRANSACTION_ATTEMPTS, DynamoBudgetStore
from sketchbridge.domain.budgets import (
    BudgetDefaults,
    BudgetScope,
    Limit,
    Quota,
    period_key,
    resets_at,
    seconds_to_next_minute,
    to_micros,
)
from sketchbridge.domain.errors import (
    BudgetExceededError,
    InternalError,
    InvalidParamsError,
    ProviderUnavailableError,
    QuotaExceededError,
)
from sketchbridge.domain.models import (
    BudgetRequest,
    GenerationParams,
    GenerationRequest,
    JobStatus,
    QuotaRequest,
)
from sketchbridge.services.budgets import budget_request, delete_budget, get_budgets, put_budget
from sketchbridge.services.dead_letters import handle_dead_letter
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.ports import BudgetLine, Dependencies, ReservationRequest
from sketchbridge.services.process_job import process_job
from sketchbridge.services.quotas import delete_quota, get_quota, put_quota
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.sweep import QUEUED_FOR_S, sweep
from tests.support.budgets import (
    FakeAlerts,
    balance,
    budget_store,
    moto_budgets_table,
    with_budgets,
)
from tests.support.fakes import FakeProvider, FakeQueue, fake_dependencies, sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function

QUOTE = 0.07  # the fake "bedrock" provider's price per image
USER = "ada"


@pytest.fixture
def moto() -> Iterator[object]:
    with moto_budgets_table() as dynamodb:
        yield dynamodb


def _deps(
    moto: object, *, defaults: BudgetDefaults | None = None, errors: list[Exception] | None = None
) -> Dependencies:
    deps = fake_dependencies(provider=FakeProvider(name="bedrock", errors=list(errors or [])))
    return with_budgets(deps, budget_store(deps.clock), defaults)


def _request(prompt: str = "a sea turtle", **overrides: object) -> GenerationRequest:
    fields: dict[str, object] = {
        "sketch": sketch_data_url(),
        "prompt": prompt,
        "provider": "bedrock",
        "params": GenerationParams(width=512, height=512, steps=4),
    }
    fields.update(overrides)
    return GenerationRequest.model_validate(fields)


def _user_budget(
    deps: Dependencies, *, soft: float | None = None, hard: float | None = None
) -> None:
    put_budget(deps, f"user:{USER}", BudgetRequest(period="day", soft_usd=soft, hard_usd=hard))


def _run_queue(deps: Dependencies) -> None:
    queue = deps.queue
    assert isinstance(queue, FakeQueue)
    while queue.messages:
        message = queue.messages.pop(0)
        process_job(message.job_id, receive_count=1, deps=deps)


# ---------------------------------------------------------------- hard limits


def test_a_quote_that_does_not_fit_the_hard_limit_is_refused_and_nothing_is_queued(
    moto: object,
) -> None:
    deps = _deps(moto)
    _user_budget(deps, hard=2 * QUOTE)
    admitted = [
        submit_generation(_request(f"turtle {i}"), user_id=USER, deps=deps) for i in range(2)
    ]
    stored_before = set(deps.jobs.records)  # type: ignore[attr-defined]
    objects_before = set(deps.objects.objects)  # type: ignore[attr-defined]

    with pytest.raises(BudgetExceededError) as refused:
        # Another drawing: its sketch would be a new object, were anything stored.
        submit_generation(
            _request("turtle 3", sketch=sketch_data_url("backpack.png")), user_id=USER, deps=deps
        )

    budget = refused.value.budget
    assert budget is not None
    assert budget.scope == f"user:{USER}" and budget.period == "day"
    assert budget.limit_usd == pytest.approx(2 * QUOTE)
    assert budget.reserved_usd == pytest.approx(2 * QUOTE) and budget.spent_usd == 0
    assert budget.quote_usd == pytest.approx(QUOTE)
    assert budget.resets_at == resets_at("day", deps.clock()).isoformat()
    assert [m.job_id for m in deps.queue.messages] == [j.id for j in admitted]  # type: ignore[attr-defined]
    assert set(deps.jobs.records) == stored_before  # type: ignore[attr-defined]
    assert set(deps.objects.objects) == objects_before  # type: ignore[attr-defined]


def test_the_app_wide_default_limits_every_user_together(moto: object) -> None:
    deps = _deps(moto, defaults=BudgetDefaults(app_day=Limit(hard=to_micros(3 * QUOTE))))
    for index, user in enumerate(["ada", "bob", "cy"]):
        submit_generation(_request(f"turtle {index}"), user_id=user, deps=deps)

    with pytest.raises(BudgetExceededError) as refused:
        submit_generation(_request("one more"), user_id="dee", deps=deps)

    assert refused.value.budget is not None and refused.value.budget.scope == "app"


def test_variations_reserve_all_or_nothing(moto: object) -> None:
    deps = _deps(moto)
    _user_budget(deps, hard=3 * QUOTE)

    with pytest.raises(BudgetExceededError):
        submit_generation(_request(variations=4), user_id=USER, deps=deps)
    assert deps.queue.messages == []  # type: ignore[attr-defined]

    group = submit_generation(_request(variations=3), user_id=USER, deps=deps)
    assert len(group.group_job_ids) == 3
    assert balance(deps.budgets, deps.clock(), USER).reserved["day"] == to_micros(3 * QUOTE)  # type: ignore[arg-type]


def test_a_refused_submit_may_use_its_idempotency_key_again(moto: object) -> None:
    deps = _deps(moto)
    _user_budget(deps, hard=QUOTE / 2)
    with pytest.raises(BudgetExceededError):
        submit_generation(_request(), user_id=USER, deps=deps, idempotency_key="k1")

    _user_budget(deps, hard=QUOTE)
    job = submit_generation(_request(), user_id=USER, deps=deps, idempotency_key="k1")
    assert job.status is JobStatus.QUEUED


# ---------------------------------------------------------------- the end of a job


def test_a_finished_job_spends_its_cost_and_holds_nothing(moto: object) -> None:
    deps = _deps(moto)
    job = submit_generation(_request(), user_id=USER, deps=deps)
    assert balance(deps.budgets, deps.clock(), USER).in_flight == 1  # type: ignore[arg-type]
    assert deps.reservations.reserved_usd(USER) == pytest.approx(QUOTE)
    assert deps.reservations.reserved_usd(None) == pytest.approx(QUOTE)

    _run_queue(deps)

    done = deps.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED
    after = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after.spent == {
        "day": to_micros(done.cost_usd or 0),
        "month": to_micros(done.cost_usd or 0),
    }
    assert after.reserved == {"day": 0, "month": 0} and after.in_flight == 0
    app = balance(deps.budgets, deps.clock(), None)  # type: ignore[arg-type]
    assert app.spent["month"] == to_micros(QUOTE) and app.reserved["month"] == 0
    assert deps.reservations.reserved_usd(USER) == 0


def test_a_redelivered_finished_job_is_not_charged_twice(moto: object) -> None:
    deps = _deps(moto)
    job = submit_generation(_request(), user_id=USER, deps=deps)
    _run_queue(deps)

    process_job(job.id, receive_count=2, deps=deps)
    handle_dead_letter(job.id, deps=deps)

    assert balance(deps.budgets, deps.clock(), USER).spent["day"] == to_micros(QUOTE)  # type: ignore[arg-type]


def test_a_failed_job_releases_its_reservation(moto: object) -> None:
    deps = _deps(moto, errors=[ProviderUnavailableError("down", provider="bedrock")])
    job = submit_generation(_request(allow_failover=False), user_id=USER, deps=deps)
    message = deps.queue.messages.pop()  # type: ignore[attr-defined]

    process_job(message.job_id, receive_count=deps.max_receive_count, deps=deps)

    assert deps.jobs.get(job.id).status is JobStatus.FAILED  # type: ignore[union-attr]
    after = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after.spent == {"day": 0, "month": 0} and after.reserved == {"day": 0, "month": 0}
    assert after.in_flight == 0


def test_a_dead_lettered_job_releases_its_reservation(moto: object) -> None:
    deps = _deps(moto)
    job = submit_generation(_request(), user_id=USER, deps=deps)

    handle_dead_letter(job.id, deps=deps)

    after = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after.reserved == {"day": 0, "month": 0} and after.in_flight == 0


def test_a_job_the_sweep_gives_up_on_releases_its_reservation(moto: object) -> None:
    deps = _deps(moto)
    job = submit_generation(_request(), user_id=USER, deps=deps)
    deps.queue.messages.clear()  # type: ignore[attr-defined]  # its message is lost, twice
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]
    assert sweep(deps=deps).resent == [job.id]
    deps.queue.messages.clear()  # type: ignore[attr-defined]
    deps.clock.advance(QUEUED_FOR_S + 1)  # type: ignore[attr-defined]

    assert sweep(deps=deps).failed == [job.id]

    after = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after.reserved == {"day": 0, "month": 0} and after.in_flight == 0


def test_a_cache_hit_reserves_nothing_and_a_follower_holds_nothing(moto: object) -> None:
    deps = _deps(moto)
    seeded = _request(params=GenerationParams(width=512, height=512, steps=4, seed=5))
    submit_generation(seeded, user_id=USER, deps=deps)
    follower = submit_generation(seeded, user_id=USER, deps=deps)
    assert balance(deps.budgets, deps.clock(), USER).reserved["day"] == to_micros(QUOTE)  # type: ignore[arg-type]
    _run_queue(deps)
    assert deps.jobs.get(follower.id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]

    cached = submit_generation(seeded, user_id=USER, deps=deps)

    assert cached.cached
    after = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after.spent["day"] == to_micros(QUOTE)
    assert after.reserved["day"] == 0 and after.in_flight == 0


def test_a_job_settled_after_midnight_spends_on_the_day_it_was_reserved(moto: object) -> None:
    deps = _deps(moto)
    deps.clock.now = datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    submit_generation(_request(), user_id=USER, deps=deps)
    reserved_on = deps.clock()

    deps.clock.advance(60)  # type: ignore[attr-defined]
    _run_queue(deps)

    before_midnight = balance(deps.budgets, reserved_on, USER)  # type: ignore[arg-type]
    assert before_midnight.spent == {"day": to_micros(QUOTE), "month": to_micros(QUOTE)}
    assert before_midnight.reserved == {"day": 0, "month": 0}
    after_midnight = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert after_midnight.spent == {"day": 0, "month": 0}
    assert period_key("month", deps.clock()) == "2026-12"


# ---------------------------------------------------------------- soft limits


def test_crossing_a_soft_limit_runs_the_job_with_a_warning_and_tells_the_admins_once(
    moto: object,
) -> None:
    deps = _deps(moto)
    _user_budget(deps, soft=1.5 * QUOTE, hard=10 * QUOTE)
    quiet = submit_generation(_request("one"), user_id=USER, deps=deps)
    crossing = submit_generation(_request("two"), user_id=USER, deps=deps)
    beyond = submit_generation(_request("three"), user_id=USER, deps=deps)

    assert quiet.warnings == []
    assert [w.code for w in crossing.warnings] == ["budget_soft_limit"]
    assert crossing.warnings[0].scope == f"user:{USER}" and crossing.warnings[0].period == "day"
    assert beyond.warnings and beyond.status is JobStatus.QUEUED
    alerts = deps.alerts
    assert isinstance(alerts, FakeAlerts)
    assert len(alerts.sent) == 1 and USER in alerts.sent[0][1]
    assert deps.metrics.total("BudgetSoftLimitCrossed") == 1  # type: ignore[attr-defined]

    deps.connections.subscribe(  # someone watches the job that crossed
        "conn-1", crossing.id, client_job_id=crossing.id, expires_at=2**31
    )
    _run_queue(deps)
    frames = [json.loads(frame) for frame in deps.pusher.frames["conn-1"]]  # type: ignore[attr-defined]
    assert frames and all(
        frame["warnings"] == [crossing.warnings[0].model_dump(exclude_none=True)]
        for frame in frames
    )
    assert get_generation(crossing.id, user_id=USER, deps=deps).warnings == crossing.warnings


def test_the_apps_spend_is_measured_against_its_limits(moto: object) -> None:
    deps = _deps(
        moto, defaults=BudgetDefaults(app_month=Limit(soft=to_micros(0.5), hard=to_micros(1.0)))
    )
    submit_generation(_request(), user_id=USER, deps=deps)
    _run_queue(deps)

    recorded = list(zip(deps.metrics.recorded, deps.metrics.dimensions, strict=True))  # type: ignore[attr-defined]
    last = {
        (name, dims.get("Period"), dims.get("Limit")): value
        for (name, value, _), dims in recorded
        if name.startswith("Budget")
    }
    assert last[("BudgetSpent", "month", None)] == pytest.approx(QUOTE)
    assert last[("BudgetSpentFraction", "month", "hard")] == pytest.approx(QUOTE / 1.0)
    assert last[("BudgetSpentFraction", "month", "soft")] == pytest.approx(QUOTE / 0.5)
    assert last[("BudgetReservedFraction", "month", "hard")] == 0


def test_the_apps_spend_is_measured_against_an_admins_override_not_only_the_defaults(
    moto: object,
) -> None:
    # The spend alarms fire at a fraction of 1.0 (template.yaml): an override must move it.
    deps = _deps(moto, defaults=BudgetDefaults(app_month=Limit(soft=None, hard=to_micros(1.0))))
    put_budget(deps, "app", BudgetRequest(period="month", soft_usd=None, hard_usd=QUOTE * 4))
    submit_generation(_request(), user_id=USER, deps=deps)
    _run_queue(deps)

    fractions = [
        value
        for (name, value, _), dims in zip(
            deps.metrics.recorded,  # type: ignore[attr-defined]
            deps.metrics.dimensions,  # type: ignore[attr-defined]
            strict=True,
        )
        if name == "BudgetSpentFraction"
        and dims == {"Scope": "app", "Period": "month", "Limit": "hard"}
    ]
    assert fractions[-1] == pytest.approx(0.25)


# ---------------------------------------------------------------- quotas


def test_requests_over_the_per_minute_quota_get_429_with_retry_after(moto: object) -> None:
    deps = _deps(moto, defaults=BudgetDefaults(quota=Quota(requests_per_minute=2)))
    deps.clock.now = datetime(2026, 11, 25, 12, 0, 45, tzinfo=UTC)  # type: ignore[attr-defined]
    for index in range(2):
        submit_generation(_request(f"turtle {index}"), user_id=USER, deps=deps)

    with pytest.raises(QuotaExceededError) as refused:
        submit_generation(_request("turtle 3"), user_id=USER, deps=deps)
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after_s == seconds_to_next_minute(deps.clock()) == 15
    assert len(deps.queue.messages) == 2  # type: ignore[attr-defined]
    submit_generation(_request("someone else"), user_id="bob", deps=deps)

    deps.clock.advance(15)  # type: ignore[attr-defined]
    submit_generation(_request("turtle 3"), user_id=USER, deps=deps)


def test_jobs_in_flight_are_capped_until_one_ends(moto: object) -> None:
    deps = _deps(moto)
    put_quota(deps, USER, QuotaRequest(jobs_in_flight=2))
    submit_generation(_request("one"), user_id=USER, deps=deps)
    submit_generation(_request("two"), user_id=USER, deps=deps)

    with pytest.raises(QuotaExceededError) as refused:
        submit_generation(_request("three"), user_id=USER, deps=deps)
    assert refused.value.retry_after_s > 0
    assert len(deps.queue.messages) == 2  # type: ignore[attr-defined]
    assert get_quota(deps, USER).in_flight == 2

    _run_queue(deps)
    submit_generation(_request("three"), user_id=USER, deps=deps)


# ---------------------------------------------------------------- the admins' services


def test_an_admin_sets_reads_and_removes_a_budget(moto: object) -> None:
    deps = _deps(moto, defaults=BudgetDefaults(app_month=Limit(soft=5_000_000, hard=9_000_000)))

    app = get_budgets(deps, "app")
    month = next(b for b in app.budgets if b.period == "month")
    assert (month.soft_usd, month.hard_usd, month.source) == (5.0, 9.0, "default")
    assert month.resets_at == datetime(2026, 12, 1, tzinfo=UTC).isoformat()

    changed = put_budget(deps, "user:bob", BudgetRequest(period="day", soft_usd=1, hard_usd=2))
    day = next(b for b in changed.budgets if b.period == "day")
    assert (day.soft_usd, day.hard_usd, day.source) == (1.0, 2.0, "admin")

    delete_budget(deps, "user:bob", "day")
    day = next(b for b in get_budgets(deps, "user:bob").budgets if b.period == "day")
    assert (day.soft_usd, day.hard_usd, day.source) == (None, None, "default")


@pytest.mark.parametrize(
    ("scope", "body"),
    [
        ("everyone", {"period": "day", "hard_usd": 1}),
        ("user:", {"period": "day", "hard_usd": 1}),
        ("app", {"period": "day", "hard_usd": -1}),
        ("app", {"period": "day", "soft_usd": 3, "hard_usd": 2}),
        ("app", {"period": "day", "hard_usd": "a lot"}),
        ("app", {"period": "week", "hard_usd": 1}),
        ("app", {"period": "day"}),
    ],
)
def test_an_invalid_budget_is_refused_as_invalid_params(
    moto: object, scope: str, body: dict[str, object]
) -> None:
    deps = _deps(moto)
    with pytest.raises(InvalidParamsError):
        put_budget(deps, scope, budget_request(body))
    assert all(b.source == "default" for b in get_budgets(deps, "app").budgets)


def test_an_admin_overrides_a_users_quota_and_removes_it(moto: object) -> None:
    deps = _deps(
        moto, defaults=BudgetDefaults(quota=Quota(requests_per_minute=30, jobs_in_flight=5))
    )
    changed = put_quota(deps, "bob", QuotaRequest(jobs_in_flight=1))
    assert (changed.requests_per_minute, changed.jobs_in_flight, changed.source) == (30, 1, "admin")

    delete_quota(deps, "bob")
    assert get_quota(deps, "bob").jobs_in_flight == 5
    with pytest.raises(InvalidParamsError):
        put_quota(deps, "bob", QuotaRequest(jobs_in_flight=0))


def test_periods_reset_at_the_next_utc_midnight_and_month() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert resets_at("day", late) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", late) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_key("day", late + timedelta(hours=1)) == "2027-01-01"
    assert resets_at("month", datetime(2026, 2, 10, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


# ---------------------------------------------------------------- over HTTP


def _submit_over_http(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch, prompt: str
) -> dict[str, Any]:
    module = load_function("submit")
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    body = _request(prompt).model_dump(mode="json")
    response: dict[str, Any] = module.lambda_handler(
        http_event("POST", "/generations", body=body, user=USER), FakeLambdaContext()
    )
    return response


def test_the_402_names_the_limit_spent_reserved_and_reset(
    moto: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = _deps(moto)
    _user_budget(deps, hard=QUOTE)
    assert _submit_over_http(deps, monkeypatch, "one")["statusCode"] == 202

    response = _submit_over_http(deps, monkeypatch, "two")

    assert response["statusCode"] == 402
    error = json.loads(response["body"])["error"]
    assert error["code"] == "budget_exceeded"
    assert error["budget"] == {
        "scope": f"user:{USER}",
        "period": "day",
        "limit_usd": QUOTE,
        "spent_usd": 0.0,
        "reserved_usd": QUOTE,
        "quote_usd": QUOTE,
        "resets_at": "2026-11-26T00:00:00+00:00",
    }


def test_the_429_carries_retry_after(moto: object, monkeypatch: pytest.MonkeyPatch) -> None:
    deps = _deps(moto, defaults=BudgetDefaults(quota=Quota(requests_per_minute=1)))
    assert _submit_over_http(deps, monkeypatch, "one")["statusCode"] == 202

    response = _submit_over_http(deps, monkeypatch, "two")

    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "rate_limited"
    assert response["headers"]["Retry-After"] == "60"


# ---------------------------------------------------------------- contention


class _ConflictingClient:
    """DynamoDB answering the first ``conflicts`` transactions with TransactionConflict."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.attempts = 0

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.attempts += 1
        if self.attempts <= self.conflicts:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return {}


def _reservation(user_id: str = USER) -> ReservationRequest:
    return ReservationRequest(
        user_id=user_id,
        quotes={"job-1": to_micros(QUOTE)},
        lines=(BudgetLine(BudgetScope(user_id), "day", "2026-11-25", hard=to_micros(1.0)),),
        jobs_in_flight_limit=None,
        expires_at=0,
    )


def test_a_reservation_that_meets_a_concurrent_one_is_tried_again() -> None:
    client = _ConflictingClient(conflicts=3)

    assert DynamoBudgetStore(client, "budgets").reserve(_reservation()) is None
    assert client.attempts == 4


def test_endless_contention_is_an_internal_error_not_an_admission() -> None:
    client = _ConflictingClient(conflicts=10**6)

    with pytest.raises(InternalError):
        DynamoBudgetStore(client, "budgets").reserve(_reservation())
    assert client.attempts == MAX_TRANSACTION_ATTEMPTS
