"""The cost ledger in DynamoDB (moto, provisioned from template.yaml): entries, totals, queries."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_ledger import DynamoUsageLedger
from sketchbridge.domain.billing import ActualCost
from sketchbridge.domain.ledger import (
    LedgerRecord,
    cache_hit_entry,
    call_entry,
    call_entry_id,
    usd_to_micros,
)
from sketchbridge.settings import current_settings
from tests.integration.conftest import EmulatedAws


@pytest.fixture
def ledger(aws: EmulatedAws) -> DynamoUsageLedger:
    return DynamoUsageLedger(client("dynamodb"), current_settings().ledger_table)


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"  # the table is shared by the package's tests


def _call(
    user: str,
    *,
    usd: float,
    at: str = "2026-11-25T12:00:00+00:00",
    provider: str = "replicate",
    job_id: str | None = None,
    external_id: str | None = None,
    fingerprint: str = "f" * 64,
    outcome: str = "ok",
) -> LedgerRecord:
    job = job_id or uuid.uuid4().hex
    return call_entry(
        entry_id=call_entry_id(provider, external_id=external_id, delivery=1, hop_index=0),
        user_id=user,
        job_id=job,
        fingerprint=fingerprint,
        provider=provider,
        model="black-forest-labs/flux-canny-dev",
        outcome=outcome,
        cost=ActualCost(usd, "replicate_per_image", "2026-11-25.1", "1 image delivered × $0.025"),
        quoted_usd=0.025,
        at=at,
        external_id=external_id,
    )


def test_an_entry_keeps_everything_the_bill_needs(ledger: DynamoUsageLedger, user: str) -> None:
    entry = _call(user, usd=0.025, external_id="prediction-1")
    assert ledger.record(entry) is True

    assert ledger.job_entries(entry.job_id) == [entry]


def test_recording_an_entry_again_changes_nothing(ledger: DynamoUsageLedger, user: str) -> None:
    entry = _call(user, usd=0.025, external_id="prediction-1")
    ledger.record(entry)
    # A redelivery records the same call again, later: same id, so nothing is added.
    later = LedgerRecord(**{**entry.__dict__, "at": "2026-11-25T12:05:00+00:00"})

    assert ledger.record(later) is False
    assert ledger.job_entries(entry.job_id) == [entry]
    (row,) = ledger.usage(
        user_id=user, start=date(2026, 11, 25), end=date(2026, 11, 25), by="provider"
    )
    assert (row.cost_micros, row.images, row.calls) == (25_000, 1, 1)


def test_concurrent_recordings_of_one_day_add_up_exactly(
    ledger: DynamoUsageLedger, user: str
) -> None:
    # Ten tenths of a cent, recorded at once: the day's total is exactly ten, not 9.999...
    entries = [_call(user, usd=0.001) for _ in range(10)]
    duplicates = entries[:3]
    # DynamoDB applies each transaction atomically; so does the moto server here, which
    # serves DynamoDB requests one at a time (local/moto_server.py).
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(ledger.record, [*entries, *duplicates]))

    assert outcomes.count(True) == 10
    (row,) = ledger.usage(
        user_id=user, start=date(2026, 11, 25), end=date(2026, 11, 25), by="provider"
    )
    assert row.cost_micros == 10_000 and row.calls == 10


def test_usage_reads_a_users_days_by_provider_within_the_range(
    ledger: DynamoUsageLedger, user: str
) -> None:
    for at, provider, usd in [
        ("2026-11-30T23:59:59+00:00", "openai", 0.04),
        ("2026-12-01T00:00:00+00:00", "replicate", 0.025),
        ("2026-12-01T08:00:00+00:00", "replicate", 0.025),
        ("2026-12-01T09:00:00+00:00", "bedrock", 0.07),
        ("2026-12-02T00:00:00+00:00", "bedrock", 0.07),
    ]:
        ledger.record(_call(user, usd=usd, at=at, provider=provider))
    ledger.record(_call("someone-else", usd=9.0, at="2026-12-01T10:00:00+00:00"))

    rows = ledger.usage(user_id=user, start=date(2026, 12, 1), end=date(2026, 12, 1), by="provider")

    assert sorted((row.day, row.key, row.cost_micros, row.images) for row in rows) == [
        (date(2026, 12, 1), "bedrock", 70_000, 1),
        (date(2026, 12, 1), "replicate", 50_000, 2),
    ]


def test_everyones_totals_by_provider_and_by_user(ledger: DynamoUsageLedger, user: str) -> None:
    other = f"{user}-other"
    day = "2031-05-17T12:00:00+00:00"  # a day no other test writes
    ledger.record(_call(user, usd=0.5, at=day, provider="openai"))
    ledger.record(_call(other, usd=0.25, at=day, provider="openai"))
    ledger.record(
        cache_hit_entry(
            user_id=other,
            job_id=uuid.uuid4().hex,
            fingerprint="f" * 64,
            provider="openai",
            model="gpt-image-2",
            saved_usd=0.5,
            at=day,
        )
    )
    when = date(2031, 5, 17)

    (by_provider,) = ledger.usage(user_id=None, start=when, end=when, by="provider")
    by_user = {row.key: row for row in ledger.usage(user_id=None, start=when, end=when, by="user")}

    assert (by_provider.key, by_provider.cost_micros, by_provider.saved_micros) == (
        "openai",
        usd_to_micros(0.75),
        usd_to_micros(0.5),
    )
    assert (by_provider.images, by_provider.cache_hits, by_provider.calls) == (3, 1, 2)
    assert by_user[user].cost_micros == 500_000 and by_user[other].cache_hits == 1


def test_how_often_a_request_was_paid_for(ledger: DynamoUsageLedger, user: str) -> None:
    fingerprint = uuid.uuid4().hex * 2
    first = _call(user, usd=0.025, fingerprint=fingerprint)
    second = _call(user, usd=0.025, fingerprint=fingerprint)
    ledger.record(first)
    ledger.record(second)
    # A cache hit on the same request is not a payment.
    ledger.record(
        cache_hit_entry(
            user_id=user,
            job_id=uuid.uuid4().hex,
            fingerprint=fingerprint,
            provider="replicate",
            model="m",
            saved_usd=0.025,
            at="2026-11-25T12:00:00+00:00",
        )
    )

    assert sorted(entry.job_id for entry in ledger.entries(fingerprint)) == sorted(
        [first.job_id, second.job_id]
    )
    assert ledger.entries("0" * 64) == []
