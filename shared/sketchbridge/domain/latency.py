"""How long a provider takes, from the calls it answered: percentiles, error rate and an ETA.

Every real call leaves a ``LatencySample`` (when, how long, whether it succeeded, with how many
steps). ``summarise`` turns the samples of a recent window into a ``LatencySummary``; ``eta``
turns a summary into the wait a user is quoted for a request, scaling by steps for providers
whose time depends on them and falling back on a prior while there are no measurements.

How to use::

    summary = summarise(samples, now=now, window_s=900)
    quote = eta(summary, steps=30, prior=Eta(8.0, 15.0), prior_steps=20, scales_with_steps=True)
    quote.plus(queue_wait_s).p50_s

Durations of failed calls are left out of the percentiles (a user waits for a picture, not
for an error) but counted in the error rate.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_WINDOW_S = 900.0  # the last 15 minutes
# Before any measurement, p90 is assumed this much slower than the typical time.
PRIOR_P90_FACTOR = 1.5


@dataclass(frozen=True)
class LatencySample:
    at: float  # when the call ended, seconds since the epoch
    seconds: float
    ok: bool
    steps: int


@dataclass(frozen=True)
class LatencySummary:
    p50_s: float | None  # None: no successful call in the window
    p90_s: float | None
    error_rate: float  # failed / all calls in the window; 0 when there were none
    samples: int  # all calls in the window
    typical_steps: int | None = None  # the median steps of the successful calls


EMPTY_SUMMARY = LatencySummary(p50_s=None, p90_s=None, error_rate=0.0, samples=0)


@dataclass(frozen=True)
class Eta:
    p50_s: float
    p90_s: float

    def plus(self, seconds: float) -> Eta:
        """This ETA after a wait of ``seconds`` before the work starts (the queue ahead)."""
        return Eta(self.p50_s + seconds, self.p90_s + seconds)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100): always one of the values."""
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    ordered = sorted(values)
    return ordered[math.ceil(q / 100 * len(ordered)) - 1]


def summarise(
    samples: Iterable[LatencySample], *, now: float, window_s: float = DEFAULT_WINDOW_S
) -> LatencySummary:
    """The latency and error rate of the calls that ended in the ``window_s`` before ``now``."""
    recent = [sample for sample in samples if now - window_s <= sample.at <= now]
    if not recent:
        return EMPTY_SUMMARY
    answered = [sample for sample in recent if sample.ok]
    error_rate = (len(recent) - len(answered)) / len(recent)
    if not answered:
        return LatencySummary(None, None, error_rate, len(recent))
    durations = [sample.seconds for sample in answered]
    return LatencySummary(
        p50_s=percentile(durations, 50),
        p90_s=percentile(durations, 90),
        error_rate=error_rate,
        samples=len(recent),
        typical_steps=int(statistics.median_low(sample.steps for sample in answered)),
    )


def eta(
    summary: LatencySummary,
    *,
    steps: int,
    prior: Eta,
    prior_steps: int,
    scales_with_steps: bool,
) -> Eta:
    """The wait for a picture of ``steps`` steps, once a provider has started on it.

    From the measured percentiles when there are any, else from ``prior`` (the profile's
    typical time, taken at ``prior_steps``). Where time depends on steps it is scaled linearly
    from the steps the figures were measured at: a slight overestimate, since part of every
    call (upload, queueing at the provider) does not grow with steps.
    """
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if summary.p50_s is None or summary.p90_s is None:
        base, measured_steps = prior, prior_steps
    else:
        base = Eta(summary.p50_s, summary.p90_s)
        measured_steps = summary.typical_steps or prior_steps
    scale = steps / measured_steps if scales_with_steps else 1.0
    return Eta(base.p50_s * scale, base.p90_s * scale)


def prior_eta(typical_s: float) -> Eta:
    """An ETA from a typical time alone: the p90 a fixed factor slower."""
    return Eta(typical_s, typical_s * PRIOR_P90_FACTOR)
