"""The cost ledger as the bill would read it: what each call cost, who for, and how we know."""

from __future__ import annotations

import pytest

from sketchbridge.domain.errors import (
    ContentPolicyError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from sketchbridge.domain.ledger import LedgerRecord, usd_to_micros
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.domain.pricing import PRICE_TABLE_VERSION
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import Outcome, process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import (
    BILLED,
    FakeMetrics,
    FakeProvider,
    FakeUsageLedger,
    fake_dependencies,
    sketch_data_url,
)

# What an admin set: Replicate's model bills $0.0015 a second, Bedrock's $0.04 a picture.
REPLICATE_USD_PER_S = 0.0015
BEDROCK_USD_PER_IMAGE = 0.04


@pytest.fixture
def replicate() -> FakeProvider:
    return FakeProvider(name="replicate", model="owner/model", bills="seconds", predict_time_s=4.2)


@pytest.fixture
def bedrock() -> FakeProvider:
    return FakeProvider(name="bedrock", model="stability.sketch", bills="images")


@pytest.fixture
def deps(replicate: FakeProvider, bedrock: FakeProvider) -> Dependencies:
    deps = fake_dependencies(provider=replicate)
    # Replicate fails over to Bedrock (no free local renderer to fall back on).
    deps.providers = ProviderRegistry({"replicate": replicate, "bedrock": bedrock}, "bedrock")
    deps.provider_config.put(
        "replicate",
        {"price": {"kind": "per_second", "usd_per_s": REPLICATE_USD_PER_S, "typical_s": 4}},
    )
    deps.provider_config.put(
        "bedrock", {"price": {"kind": "per_image", "prices": [{"usd": BEDROCK_USD_PER_IMAGE}]}}
    )
    return deps


def _request(provider: str = "replicate", **fields: object) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": provider,
            "params": GenerationParams(seed=3, steps=2, width=128, height=128),
            **fields,
        }
    )


def _ledger(deps: Dependencies) -> FakeUsageLedger:
    assert isinstance(deps.ledger, FakeUsageLedger)
    return deps.ledger


def _metrics(deps: Dependencies) -> FakeMetrics:
    assert isinstance(deps.metrics, FakeMetrics)
    return deps.metrics


def _cost_of(deps: Dependencies, job_id: str) -> float | None:
    record = deps.jobs.get(job_id)
    assert record is not None
    return record.cost_usd


def test_a_picture_is_billed_what_the_provider_reported_and_says_how(
    deps: Dependencies,
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)

    (entry,) = _ledger(deps).entries
    assert (entry.kind, entry.user_id, entry.job_id) == ("call", "ada", job.id)
    assert (entry.provider, entry.model, entry.outcome, entry.images) == (
        "replicate",
        "owner/model",
        "ok",
        1,
    )
    assert entry.actual_micros == usd_to_micros(4.2 * REPLICATE_USD_PER_S)  # 6300 µ$
    assert entry.quoted_micros is not None and job.quote is not None
    assert entry.quoted_micros == usd_to_micros(job.quote.cost_usd)
    assert (entry.basis, entry.price_version, entry.currency) == (
        "replicate_predict_time",
        "override",
        "USD",
    )
    assert "4.2 s" in entry.detail and entry.external_id == "replicate-1"
    assert _cost_of(deps, job.id) == 0.0063
    # ProviderCost per entry, per provider.
    assert ("ProviderCost", 0.0063, "None") in _metrics(deps).recorded
    assert {"Provider": "replicate"} in _metrics(deps).dimensions


def test_a_failed_call_the_provider_billed_is_in_the_ledger_and_in_the_jobs_cost(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    replicate.errors = [ProviderTimeoutError("gave up", provider="replicate", usage=BILLED)]
    job = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)

    failed, drawn = sorted(_ledger(deps).entries, key=lambda entry: entry.images)
    assert (failed.provider, failed.outcome, failed.images) == ("replicate", "timeout", 0)
    assert failed.actual_micros == usd_to_micros(4.2 * REPLICATE_USD_PER_S)
    assert drawn.provider == "bedrock" and drawn.images == 1
    assert drawn.actual_micros == usd_to_micros(BEDROCK_USD_PER_IMAGE)
    # The quote was Replicate's: only Replicate's entries carry it.
    assert drawn.quoted_micros is None and failed.quoted_micros is not None
    assert _cost_of(deps, job.id) == round(4.2 * REPLICATE_USD_PER_S + BEDROCK_USD_PER_IMAGE, 6)


