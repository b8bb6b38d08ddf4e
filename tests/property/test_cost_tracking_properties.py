"""Cost tracking accuracy: the ledger, the jobs' costs and what the providers billed agree.

Users submit requests (some identical: they are answered from the cache or follow the job in
flight) to a time-billed provider (Replicate-like: seconds × $/s) that fails over to a
per-image one (Bedrock-like). The providers fail as scripted, billed or not; some jobs are
delivered twice, some processors are killed after the provider billed and before the job was
written, and the message comes back. Whatever happens, once the queue is empty:

- the ledger's total equals the sum of the jobs' ``cost_usd``, to the micro-dollar;
- and equals what the providers billed, priced by the providers' own rates (the fakes keep
  every usage they reported; the test prices it, never ``domain/pricing``);
- each user's ``usage_report`` total equals the sum of that user's jobs' ``cost_usd``, and
  its ``images`` the number of that user's jobs that got a picture;
- there is one cache-hit entry per answer from the cache and one ``joined`` entry per job
  that took the picture of a job it followed, costing nothing and saving what the job that
  paid cost; no job is left queued or running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchbridge.domain.errors import (
    ContentPolicyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.domain.ledger import usd_to_micros
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobRecord, JobStatus
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.usage import usage_report
from tests.support.fakes import (
    BILLED,
    FakeProvider,
    FakeUsageLedger,
    fake_dependencies,
    sketch_data_url,
)

# The providers' own rates (what their invoices would say), and the admins' price overrides
# that tell Sketchbridge the same.
REPLICATE_USD_PER_S = 0.0015
BEDROCK_USD_PER_IMAGE = 0.04
# Seconds a Replicate call runs: each × the rate is a whole number of micro-dollars.
PREDICT_TIMES = (1.5, 2.0, 4.2, 7.25)
USERS = ("ada", "bob", "cy")


def _failure(kind: str, provider: str) -> ProviderError:
    message = f"{provider}: scripted {kind}"
    if kind == "unavailable_billed":
        return ProviderUnavailableError(message, provider=provider, usage=BILLED)
    if kind == "unavailable":
        return ProviderUnavailableError(message, provider=provider)
    if kind == "timeout_billed":
        return ProviderTimeoutError(message, provider=provider, usage=BILLED)
    if kind == "rate_limited":
        return RateLimitedError(message, provider=provider)
    return ContentPolicyError(message, provider=provider, usage=BILLED)


FAILURES = st.sampled_from(
    ["unavailable_billed", "unavailable", "timeout_billed", "rate_limited", "refused_billed"]
)


@dataclass(frozen=True)
class Submission:
    user: str
    request: int  # identical numbers are identical requests
    allow_failover: bool
    process_now: bool  # deliver the queue right after (else identical requests may follow)
    kill_after_billing: bool
    deliver_twice: bool


submissions = st.builds(
    Submission,
    user=st.sampled_from(USERS),
    request=st.integers(0, 3),
    allow_failover=st.booleans(),
    process_now=st.booleans(),
    kill_after_billing=st.booleans(),
    deliver_twice=st.booleans(),
)


class Run:
    def __init__(self, predict_time_s: float) -> None:
        self.replicate = FakeProvider(
            name="replicate",
            model="owner/controlnet",
            bills="seconds",
            predict_time_s=predict_time_s,
        )
        self.bedrock = FakeProvider(name="bedrock", model="stability.sketch", bills="images")
        deps = fake_dependencies()
        deps.providers = ProviderRegistry(
            {"replicate": self.replicate, "bedrock": self.bedrock}, "bedrock"
        )
        deps.provider_config.put(
            "replicate",
            {"price": {"kind": "per_second", "usd_per_s": REPLICATE_USD_PER_S, "typical_s": 4}},
        )
        deps.provider_config.put(
            "bedrock", {"price": {"kind": "per_image", "prices": [{"usd": BEDROCK_USD_PER_IMAGE}]}}
        )
        self.deps: Dependencies = deps
        self.job_ids: list[str] = []
        self.from_cache: list[str] = []
        self.plans: dict[str, Submission] = {}

    def submit(self, plan: Submission) -> None:
        request = GenerationRequest(
            sketch=sketch_data_url(),
            prompt=f"request {plan.request}",
            provider="replicate",
            params=GenerationParams(seed=plan.request, steps=1, width=64, height=64),
            allow_failover=plan.allow_failover,
        )
        job = submit_generation(request, user_id=plan.user, deps=self.deps)
        self.job_ids.append(job.id)
        self.plans[job.id] = plan
        if job.cached:
            self.from_cache.append(job.id)

    def drain(self) -> None:
        queue = self.deps.queue.messages  # type: ignore[attr-defined]
        while queue:
            self.deliver(queue.pop(0).job_id)

    def deliver(self, job_id: str) -> None:
        """Play SQS: deliver until the job is done, as often as the queue would."""
        deps = self.deps
        plan = self.plans[job_id]
        for receive_count in range(1, deps.max_receive_count + 1):
            real_complete = deps.jobs.complete
            if plan.kill_after_billing and receive_count == 1:
                # Killed after the provider billed and the result was stored.
                deps.jobs.complete = _killed  # type: ignore[method-assign]
            try:
                process_job(job_id, receive_count=receive_count, deps=deps)
            except SystemExit:
                deps.clock.advance(deps.job_lease_seconds + 1)  # type: ignore[attr-defined]
                continue  # the message comes back once its visibility timeout ends
            except SketchbridgeError as error:
                assert error.retryable, error
                continue
            finally:
                deps.jobs.complete = real_complete  # type: ignore[method-assign]
            if plan.deliver_twice:
                process_job(job_id, receive_count=receive_count + 1, deps=deps)
            return

    def records(self) -> list[JobRecord]:
        found = [self.deps.jobs.get(job_id) for job_id in self.job_ids]
        assert all(record is not None for record in found)
        return [record for record in found if record is not None]


def _killed(record: JobRecord) -> bool:
    raise SystemExit("processor killed before writing the job")


def _billed_micros(provider: FakeProvider, *, per_s: float = 0.0, per_image: float = 0.0) -> int:
    """What the provider's invoice says: each call it reported, at its own rate."""
    return sum(
        usd_to_micros((usage.predict_time_s or 0.0) * per_s + usage.images * per_image)
        for usage in provider.billed
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    plans=st.lists(submissions, min_size=1, max_size=8),
    replicate_failures=st.lists(FAILURES, max_size=6),
    bedrock_failures=st.lists(FAILURES, max_size=3),
    predict_time_s=st.sampled_from(PREDICT_TIMES),
)
def test_the_ledger_the_jobs_and_the_providers_bills_agree(
    plans: list[Submission],
    replicate_failures: list[str],
    bedrock_failures: list[str],
    predict_time_s: float,
) -> None:
    run = Run(predict_time_s)
    run.replicate.errors = [_failure(kind, "replicate") for kind in replicate_failures]
    run.bedrock.errors = [_failure(kind, "bedrock") for kind in bedrock_failures]
    for plan in plans:
        run.submit(plan)
        if plan.process_now:
            run.drain()
    run.drain()

    records = run.records()
    assert all(record.status.is_final for record in records), [r.status for r in records]
    ledger = run.deps.ledger
    assert isinstance(ledger, FakeUsageLedger)
    entries = ledger.entries
    ledger_micros = sum(entry.actual_micros for entry in entries)
    jobs_micros = sum(usd_to_micros(record.cost_usd or 0.0) for record in records)
    billed_micros = _billed_micros(run.replicate, per_s=REPLICATE_USD_PER_S) + _billed_micros(
        run.bedrock, per_image=BEDROCK_USD_PER_IMAGE
    )
    assert ledger_micros == jobs_micros == billed_micros

    # Each job's cost is its own entries', every delivery's.
    for record in records:
        mine = sum(entry.actual_micros for entry in entries if entry.job_id == record.id)
        assert usd_to_micros(record.cost_usd or 0.0) == mine, record.id

    # What GET /usage tells each user is what their jobs cost.
    day = date(2026, 11, 25)
    for user in USERS:
        report = usage_report(run.deps, user_id=user, start=day, end=day, group_by="provider")
        theirs = [record for record in records if record.user_id == user]
        assert usd_to_micros(report.total_cost_usd) == sum(
            usd_to_micros(record.cost_usd or 0.0) for record in theirs
        ), user
        assert report.images == sum(r.status is JobStatus.SUCCEEDED for r in theirs), user

    # Cache hits: one entry each, nothing billed, the original's cost saved.
    hits = [entry for entry in entries if entry.kind == "cache_hit"]
    assert sorted(entry.job_id for entry in hits) == sorted(run.from_cache)
    originals = {
        record.fingerprint: record
        for record in records
        if not record.cached and record.status.value == "succeeded" and record.result_key
    }
    for hit in hits:
        assert hit.actual_micros == 0
        original = originals.get(hit.fingerprint)
        if original is not None and original.leader_job_id is None:
            assert hit.saved_micros == usd_to_micros(original.cost_usd or 0.0)
    # Followers: one free entry each for those that got the picture, saving what it cost.
    joined = {entry.job_id: entry for entry in entries if entry.kind == "joined"}
    followers = [r for r in records if r.leader_job_id and r.status is JobStatus.SUCCEEDED]
    assert set(joined) >= {record.id for record in followers}
    for record in followers:
        leader = run.deps.jobs.get(record.leader_job_id or "")
        assert leader is not None and joined[record.id].actual_micros == 0
        assert joined[record.id].saved_micros == usd_to_micros(leader.cost_usd or 0.0)
