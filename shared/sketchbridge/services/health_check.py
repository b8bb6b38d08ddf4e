"""Probe every enabled provider, so one that died while idle is known before a user meets it.

Active health, run by ``HealthFunction`` on a schedule. A probe is a lookup that draws and
bills nothing (``ProbeableProvider.probe``). Its outcome goes where real calls' outcomes go:

- a failure that is the provider's fault counts towards its circuit breaker and its error
  rate exactly as a failed call would, so enough failed probes open the circuit and jobs
  then skip the provider without calling it;
- a success counts towards the breaker only: how fast a lookup is says nothing about how
  long a picture takes, so it stays out of the latency percentiles that ETAs come from.

Probes respect the breaker as every caller does: an open circuit is not probed before its
cool-down ends; then the health check takes the half-open lease like any caller, and its
success closes the circuit, so a recovered provider is back before a user pays for the
trial call. Probes run side by side, each given ``timeout_s``; one that has not answered by
then counts as timed out and is left to end on its own.

How to use::

    for result in check_providers(deps):
        result.provider, result.outcome   # "ok", an error code, or why it was not probed
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.circuit_breaker import allows_call, counts_against_provider
from sketchbridge.domain.errors import ProviderError, ProviderTimeoutError, SketchbridgeError
from sketchbridge.providers.base import DEFAULT_PROBE_TIMEOUT_S, ProbeableProvider
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_chain import SKIPPED_OPEN
from sketchbridge.services.provider_manager import ProviderManager

OK = "ok"
# Another caller holds the half-open lease: its call, not ours, decides.
SKIPPED_PROBING = "probe_in_flight"
# The adapter has no cheap call; only its real calls tell how it is.
NOT_PROBED = "passive_only"
# Past its own timeout, a probe's answer is still taken for this much longer.
_GRACE_S = 1.0


@dataclass(frozen=True)
class ProbeResult:
    provider: str
    outcome: str  # OK, an error code, or why the provider was not probed
    seconds: float
    message: str = ""

    @property
    def probed(self) -> bool:
        return self.outcome not in (SKIPPED_OPEN, SKIPPED_PROBING, NOT_PROBED)


@dataclass(frozen=True)
class _Pending:
    provider: str
    future: Future[tuple[float, SketchbridgeError | None]]
    lease: float | None  # when the half-open lease was taken, if this probe holds it


def check_providers(
    deps: Dependencies,
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
    clock: Callable[[], float] | None = None,
) -> list[ProbeResult]:
    """Probe each enabled provider once; what happened to each, in the registry's order.

    ``clock`` (Unix seconds) defaults to ``deps.clock``."""
    if clock is None:
        clock = deps.epoch_seconds
    # Each running the model an admin chose for it, if one did: that is what jobs call.
    manager = ProviderManager(deps)
    providers = [manager.provider(provider.name) for provider in deps.providers.all()]
    results: dict[str, ProbeResult] = {}
    pending: list[_Pending] = []
    breakers = deps.breakers.load_many(provider.name for provider in providers)
    executor = ThreadPoolExecutor(max_workers=max(1, len(providers)), thread_name_prefix="probe")
    try:
        for provider in providers:
            name = provider.name
            if not isinstance(provider, ProbeableProvider):
                results[name] = ProbeResult(name, NOT_PROBED, 0.0, "no cheap call to probe with")
                continue
            now = clock()
            decision = allows_call(breakers[name], now, deps.breakers.policy)
            if not decision.allowed:
                results[name] = ProbeResult(name, SKIPPED_OPEN, 0.0, "paused: cooling down")
                continue
            lease: float | None = None
            if decision.probe:
                if not deps.breakers.try_probe(name, now):
                    results[name] = ProbeResult(name, SKIPPED_PROBING, 0.0, "another call decides")
                    continue
                lease = now
            pending.append(
                _Pending(name, executor.submit(_timed_probe, provider, timeout_s), lease)
            )
        # Every probe started by now: together they get their timeout, and a moment more.
        deadline = time.monotonic() + timeout_s + _GRACE_S
        for probe in pending:
            results[probe.provider] = _settle(
                probe, deps, timeout_s=timeout_s, deadline=deadline, clock=clock
            )
    finally:
        # A probe that overran its timeout is abandoned, not waited for.
        executor.shutdown(wait=False, cancel_futures=True)
    return [results[provider.name] for provider in providers]


def _timed_probe(
    provider: ProbeableProvider, timeout_s: float
) -> tuple[float, SketchbridgeError | None]:
    """How long the probe took, and the error it ended with (None: the provider answered)."""
    started = time.monotonic()
    try:
        provider.probe(timeout_s=timeout_s)
    except SketchbridgeError as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


def _settle(
    probe: _Pending,
    deps: Dependencies,
    *,
    timeout_s: float,
    deadline: float,
    clock: Callable[[], float],
) -> ProbeResult:
    """Wait for one probe until ``deadline`` (monotonic), then record what it showed."""
    name = probe.provider
    try:
        seconds, error = probe.future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeoutError:
        message = f"{name} did not answer a health probe within {timeout_s:g} s."
        seconds, error = timeout_s, ProviderTimeoutError(message, provider=name)
    result = (
        ProbeResult(name, OK, round(seconds, 3))
        if error is None
        else ProbeResult(name, error.code, round(seconds, 3), error.message)
    )
    _record(deps, result, error, lease=probe.lease, now=clock())
    return result


def _record(
    deps: Dependencies,
    result: ProbeResult,
    error: SketchbridgeError | None,
    *,
    lease: float | None,
    now: float,
) -> None:
    faulty = error is not None and counts_against_provider(error.code)
    retry_after_s = error.retry_after_s if faulty and isinstance(error, ProviderError) else None
    deps.breakers.record(
        result.provider,
        ok=not faulty,
        now=now,
        retry_after_s=retry_after_s,
        probe_started_at=lease,
    )
    if faulty:
        deps.latency.record(result.provider, seconds=result.seconds, ok=False, steps=1, now=now)
    deps.metrics.add(
        metrics.PROVIDER_PROBE_SUCCEEDED if error is None else metrics.PROVIDER_PROBE_FAILED, 1
    )
