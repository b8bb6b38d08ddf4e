"""Budget enforcement under any interleaving of submits and completions.

The real reservation code (services/reservations.py over aws/dynamo_budgets.py) against
in-process moto, whose conditional transactions are as atomic as DynamoDB's
(local/moto_server.py). Each thread is an instance with its own client. Whatever the order:

- admitted quotes never take a budget past its hard limit (spent + reserved <= hard);
- once every job has ended, nothing is reserved, no job slot is held, and what was spent
  is exactly what the succeeded jobs cost;
- one at a time, a quote is admitted exactly when it fits (the store is no stricter than
  the rule either).
"""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchbridge.domain.budgets import (
    APP_SCOPE,
    PERIODS,
    BudgetDefaults,
    BudgetScope,
    Limit,
    period_key,
    to_usd,
)
from sketchbridge.domain.errors import BudgetExceededError
from sketchbridge.domain.models import JobRecord, JobStatus, ResolvedParams
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.reservations import reserve_quotes, settle_job
from tests.support.budgets import balance, budget_store, moto_budgets_table, with_budgets
from tests.support.fakes import fake_dependencies

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
USERS = ("ada", "bob", "cy")
QUOTES = (10_000, 25_000, 70_000, 190_000)  # micro-dollars, the shape of real quotes


@dataclass(frozen=True)
class Job:
    user: str
    quote: int
    # None: the job fails or is canceled (nothing spent); else the share of its quote it cost.
    cost_share: float | None


jobs_strategy = st.lists(
    st.builds(
        Job,
        user=st.sampled_from(USERS),
        quote=st.sampled_from(QUOTES),
        cost_share=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0])),
    ),
    min_size=1,
    max_size=24,
)


def _record(job_id: str, job: Job, status: JobStatus) -> JobRecord:
    stamp = NOW.isoformat()
    cost = None if job.cost_share is None else to_usd(round(job.quote * job.cost_share))
    return JobRecord(
        id=job_id,
        user_id=job.user,
        status=status,
        prompt="p",
        provider_requested="bedrock",
        params=ResolvedParams(
            seed=1, steps=1, strength=0.5, guidance_scale=7.0, width=64, height=64
        ),
        sketch_key="sketches/x.png",
        fingerprint=job_id,
        created_at=stamp,
        updated_at=stamp,
        expires_at=0,
        cost_usd=cost if status is JobStatus.SUCCEEDED else None,
    )


def _deps(user_day_hard: int, app_day_hard: int) -> Dependencies:
    deps = fake_dependencies()
    deps.clock = lambda: NOW
    store = budget_store(deps.clock)
    for user in USERS:
        store.put_limit(BudgetScope(user), "day", Limit(hard=user_day_hard, source="admin"))
    return with_budgets(deps, store, BudgetDefaults(app_day=Limit(hard=app_day_hard)))


def _committed(deps: Dependencies, scope: BudgetScope) -> int:
    assert deps.budgets is not None
    counter = deps.budgets.counters([(scope, "day", period_key("day", NOW))])[(scope, "day")]
    return counter.committed


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    jobs=jobs_strategy,
    user_limit_quotes=st.integers(min_value=0, max_value=6),
    app_limit_quotes=st.integers(min_value=1, max_value=12),
    workers=st.integers(min_value=2, max_value=8),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_concurrent_submits_and_completions_never_pass_a_hard_limit_and_leave_nothing_reserved(
    jobs: list[Job], user_limit_quotes: int, app_limit_quotes: int, workers: int, seed: int
) -> None:
    user_hard = user_limit_quotes * 70_000
    app_hard = app_limit_quotes * 70_000
    with moto_budgets_table():
        deps = _deps(user_hard, app_hard)
        rng = random.Random(seed)
        pauses = [rng.uniform(0, 0.003) for _ in jobs]
        seen: list[tuple[BudgetScope, int]] = []
        succeeded: list[Job] = []
        lock = threading.Lock()

        def lifetime(index: int) -> None:
            """One job from submit to its end, in its own instance's thread."""
            job = jobs[index]
            job_id = uuid.uuid4().hex
            instance = Dependencies(**{**deps.__dict__, "budgets": budget_store(deps.clock)})
            try:
                reserve_quotes(instance, user_id=job.user, quotes={job_id: to_usd(job.quote)})
            except BudgetExceededError:
                return
            # Right after an admission, while other jobs reserve and end around it.
            with lock:
                seen.append((BudgetScope(job.user), _committed(instance, BudgetScope(job.user))))
                seen.append((APP_SCOPE, _committed(instance, APP_SCOPE)))
            threading.Event().wait(pauses[index])
            status = JobStatus.FAILED if job.cost_share is None else JobStatus.SUCCEEDED
            settle_job(instance, _record(job_id, job, status))
            if status is JobStatus.SUCCEEDED:
                with lock:
                    succeeded.append(job)
                # A redelivery of the finished job settles it again: nothing changes.
                settle_job(instance, _record(job_id, job, status))

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lifetime, range(len(jobs))))

        assert deps.budgets is not None
        for scope, committed in seen:
            assert committed <= (app_hard if scope == APP_SCOPE else user_hard)
        spent_by_user = {user: 0 for user in USERS}
        for job in succeeded:
            spent_by_user[job.user] += round(job.quote * (job.cost_share or 0))
        for user in USERS:
            after = balance(deps.budgets, NOW, user)  # type: ignore[arg-type]
            assert after.reserved == {period: 0 for period in PERIODS}
            assert after.in_flight == 0
            assert after.spent["day"] == spent_by_user[user] <= user_hard
        app = balance(deps.budgets, NOW, None)  # type: ignore[arg-type]
        assert app.reserved == {period: 0 for period in PERIODS}
        assert app.spent["day"] == sum(spent_by_user.values()) <= app_hard


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["submit", "end"]), st.sampled_from(QUOTES), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    limit_quotes=st.integers(min_value=0, max_value=5),
)
def test_one_at_a_time_a_quote_is_admitted_exactly_when_it_fits(
    steps: list[tuple[str, int, bool]], limit_quotes: int
) -> None:
    hard = limit_quotes * 70_000
    with moto_budgets_table():
        deps = _deps(hard, 10**12)
        committed = 0
        running: list[tuple[str, Job]] = []
        for action, quote, succeeds in steps:
            if action == "end" and running:
                job_id, job = running.pop(0)
                status = JobStatus.SUCCEEDED if succeeds else JobStatus.FAILED
                settle_job(deps, _record(job_id, job, status))
                committed -= job.quote if not succeeds else 0
                continue
            job = Job(user="ada", quote=quote, cost_share=1.0)
            job_id = uuid.uuid4().hex
            fits = committed + quote <= hard
            try:
                reserve_quotes(deps, user_id="ada", quotes={job_id: to_usd(quote)})
            except BudgetExceededError:
                assert not fits
                continue
            assert fits
            committed += quote
            running.append((job_id, job))
        assert _committed(deps, BudgetScope("ada")) == committed
