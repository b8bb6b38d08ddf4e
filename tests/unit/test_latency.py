"""Latency figures and ETAs as quoted to users before they submit."""

from __future__ import annotations

import pytest

from sketchbridge.domain.latency import (
    EMPTY_SUMMARY,
    Eta,
    LatencySample,
    eta,
    percentile,
    prior_eta,
    summarise,
)

NOW = 1_795_608_000.0


def sample(seconds: float, *, ok: bool = True, ago: float = 10, steps: int = 20) -> LatencySample:
    return LatencySample(at=NOW - ago, seconds=seconds, ok=ok, steps=steps)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]

    assert percentile(values, 50) == 5
    assert percentile(values, 90) == 9
    assert percentile(values, 100) == 10
    assert percentile([7.0], 90) == 7


def test_a_summary_reads_only_the_recent_window() -> None:
    samples = [sample(s) for s in (4, 5, 6)] + [sample(100, ago=2000)]

    summary = summarise(samples, now=NOW, window_s=900)

    assert (summary.p50_s, summary.p90_s, summary.samples) == (5, 6, 3)


def test_failed_calls_raise_the_error_rate_but_not_the_wait() -> None:
    samples = [sample(5), sample(6), sample(90, ok=False), sample(0.2, ok=False)]

    summary = summarise(samples, now=NOW)

    assert summary.error_rate == 0.5
    assert (summary.p50_s, summary.p90_s) == (5, 6)


def test_a_provider_that_only_failed_has_no_latency_but_a_full_error_rate() -> None:
    summary = summarise([sample(3, ok=False)], now=NOW)

    assert (summary.p50_s, summary.error_rate, summary.samples) == (None, 1.0, 1)
    assert summarise([], now=NOW) == EMPTY_SUMMARY


def test_before_any_call_the_eta_is_the_configured_typical_time() -> None:
    quoted = eta(
        EMPTY_SUMMARY, steps=20, prior=prior_eta(10), prior_steps=20, scales_with_steps=True
    )

    assert quoted == Eta(10, 15)


def test_more_steps_take_longer_where_steps_matter() -> None:
    summary = summarise([sample(8, steps=20), sample(12, steps=20)], now=NOW)

    doubled = eta(summary, steps=40, prior=prior_eta(99), prior_steps=20, scales_with_steps=True)
    ignored = eta(summary, steps=40, prior=prior_eta(99), prior_steps=20, scales_with_steps=False)

    assert doubled == Eta(16, 24)
    assert ignored == Eta(8, 12)


def test_the_queue_ahead_adds_to_the_wait() -> None:
    assert Eta(5, 9).plus(3) == Eta(8, 12)


def test_nonsense_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        eta(EMPTY_SUMMARY, steps=0, prior=prior_eta(1), prior_steps=20, scales_with_steps=True)