def test_a_failure_the_provider_did_not_bill_costs_nothing(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    replicate.errors = [ProviderUnavailableError("down", provider="replicate")]
    job = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)

    (entry,) = _ledger(deps).entries
    assert entry.provider == "bedrock"
    assert _cost_of(deps, job.id) == BEDROCK_USD_PER_IMAGE


def test_a_job_that_fails_still_carries_what_its_calls_were_billed(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    replicate.errors = [ContentPolicyError("refused", provider="replicate", usage=BILLED)]
    job = submit_generation(_request(allow_failover=False), user_id="ada", deps=deps)
    result = process_job(job.id, receive_count=1, deps=deps)

    record = deps.jobs.get(job.id)
    assert result.outcome is Outcome.FAILED and record is not None
    assert record.status is JobStatus.FAILED
    (entry,) = _ledger(deps).entries
    assert entry.outcome == "content_policy"
    assert record.cost_usd == round(4.2 * REPLICATE_USD_PER_S, 6)


def test_every_delivery_of_a_job_adds_to_its_cost(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    replicate.errors = [ProviderUnavailableError("down", provider="replicate", usage=BILLED)]
    job = submit_generation(_request(allow_failover=False), user_id="ada", deps=deps)
    with pytest.raises(ProviderUnavailableError):
        process_job(job.id, receive_count=1, deps=deps)  # billed, then handed back
    process_job(job.id, receive_count=2, deps=deps)

    assert len(_ledger(deps).entries) == 2
    assert _cost_of(deps, job.id) == round(2 * 4.2 * REPLICATE_USD_PER_S, 6)


def test_a_processor_killed_after_billing_records_the_call_once(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    real_complete = deps.jobs.complete
    deps.jobs.complete = lambda record: (_ for _ in ()).throw(SystemExit("killed"))  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        process_job(job.id, receive_count=1, deps=deps)
    deps.jobs.complete = real_complete  # type: ignore[method-assign]
    deps.clock.advance(deps.job_lease_seconds + 1)  # type: ignore[attr-defined]

    assert process_job(job.id, receive_count=2, deps=deps).outcome is Outcome.SUCCEEDED

    assert replicate.calls == 1 and len(_ledger(deps).entries) == 1
    assert _cost_of(deps, job.id) == 0.0063


def test_recording_the_same_call_twice_counts_it_once(deps: Dependencies) -> None:
    job = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)
    (entry,) = _ledger(deps).entries

    assert deps.ledger.record(entry) is False
    assert len(_ledger(deps).entries) == 1


def test_a_provider_that_reports_nothing_is_billed_the_price_tables_estimate_and_says_so() -> None:
    silent = FakeProvider(name="replicate", model="black-forest-labs/flux-canny-dev")
    deps = fake_dependencies(provider=silent)
    job = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(job.id, receive_count=1, deps=deps)

    (entry,) = _ledger(deps).entries
    # No usage reported: the picture it delivered, at the table's per-image price.
    assert entry.actual_micros == usd_to_micros(0.025)
    assert entry.price_version == PRICE_TABLE_VERSION


def _cache_hit(entries: list[LedgerRecord]) -> LedgerRecord:
    (hit,) = [entry for entry in entries if entry.kind == "cache_hit"]
    return hit


def test_a_cache_hit_costs_nothing_and_saves_what_the_original_cost(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    first = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(first.id, receive_count=1, deps=deps)

    again = submit_generation(_request(), user_id="bob", deps=deps)

    assert again.cached is True and again.cost_usd == 0.0
    hit = _cache_hit(_ledger(deps).entries)
    assert (hit.user_id, hit.job_id, hit.provider, hit.images) == ("bob", again.id, "replicate", 1)
    assert hit.actual_micros == 0 and hit.saved_micros == usd_to_micros(0.0063)
    metrics = _metrics(deps)
    assert metrics.total("CacheHit") == 1
    assert metrics.total("ProviderCostSaved") == 0.0063
    assert metrics.total("CachedBytesServed") > 0
    assert replicate.calls == 1


def test_a_hit_found_after_taking_the_lead_is_counted_like_any_hit(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    first = submit_generation(_request(), user_id="ada", deps=deps)
    process_job(first.id, receive_count=1, deps=deps)
    real_get = deps.cache.get
    looks: list[str] = []

    def stale_first_look(fingerprint: str):  # type: ignore[no-untyped-def]
        looks.append(fingerprint)  # the first look happened before the first job cached
        return None if len(looks) == 1 else real_get(fingerprint)

    deps.cache.get = stale_first_look  # type: ignore[method-assign]
    twin = submit_generation(_request(), user_id="bob", deps=deps)

    assert twin.cached is True and twin.cost_usd == 0.0
    assert _cache_hit(_ledger(deps).entries).saved_micros == usd_to_micros(0.0063)
    metrics = _metrics(deps)
    assert metrics.total("CacheHit") == 1
    assert metrics.total("ProviderCostSaved") == 0.0063
    assert metrics.total("CachedBytesServed") > 0


def test_a_job_the_dead_letter_queue_ends_still_carries_what_it_was_billed(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    from sketchbridge.services.dead_letters import DeadLetterOutcome, handle_dead_letter

    replicate.errors = [ProviderUnavailableError("down", provider="replicate", usage=BILLED)]
    job = submit_generation(_request(allow_failover=False), user_id="ada", deps=deps)
    with pytest.raises(ProviderUnavailableError):
        process_job(job.id, receive_count=1, deps=deps)  # billed, handed back, then lost

    assert handle_dead_letter(job.id, deps=deps) is DeadLetterOutcome.FAILED
    assert _cost_of(deps, job.id) == round(4.2 * REPLICATE_USD_PER_S, 6)


def test_a_stuck_job_the_sweep_fails_still_carries_what_it_was_billed(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    from sketchbridge.services.sweep import sweep

    job = submit_generation(_request(), user_id="ada", deps=deps)
    deps.jobs.complete = lambda record: (_ for _ in ()).throw(SystemExit("killed"))  # type: ignore[method-assign]
    for receive_count in range(1, deps.max_receive_count + 1):
        with pytest.raises(SystemExit):  # billed once, then every delivery dies
            process_job(job.id, receive_count=receive_count, deps=deps)
        deps.clock.advance(deps.job_lease_seconds + 1)  # type: ignore[attr-defined]
    deps.clock.advance(3600)  # type: ignore[attr-defined]

    report = sweep(deps=deps)

    record = deps.jobs.get(job.id)
    assert job.id in report.failed and record is not None
    assert record.status is JobStatus.FAILED and replicate.calls == 1
    assert record.cost_usd == 0.0063


def test_a_job_that_followed_an_identical_one_costs_nothing_and_counts_its_picture(
    deps: Dependencies, replicate: FakeProvider
) -> None:
    leader = submit_generation(_request(), user_id="ada", deps=deps)
    follower = submit_generation(_request(), user_id="bob", deps=deps)  # still in flight
    process_job(leader.id, receive_count=1, deps=deps)

    record = deps.jobs.get(follower.id)
    assert record is not None and record.status is JobStatus.SUCCEEDED
    (joined,) = [entry for entry in _ledger(deps).entries if entry.kind == "joined"]
    assert (joined.user_id, joined.job_id, joined.images) == ("bob", follower.id, 1)
    assert joined.actual_micros == 0 and joined.saved_micros == usd_to_micros(0.0063)
    assert replicate.calls == 1 and not record.cost_usd
