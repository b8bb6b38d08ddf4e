"""Cancel a generation: queued, running, finished, followed; what the user and the ledger see."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from PIL import Image

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import JobCanceledError, JobFinishedError, NotFoundError
from sketchbridge.domain.models import ErrorInfo, GenerationParams, GenerationRequest, JobStatus
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local import LOCAL_CAPABILITIES
from sketchbridge.services import subscriptions
from sketchbridge.services.cancel_job import CancelWatch, cancel_generation
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import Outcome, process_job
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.sweep import sweep
from tests.support.budgets import balance, budget_store, moto_budgets_table, with_budgets
from tests.support.fakes import (
    FakeJobStore,
    FakeProvider,
    FakeTokenVerifier,
    fake_dependencies,
    sketch_data_url,
)

USER = "ada"


@dataclass
class SlowProvider:
    """Draws in ``steps`` steps like a Replicate model billed by the second, and stops like a
    real adapter: between two steps, once ``should_stop`` says so, billing the seconds run.

    ``during_step(n)`` runs after step ``n`` is reported: where a test's user cancels.
    """

    name: str = "replicate"
    model: str = "slow-model-1"
    description: str = "A provider that takes its time."
    is_ai: bool = True
    capabilities: ProviderCapabilities = LOCAL_CAPABILITIES
    seconds_per_step: float = 0.5
    honours_stop: bool = True
    during_step: Callable[[int], None] = lambda _step: None
    calls: int = 0
    steps_run: list[int] = field(default_factory=list)

    def _usage(self, steps: int) -> ProviderUsage:
        return ProviderUsage(
            provider=self.name,
            model=self.model,
            images=0,
            predict_time_s=steps * self.seconds_per_step,
            external_id=f"{self.name}-{self.calls}",
        )

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self.calls += 1
        for step in range(1, request.steps + 1):
            self.steps_run.append(step)
            on_progress(ProgressUpdate(step=step, total_steps=request.steps))
            self.during_step(step)
            if self.honours_stop and request.should_stop is not None and request.should_stop():
                raise JobCanceledError("stopped", usage=self._usage(step))
        buffer = io.BytesIO()
        Image.new("RGB", (request.width, request.height), (10, 20, 30)).save(buffer, "PNG")
        return ProviderResult(
            image_png=buffer.getvalue(),
            width=request.width,
            height=request.height,
            model=self.model,
            seed=request.seed,
            usage=ProviderUsage(
                provider=self.name,
                model=self.model,
                images=1,
                predict_time_s=request.steps * self.seconds_per_step,
                external_id=f"{self.name}-{self.calls}",
            ),
        )


def _submit(
    deps: Dependencies, *, provider: str = "replicate", user: str = USER, **extra: object
) -> str:
    request = GenerationRequest(
        sketch=sketch_data_url(),
        prompt="a lighthouse at dusk",
        provider=provider,
        params=GenerationParams(seed=3, steps=8, width=256, height=256),
        allow_failover=False,
        **extra,  # type: ignore[arg-type]
    )
    return submit_generation(request, user_id=user, deps=deps).id


def _watch(deps: Dependencies, job_id: str, connection: str, user: str = USER) -> None:
    subscriptions.connect(connection, f"valid:{user}", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        connection, subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )


def _frames(deps: Dependencies, connection: str) -> list[dict[str, object]]:
    return [json.loads(frame) for frame in deps.pusher.frames.get(connection, [])]  # type: ignore[attr-defined]


def _job(deps: Dependencies, job_id: str):  # type: ignore[no-untyped-def]
    record = deps.jobs.get(job_id)
    assert record is not None
    return record


@pytest.fixture
def moto() -> Iterator[object]:
    with moto_budgets_table() as dynamodb:
        yield dynamodb


def _deps(moto: object, provider: SlowProvider) -> Dependencies:
    deps = fake_dependencies()
    deps.providers = type(deps.providers)(
        {"local": deps.providers.resolve("local"), provider.name: provider}, default="local"
    )
    # Billed by the second, as a Replicate community model is: a stop mid-run costs something.
    deps.provider_config.put(
        provider.name, {"price": {"kind": "per_second", "usd_per_s": 0.0015, "typical_s": 4}}
    )
    return with_budgets(deps, budget_store(deps.clock))


# --------------------------------------------------------------------------- queued


def test_a_queued_job_never_reaches_its_provider_and_gives_back_its_reservation(
    moto: object,
) -> None:
    provider = SlowProvider()
    deps = _deps(moto, provider)
    job_id = _submit(deps)
    _watch(deps, job_id, "conn-1")
    assert balance(deps.budgets, deps.clock(), USER).in_flight == 1  # type: ignore[arg-type]

    answer = cancel_generation(job_id, user_id=USER, deps=deps)

    assert answer.status is JobStatus.CANCELED
    assert answer.error is not None and answer.error.code == "canceled"
    held = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert held.in_flight == 0 and held.reserved == {"day": 0, "month": 0}
    assert held.spent == {"day": 0, "month": 0}
    last = _frames(deps, "conn-1")[-1]
    assert last["type"] == "canceled" and last["status"] == "canceled"
    # Its message arrives later and is consumed without a call.
    assert process_job(job_id, receive_count=1, deps=deps).outcome is Outcome.ALREADY_DONE
    assert provider.calls == 0
    assert _job(deps, job_id).status is JobStatus.CANCELED


def test_cancel_again_answers_the_same_canceled_job() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, provider="local")
    first = cancel_generation(job_id, user_id=USER, deps=deps)
    _watch(deps, job_id, "conn-1")

    again = cancel_generation(job_id, user_id=USER, deps=deps)

    assert again == first
    # The late subscriber is told the end, as a canceled frame; the second cancel sends none.
    assert [frame["type"] for frame in _frames(deps, "conn-1")] == ["canceled"]


def test_a_finished_job_cannot_be_canceled_and_says_how_it_ended() -> None:
    deps = fake_dependencies(provider=FakeProvider(errors=[]))
    done = _submit(deps, provider="local")
    process_job(done, receive_count=1, deps=deps)

    with pytest.raises(JobFinishedError) as caught:
        cancel_generation(done, user_id=USER, deps=deps)

    assert caught.value.code == "job_finished" and caught.value.status == "succeeded"
    assert _job(deps, done).status is JobStatus.SUCCEEDED


def test_a_failed_job_answers_job_finished_with_failed() -> None:
    from sketchbridge.domain.errors import ContentPolicyError

    deps = fake_dependencies(
        provider=FakeProvider(errors=[ContentPolicyError("no", provider="fake")])
    )
    failed = _submit(deps, provider="fake")
    process_job(failed, receive_count=1, deps=deps)

    with pytest.raises(JobFinishedError) as caught:
        cancel_generation(failed, user_id=USER, deps=deps)

    assert caught.value.status == "failed"


def test_nobody_cancels_another_users_job_or_one_that_does_not_exist() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, provider="local")

    with pytest.raises(NotFoundError):
        cancel_generation(job_id, user_id="mallory", deps=deps)
    with pytest.raises(NotFoundError):
        cancel_generation("no-such-job", user_id=USER, deps=deps)

    assert _job(deps, job_id).status is JobStatus.QUEUED


# --------------------------------------------------------------------------- running


def test_a_running_job_stops_between_steps_ends_canceled_and_its_bill_is_recorded(
    moto: object,
) -> None:
    provider = SlowProvider()
    deps = _deps(moto, provider)
    job_id = _submit(deps)
    _watch(deps, job_id, "conn-1")
    provider.during_step = lambda step: (
        cancel_generation(job_id, user_id=USER, deps=deps) if step == 3 else None
    )

    result = process_job(job_id, receive_count=1, deps=deps)

    assert result.outcome is Outcome.CANCELED
    record = _job(deps, job_id)
    assert record.status is JobStatus.CANCELED and record.result_key is None
    # Its next progress write failed (the job no longer ran): stopped after step 4 of 8.
    assert provider.steps_run == [1, 2, 3, 4]
    entries = deps.ledger.job_entries(job_id)
    assert [entry.outcome for entry in entries] == ["canceled"]
    assert entries[0].actual_micros > 0
    assert record.cost_usd == pytest.approx(entries[0].actual_micros / 1_000_000)
    # The reservation became exactly what was billed; the slot is free.
    held = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert held.spent["day"] == entries[0].actual_micros and held.reserved["day"] == 0
    assert held.in_flight == 0
    frames = _frames(deps, "conn-1")
    assert frames[-1]["type"] == "canceled"
    assert all(frame["seq"] < frames[-1]["seq"] for frame in frames[:-1])  # type: ignore[operator]


def test_a_cancel_is_not_a_provider_failure_no_failover_no_retry_no_breaker() -> None:
    provider = SlowProvider()
    deps = fake_dependencies()
    spare = FakeProvider(name="openai")
    deps.providers = type(deps.providers)(
        {"local": deps.providers.resolve("local"), "replicate": provider, "openai": spare},
        default="local",
    )
    job_id = _submit(deps)
    # The plan would fail over to openai after replicate, were this a failure.
    record = _job(deps, job_id)
    deps.jobs.records[job_id] = record.model_copy(update={"plan": ["replicate", "openai"]})  # type: ignore[attr-defined]
    provider.during_step = lambda step: (
        cancel_generation(job_id, user_id=USER, deps=deps) if step == 1 else None
    )

    result = process_job(job_id, receive_count=1, deps=deps)

    assert result.outcome is Outcome.CANCELED
    assert spare.calls == 0
    breaker = deps.breakers.load("replicate")  # type: ignore[attr-defined]
    assert breaker.consecutive_failures == 0 and breaker.window_failures == 0
    assert deps.metrics.total(metrics.PROVIDER_FAILED.name) == 0  # type: ignore[attr-defined]
    assert deps.metrics.total(metrics.PROVIDER_FAILED_OVER.name) == 0  # type: ignore[attr-defined]
    assert len(deps.queue.messages) == 1  # type: ignore[attr-defined]  # submit's, none again


def test_a_picture_that_arrives_after_the_cancel_is_not_written_over_it(moto: object) -> None:
    # An adapter that cannot stop (a single blocking call): it draws to the end.
    provider = SlowProvider(honours_stop=False)
    deps = _deps(moto, provider)
    job_id = _submit(deps)
    provider.during_step = lambda step: (
        cancel_generation(job_id, user_id=USER, deps=deps) if step == 2 else None
    )

    result = process_job(job_id, receive_count=1, deps=deps)

    assert result.outcome is Outcome.CANCELED
    record = _job(deps, job_id)
    assert record.status is JobStatus.CANCELED and record.result_key is None
    # The provider billed the whole picture: the ledger, the job and the budget say so.
    (entry,) = deps.ledger.job_entries(job_id)
    assert record.cost_usd == pytest.approx(entry.actual_micros / 1_000_000)
    held = balance(deps.budgets, deps.clock(), USER)  # type: ignore[arg-type]
    assert held.spent["day"] == entry.actual_micros and held.in_flight == 0
    assert deps.cache.get(record.fingerprint) is None


def test_the_local_renderer_stops_between_steps() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, provider="local")

    class CancelsAtHalf(FakeJobStore):
        def record_progress(self, job_id: str, progress: float, *, updated_at: str) -> int | None:
            if progress >= 0.5 and self.records[job_id].status is JobStatus.RUNNING:
                cancel_generation(job_id, user_id=USER, deps=deps)
            return super().record_progress(job_id, progress, updated_at=updated_at)

    store = CancelsAtHalf()
    store.records = deps.jobs.records  # type: ignore[attr-defined]
    deps.jobs = store

    result = process_job(job_id, receive_count=1, deps=deps)

    assert result.outcome is Outcome.CANCELED
    record = _job(deps, job_id)
    assert record.status is JobStatus.CANCELED and record.progress < 1.0
    assert record.cost_usd == 0.0


# --------------------------------------------------------------------------- followers


def test_canceling_a_follower_leaves_the_job_it_follows_running_for_the_others() -> None:
    provider = SlowProvider()
    deps = fake_dependencies()
    deps.providers = type(deps.providers)(
        {"local": deps.providers.resolve("local"), "replicate": provider}, default="local"
    )
    leader = _submit(deps)
    follower = _submit(deps, user="grace")
    assert _job(deps, follower).leader_job_id == leader
    _watch(deps, leader, "ada-conn")
    _watch(deps, follower, "grace-conn", user="grace")

    cancel_generation(follower, user_id="grace", deps=deps)
    result = process_job(leader, receive_count=1, deps=deps)

    assert result.outcome is Outcome.SUCCEEDED
    assert _job(deps, follower).status is JobStatus.CANCELED  # not overwritten by the result
    assert "canceled" not in [frame["type"] for frame in _frames(deps, "ada-conn")]
    grace = _frames(deps, "grace-conn")
    canceled = next(frame for frame in grace if frame["type"] == "canceled")
    assert canceled["job_id"] == follower


def test_a_canceled_leaders_followers_run_on_without_it() -> None:
    provider = SlowProvider()
    deps = fake_dependencies()
    deps.providers = type(deps.providers)(
        {"local": deps.providers.resolve("local"), "replicate": provider}, default="local"
    )
    leader = _submit(deps)
    first = _submit(deps, user="grace")
    second = _submit(deps, user="linus")
    _watch(deps, first, "grace-conn", user="grace")
    _watch(deps, second, "linus-conn", user="linus")
    seen_before = _frames(deps, "grace-conn")[-1]["seq"]

    cancel_generation(leader, user_id=USER, deps=deps)

    # One follower runs itself (a message of its own); the other follows it now.
    runners = [job for job in (first, second) if _job(deps, job).leader_job_id is None]
    assert len(runners) == 1
    (runner,) = runners
    (other,) = {first, second} - {runner}
    assert _job(deps, other).leader_job_id == runner
    assert [m.job_id for m in deps.queue.messages][-1] == runner  # type: ignore[attr-defined]
    handed = _frames(deps, "grace-conn")[-1]
    assert handed["type"] == "status" and handed["seq"] > seen_before  # type: ignore[operator]
    assert "canceled" not in [f["type"] for f in _frames(deps, "grace-conn")]

    assert process_job(runner, receive_count=1, deps=deps).outcome is Outcome.SUCCEEDED
    assert provider.calls == 1
    assert _job(deps, first).status is JobStatus.SUCCEEDED
    assert _job(deps, second).status is JobStatus.SUCCEEDED
    assert _job(deps, leader).status is JobStatus.CANCELED
    for connection, job_id in (("grace-conn", first), ("linus-conn", second)):
        last = _frames(deps, connection)[-1]
        assert last["type"] == "result" and last["job_id"] == job_id


def test_the_sweep_hands_the_work_to_a_follower_whose_leader_was_canceled() -> None:
    deps = fake_dependencies()
    leader = _submit(deps, provider="local")
    follower = _submit(deps, provider="local", user="grace")
    # A cancel that died after its write, before handing the work over.
    deps.jobs.cancel(
        leader,
        ErrorInfo(code="canceled", message="x"),
        expected=JobStatus.QUEUED,
        updated_at=deps.clock().isoformat(),
    )
    deps.clock.advance(3600)  # type: ignore[attr-defined]

    report = sweep(deps=deps)

    assert follower in report.settled
    assert _job(deps, follower).leader_job_id is None
    assert process_job(follower, receive_count=1, deps=deps).outcome is Outcome.SUCCEEDED


# --------------------------------------------------------------------------- the watch


class CountingJobs(FakeJobStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, job_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get(job_id)


def test_the_watch_reads_the_job_at_most_once_per_interval_when_nothing_confirms_it() -> None:
    jobs = CountingJobs()
    now = [0.0]
    watch = CancelWatch("job-1", jobs, interval_s=2.0, monotonic=lambda: now[0])

    for tick in range(100):  # a provider polled every 0.1 s for 10 s
        now[0] = tick * 0.1
        assert watch.should_stop() is False

    assert 4 <= jobs.reads <= 5  # 10 s / 2 s


def test_the_watch_reads_nothing_while_progress_writes_confirm_the_job_runs() -> None:
    jobs = CountingJobs()
    now = [0.0]
    watch = CancelWatch("job-1", jobs, interval_s=2.0, monotonic=lambda: now[0])

    for tick in range(100):
        now[0] = tick * 0.1
        watch.confirmed()
        watch.should_stop()

    assert jobs.reads == 0


def test_a_provider_that_keeps_reporting_after_the_cancel_costs_one_read_not_one_per_report() -> (
    None
):
    jobs = CountingJobs()
    now = [0.0]
    watch = CancelWatch("job-1", jobs, interval_s=2.0, monotonic=lambda: now[0])

    for _ in range(20):  # every progress write fails: the job no longer runs here
        watch.stopped()

    assert jobs.reads == 1


def test_a_submit_that_joins_a_job_canceled_meanwhile_runs_on_its_own() -> None:
    deps = fake_dependencies()
    leader = _submit(deps, provider="local")
    # Canceled between the new submit's joining its flight and reading it back.
    deps.jobs.cancel(
        leader,
        ErrorInfo(code="canceled", message="x"),
        expected=JobStatus.QUEUED,
        updated_at=deps.clock().isoformat(),
    )

    joined = _submit(deps, provider="local", user="grace")

    record = _job(deps, joined)
    assert record.status is JobStatus.QUEUED and record.leader_job_id is None
    assert [m.job_id for m in deps.queue.messages][-1] == joined  # type: ignore[attr-defined]
    assert process_job(joined, receive_count=1, deps=deps).outcome is Outcome.SUCCEEDED
