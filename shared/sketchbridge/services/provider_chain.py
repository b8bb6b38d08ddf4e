"""Call providers in the planned order until one draws the picture, within one budget.

Each hop is decided by shared state, so every processor instance agrees: an
open circuit is skipped without a call; a provider over its rate limit is
skipped; a call that shows no sign of life by its first-byte deadline is
abandoned; a short Retry-After is honoured once on the same provider. Only
failures failover can help with move on (never a policy refusal, unless an
admin allows it). Every hop is reported, for the job record, the metrics and
the status frame the user sees ("replicate is rate-limited, trying openai"),
with what the provider billed for it (``Hop.usage``: the result's usage, or a
failed call's that was billed all the same), so the ledger has one line per
billable call, on ``ChainFailedError.hops`` too. A call abandoned at its
first-byte deadline is not followed further: what it may bill later is unknown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.circuit_breaker import allows_call, counts_against_provider
from sketchbridge.domain.errors import (
    ContentPolicyError,
    InvalidParamsError,
    InvalidRequestError,
    JobCanceledError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.domain.metric_catalog import (
    PROVIDER_FAILED,
    PROVIDER_LATENCY,
    PROVIDER_REQUESTED,
    PROVIDER_SUCCEEDED,
)
from sketchbridge.domain.provider_profile import ProviderProfile
from sketchbridge.providers.base import (
    ImageProvider,
    ProgressCallback,
    ProgressUpdate,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.services.ports import Dependencies

# A Retry-After up to this long is waited out on the same provider, once.
SHORT_RETRY_AFTER_S = 2.0
# Below this much budget left, a new call is not started.
MIN_CALL_BUDGET_S = 1.0

SKIPPED_OPEN = "circuit_open"
SKIPPED_RATE = "rate_limited_locally"
# The request's parameters are outside this provider's ranges (``request_for`` said why).
SKIPPED_PARAMS = "parameters_out_of_range"


@dataclass(frozen=True)
class Hop:
    provider: str
    outcome: str  # "ok", an error code, or why it was skipped without a call
    seconds: float
    message: str = ""
    # What this call was billed, as the provider reported it: set on a success and on a
    # failure the provider still billed; None when nothing was called or billed.
    usage: ProviderUsage | None = None

    @property
    def called(self) -> bool:
        return self.outcome not in (SKIPPED_OPEN, SKIPPED_RATE, SKIPPED_PARAMS)


@dataclass(frozen=True)
class ChainResult:
    result: ProviderResult
    provider: ImageProvider
    hops: tuple[Hop, ...]


class ChainFailedError(Exception):
    """No provider drew the picture; ``error`` is what the user is told, ``hops`` what happened."""

    def __init__(self, error: SketchbridgeError, hops: Sequence[Hop]) -> None:
        super().__init__(error.message)
        self.error = error
        self.hops = tuple(hops)


def run_chain(
    order: Sequence[str],
    request: ProviderRequest,
    *,
    deps: Dependencies,
    profiles: dict[str, ProviderProfile],
    on_progress: ProgressCallback,
    on_hop: Callable[[Hop, str | None], None],
    failover_on_policy: bool = False,
    resume: tuple[str, str] | None = None,
    on_started: Callable[[str, str], None] | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    request_for: Callable[[ImageProvider], ProviderRequest | str] | None = None,
) -> ChainResult:
    """Try ``order`` until one provider succeeds; ``on_hop(hop, next_provider)`` per hop.

    ``resume`` is (provider, provider-side id) of a call an earlier delivery
    started: that provider is asked to follow it rather than start a new one.
    ``on_started(provider, id)`` hears each provider-side id as it is created.

    ``clock`` (Unix seconds) defaults to ``deps.clock``: breakers and latency windows are
    stamped on the calendar everything else reads.

    ``request_for(provider)``, when given, is the request as that provider takes it (its own
    defaults, its native values), or why it cannot take the job's parameters: that provider
    is then skipped without a call (``SKIPPED_PARAMS``).

    Raises ``ChainFailedError`` carrying the error to record on the job.
    """
    if clock is None:
        clock = deps.epoch_seconds
    deadline = clock() + request.timeout_s
    hops: list[Hop] = []
    last_error: SketchbridgeError | None = None
    breakers = deps.breakers.load_many(order)
    names = list(order)
    for index, name in enumerate(names):
        profile = profiles.get(name, ProviderProfile())
        try:
            # The model an admin chose for this provider, if any (ProviderProfile.model).
            provider = deps.providers.resolve_model(name, profile.model)
        except ValueError:
            provider = deps.providers.resolve(name)
        following = names[index + 1] if index + 1 < len(names) else None
        prepared = request_for(provider) if request_for is not None else request
        if isinstance(prepared, str):
            # Never called, so nothing counts against it; if no provider is left, this is why.
            last_error = last_error or InvalidParamsError(prepared)
            hop = Hop(name, SKIPPED_PARAMS, 0.0, prepared)
            hops.append(hop)
            on_hop(hop, following)
            continue
        now = clock()
        decision = allows_call(breakers[name], now, deps.breakers.policy)
        probe_started_at: float | None = None
        if decision.allowed and decision.probe:
            if deps.breakers.try_probe(name, now):
                probe_started_at = now
            else:
                decision = replace(decision, allowed=False)
        if not decision.allowed:
            hop = Hop(name, SKIPPED_OPEN, 0.0, f"{name} is paused after repeated failures")
            hops.append(hop)
            on_hop(hop, following)
            continue
        if deps.rate_limiter.try_acquire(name, profile.rate_limit, now=now) > 0:
            hop = Hop(name, SKIPPED_RATE, 0.0, f"{name} is at its rate limit")
            hops.append(hop)
            on_hop(hop, following)
            continue

        for attempt in (1, 2):
            if request.should_stop is not None and request.should_stop():
                # Canceled between calls: no next provider, no retry.
                raise ChainFailedError(JobCanceledError("The job was canceled."), hops)
            remaining = deadline - clock()
            if remaining < MIN_CALL_BUDGET_S:
                error = last_error or ProviderTimeoutError(
                    "No provider could finish within the time allowed.", provider=name
                )
                raise ChainFailedError(error, hops)
            started = clock()
            deps.metrics.add(PROVIDER_REQUESTED, 1, {"Provider": name})
            try:
                resume_id = resume[1] if resume is not None and resume[0] == name else None
                started_hook = (
                    (lambda external_id, n=name: on_started(n, external_id))
                    if on_started is not None
                    else None
                )
                result = _call_with_first_byte_deadline(
                    provider,
                    replace(
                        prepared,
                        timeout_s=remaining,
                        resume_id=resume_id,
                        on_started=started_hook,
                    ),
                    on_progress,
                    first_byte_deadline_s=min(profile.first_byte_deadline_s, remaining),
                )
            except ProviderError as error:
                seconds = clock() - started
                _count_call(deps, name, error.code, seconds)
                last_error = error
                hop = Hop(name, error.code, round(seconds, 3), error.message, error.usage)
                hops.append(hop)
                retry_after = error.retry_after_s
                if (
                    attempt == 1
                    and isinstance(error, RateLimitedError)
                    and retry_after is not None
                    and retry_after <= SHORT_RETRY_AFTER_S
                    and deadline - clock() > retry_after + MIN_CALL_BUDGET_S
                ):
                    # Honoured once, on the same provider. The breaker hears of it only
                    # if the retry fails too: opening it now would forbid the very
                    # retry the provider asked for.
                    deps.latency.record(
                        name, seconds=seconds, ok=False, steps=prepared.steps, now=clock()
                    )
                    on_hop(hop, name)
                    sleep(retry_after)
                    continue
                _record(
                    deps,
                    name,
                    error.code,
                    seconds,
                    prepared.steps,
                    clock(),
                    error,
                    probe_started_at,
                )
                if not _may_fail_over(error, failover_on_policy):
                    raise ChainFailedError(error, hops) from error
                on_hop(hop, following)
                break
            except JobCanceledError as error:
                # Its owner canceled the job: not the provider's fault (no breaker, no
                # failure counted) and nothing another provider could help with. What the
                # provider billed for the work before the stop goes to the ledger.
                seconds = clock() - started
                hops.append(Hop(name, error.code, round(seconds, 3), error.message, error.usage))
                raise ChainFailedError(error, hops) from error
            except InvalidRequestError as error:
                # The request cannot be drawn as asked (e.g. out of this provider's
                # ranges): not the provider's fault, and another provider may take it.
                seconds = clock() - started
                _count_call(deps, name, error.code, seconds)
                _record(
                    deps, name, error.code, seconds, prepared.steps, clock(), None, probe_started_at
                )
                last_error = error
                hop = Hop(name, error.code, round(seconds, 3), error.message)
                hops.append(hop)
                if not failover_on_policy or following is None:
                    raise ChainFailedError(error, hops) from error
                on_hop(hop, following)
                break
            else:
                seconds = clock() - started
                _count_call(deps, name, "ok", seconds)
                _record(deps, name, "ok", seconds, prepared.steps, clock(), None, probe_started_at)
                hops.append(Hop(name, "ok", round(seconds, 3), usage=result.usage))
                return ChainResult(result=result, provider=provider, hops=tuple(hops))

    raise ChainFailedError(
        last_error
        or ProviderUnavailableError(
            "Every provider that could draw this is paused or busy right now.",
            provider=names[0] if names else "none",
        ),
        hops,
    )


def _may_fail_over(error: ProviderError, failover_on_policy: bool) -> bool:
    if isinstance(error, ContentPolicyError):
        return failover_on_policy
    return error.failover


def _record(
    deps: Dependencies,
    name: str,
    code: str,
    seconds: float,
    steps: int,
    now: float,
    error: ProviderError | None,
    probe_started_at: float | None,
) -> None:
    """Passive health: the breaker and the latency window learn from every real call."""
    faulty = code != "ok" and counts_against_provider(code)
    deps.breakers.record(
        name,
        ok=not faulty,
        now=now,
        retry_after_s=error.retry_after_s if error is not None and faulty else None,
        probe_started_at=probe_started_at,
    )
    deps.latency.record(name, seconds=seconds, ok=not faulty, steps=steps, now=now)


def _count_call(deps: Dependencies, name: str, outcome: str, seconds: float) -> None:
    """One real call for the admins' dashboard: failures by error code, latency of pictures.

    A failure's duration says how long the provider took to refuse, not how long it takes
    to draw, so only successful calls feed ``ProviderLatency``.
    """
    if outcome == "ok":
        deps.metrics.add(PROVIDER_SUCCEEDED, 1, {"Provider": name})
        deps.metrics.add(PROVIDER_LATENCY, seconds, {"Provider": name})
    else:
        deps.metrics.add(PROVIDER_FAILED, 1, {"Provider": name, "ErrorCode": outcome})


def _call_with_first_byte_deadline(
    provider: ImageProvider,
    request: ProviderRequest,
    on_progress: ProgressCallback,
    *,
    first_byte_deadline_s: float,
) -> ProviderResult:
    """Run the call, abandoning it if it shows no sign of life in time.

    A hung provider would otherwise hold the job until its full timeout. The
    call runs in a daemon thread; once abandoned, its late progress is dropped
    and its own timeout ends it. A sign of life is progress the provider sent
    (``ProgressUpdate.from_provider``), a provider-side id, or the call's end.
    """
    alive = threading.Event()
    done = threading.Event()
    abandoned = threading.Event()
    outcome: dict[str, object] = {}

    def report(update: ProgressUpdate) -> None:
        # Only what the provider sent is a sign of life: a line the adapter says before
        # any network I/O would otherwise disarm the deadline before the call even starts.
        if update.from_provider:
            alive.set()
        if not abandoned.is_set():
            on_progress(update)

    def started(external_id: str) -> None:
        # A provider-side id (Replicate's prediction) is the provider's answer: alive.
        alive.set()
        if request.on_started is not None:
            request.on_started(external_id)

    def work() -> None:
        try:
            outcome["result"] = provider.generate(replace(request, on_started=started), report)
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            outcome["error"] = exc
        finally:
            alive.set()
            done.set()

    worker = threading.Thread(target=work, name=f"provider-{provider.name}", daemon=True)
    worker.start()
    if not alive.wait(first_byte_deadline_s):
        abandoned.set()
        raise ProviderTimeoutError(
            f"{provider.name} showed no sign of life within {first_byte_deadline_s:g} s.",
            provider=provider.name,
        )
    done.wait()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
