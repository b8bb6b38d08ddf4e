"""Provider state shared by processor instances, against emulated DynamoDB on the template's table.

Each "instance" is its own store with its own client, as two Lambda instances would be.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_providers import (
    DynamoBreakerStore,
    DynamoLatencyStore,
    DynamoProviderConfigStore,
    DynamoRateLimiter,
    LatencyRetention,
)
from sketchbridge.domain.circuit_breaker import BreakerPolicy, allows_call
from sketchbridge.domain.errors import InternalError, InvalidParamsError, UnknownProviderError
from sketchbridge.domain.rate_limit import TokenBucket

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

T0 = 1_795_608_000.0
POLICY = BreakerPolicy()
_Result = TypeVar("_Result")


def a_provider() -> str:
    return f"provider-{uuid.uuid4().hex[:8]}"


def all_at_once(count: int, work: Callable[[int], _Result]) -> list[_Result]:
    """Run ``work(i)`` in ``count`` threads released together; their results in order."""
    start = threading.Barrier(count)
    results: list[_Result | None] = [None] * count
    failures: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [result for result in results if result is not None]


# ---------------------------------------------------------------- breakers


def test_three_failures_seen_by_one_instance_pause_the_provider_for_all(
    providers_table: str,
) -> None:
    name = a_provider()
    one = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)
    other = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)

    for i in range(3):
        one.record(name, ok=False, now=T0 + i)

    state = other.load(name)
    assert state.status == "open"
    assert not allows_call(state, T0 + 10, POLICY).allowed


def test_a_provider_never_seen_is_closed(providers_table: str) -> None:
    breakers = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)
    known, unknown = a_provider(), a_provider()
    breakers.record(known, ok=False, now=T0, retry_after_s=60)

    states = breakers.load_many([known, unknown])

    assert states[known].status == "open"
    assert states[unknown].status == "closed"


def test_two_instances_racing_for_the_probe_only_one_wins(providers_table: str) -> None:
    name = a_provider()
    setup = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)
    setup.record(name, ok=False, now=T0, retry_after_s=1)
    instances = [DynamoBreakerStore(client("dynamodb"), providers_table, POLICY) for _ in range(6)]

    won = all_at_once(6, lambda i: instances[i].try_probe(name, T0 + 30))

    assert won.count(True) == 1
    assert setup.load(name).status == "half_open"
    assert not setup.try_probe(name, T0 + 31)


def test_the_probes_success_puts_the_provider_back_for_everyone(providers_table: str) -> None:
    name = a_provider()
    one = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)
    other = DynamoBreakerStore(client("dynamodb"), providers_table, POLICY)
    one.record(name, ok=False, now=T0, retry_after_s=1)
    assert other.try_probe(name, T0 + 30)

    one.record(name, ok=True, now=T0 + 31)  # an ordinary late answer: not the probe's
    assert one.load(name).status == "half_open"
    other.record(name, ok=True, now=T0 + 32, probe_started_at=T0 + 30)

    assert one.load(name).status == "closed"


def test_outcomes_recorded_at_the_same_moment_are_all_counted(providers_table: str) -> None:
    name = a_provider()
    patient = BreakerPolicy(failure_threshold=100, min_calls=100)
    instances = [DynamoBreakerStore(client("dynamodb"), providers_table, patient) for _ in range(3)]

    def fail_three_times(i: int) -> bool:
        for attempt in range(3):
            instances[i].record(name, ok=False, now=T0 + attempt)
        return True

    all_at_once(3, fail_three_times)

    state = instances[0].load(name)
    assert state.consecutive_failures == 9
    assert state.window_failures == 9


# ---------------------------------------------------------------- rate limits


def test_instances_taking_tokens_at_once_never_exceed_the_bucket(providers_table: str) -> None:
    name = a_provider()
    bucket = TokenBucket(capacity=5, refill_per_s=1 / 3600)
    instances = [DynamoRateLimiter(client("dynamodb"), providers_table) for _ in range(8)]

    waits = all_at_once(
        8, lambda i: [instances[i].try_acquire(name, bucket, now=T0) for _ in range(2)]
    )

    flat = [wait for pair in waits for wait in pair]
    assert flat.count(0.0) == 5
    assert all(wait > 0 for wait in flat if wait != 0.0)


def test_a_refused_caller_is_told_when_the_next_token_comes(providers_table: str) -> None:
    name = a_provider()
    bucket = TokenBucket(capacity=2, refill_per_s=0.5)
    limiter = DynamoRateLimiter(client("dynamodb"), providers_table)

    assert limiter.try_acquire(name, bucket, now=T0) == 0
    assert limiter.try_acquire(name, bucket, now=T0) == 0
    wait = limiter.try_acquire(name, bucket, now=T0)

    assert wait == pytest.approx(2.0)
    assert limiter.try_acquire(name, bucket, now=T0 + wait) == 0


def test_an_idle_bucket_is_full_again_but_no_fuller(providers_table: str) -> None:
    name = a_provider()
    bucket = TokenBucket(capacity=2, refill_per_s=1)
    limiter = DynamoRateLimiter(client("dynamodb"), providers_table)
    limiter.try_acquire(name, bucket, now=T0)

    later = T0 + 3600
    taken = [limiter.try_acquire(name, bucket, now=later) for _ in range(3)]

    assert taken[:2] == [0, 0]
    assert taken[2] > 0


# ---------------------------------------------------------------- latency


def test_latency_summary_reads_the_recent_calls_of_one_provider(providers_table: str) -> None:
    name, neighbour = a_provider(), a_provider()
    latencies = DynamoLatencyStore(client("dynamodb"), providers_table)
    for offset, seconds, ok in [(-2000, 99.0, True), (-300, 4.0, True), (-200, 6.0, True)]:
        latencies.record(name, seconds=seconds, ok=ok, steps=20, now=T0 + offset)
    latencies.record(name, seconds=0.3, ok=False, steps=20, now=T0 - 100)
    latencies.record(neighbour, seconds=50.0, ok=True, steps=20, now=T0 - 100)

    summary = latencies.summary(name, now=T0, window_s=900)

    assert (summary.p50_s, summary.p90_s) == (4.0, 6.0)
    assert summary.samples == 3
    assert summary.error_rate == pytest.approx(1 / 3)
    assert summary.typical_steps == 20


def test_a_busy_minute_keeps_a_bounded_number_of_samples(providers_table: str) -> None:
    name = a_provider()
    latencies = DynamoLatencyStore(
        client("dynamodb"), providers_table, LatencyRetention(max_samples_per_minute=3)
    )
    minute_start = (T0 // 60) * 60
    for i in range(5):
        latencies.record(name, seconds=1.0 + i, ok=True, steps=4, now=minute_start + i)

    assert len(latencies.samples(name, now=minute_start + 30)) == 3


# ---------------------------------------------------------------- configuration


def test_an_admins_override_is_read_back_by_every_instance(providers_table: str) -> None:
    admin = DynamoProviderConfigStore(client("dynamodb"), providers_table)
    processor = DynamoProviderConfigStore(client("dynamodb"), providers_table)
    override = {
        "weight": 2.5,
        "rate_limit": {"capacity": 3, "refill_per_s": 0.05},
        "retires_on": None,
    }

    admin.put("bedrock", override)
    try:
        assert processor.overrides(["bedrock", "local"]) == {"bedrock": override}
    finally:
        admin.clear("bedrock")
    assert processor.overrides(["bedrock"]) == {}


def test_an_override_that_would_break_a_provider_is_refused(providers_table: str) -> None:
    admin = DynamoProviderConfigStore(client("dynamodb"), providers_table)

    with pytest.raises(InvalidParamsError, match="capacity"):
        admin.put("openai", {"rate_limit": {"capacity": 0, "refill_per_s": 1}})
    with pytest.raises(UnknownProviderError):
        admin.put("dall-e", {"weight": 1})
    assert admin.overrides(["openai"]) == {}


def test_a_store_that_cannot_be_reached_says_so_as_an_internal_error(
    providers_table: str,
) -> None:
    missing = DynamoBreakerStore(client("dynamodb"), f"{providers_table}-missing", POLICY)

    with pytest.raises(InternalError):
        missing.load("replicate")
