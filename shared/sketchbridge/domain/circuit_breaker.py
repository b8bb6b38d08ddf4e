"""A circuit breaker per provider, as pure transitions over an immutable state.

A provider that keeps failing is skipped without a call until it has had time to recover;
then exactly one call (the probe) finds out whether it has. The states:

    closed      calls go through; failures are counted
      │ `failure_threshold` consecutive failures, or a failure rate of at least
      │ `failure_rate` over the current window of `window_s` once `min_calls` were made,
      │ or one failure that came with a Retry-After (a 429 is honoured at once)
      ▼
    open        no call until `open_until` = the failure + max(cooldown_s, retry_after_s)
      │ cooldown over: the first caller to take the probe lease (`start_probe`)
      ▼
    half_open   the probe is in flight; nobody else calls. Its success closes the circuit,
                its failure opens it for a new cooldown. A prober that dies loses its lease
                after `probe_lease_s`, and the next caller may probe.

While half-open only the probe holding the current lease decides: a call names its lease by
``probe_started_at`` (the ``now`` it took the lease at), and a late answer from an earlier
prober or from an ordinary call is ignored. While open, answers are ignored too (only the
probe says when the provider is back), except that a Retry-After may push the reopening later.

Only failures that are the provider's fault count (``counts_against_provider``): a content
policy refusal or an invalid input says nothing about the provider's health, so record it as
an answer (``on_success``), never as a failure.

The failure-rate window is tumbling (counters reset once `window_s` has passed since the
window began), so the state stays a few numbers that fit one DynamoDB item.

How to use (``sketchbridge.aws.dynamo_providers.DynamoBreakerStore`` does this over DynamoDB
with conditional writes, so all processor instances share one breaker per provider)::

    decision = allows_call(state, now, policy)
    if not decision.allowed:
        skip the provider (it may be tried again at decision.retry_at)
    elif decision.probe:
        state = start_probe(state, now, policy)  # None: someone else took the probe first
        lease = now
    ... call the provider ...
    state = on_success(state, later, policy, probe_started_at=lease)  # lease: None if no probe
    # or, when counts_against_provider(error.code):
    state = on_failure(state, later, policy, retry_after_s=error.retry_after_s,
                       probe_started_at=lease)

Times are seconds since the epoch (floats); every function is pure and takes ``now``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

BreakerStatus = Literal["closed", "open", "half_open"]
BREAKER_STATUSES: tuple[BreakerStatus, ...] = get_args(BreakerStatus)

# The error codes (sketchbridge.domain.errors) that say the provider is unwell. The rest are
# the request's fault (invalid_input and kin), a refusal of its content (content_policy) or
# ours (internal): another call to the same provider would not tell us more.
PROVIDER_FAULT_CODES = frozenset(
    {"provider_unavailable", "timeout", "rate_limited", "quota_exhausted", "auth_failed"}
)


def counts_against_provider(error_code: str) -> bool:
    """Whether a failure with this error code should count towards opening the circuit."""
    return error_code in PROVIDER_FAULT_CODES


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 3  # consecutive failures that open the circuit
    failure_rate: float = 0.5  # share of failed calls in a window that opens it...
    window_s: float = 60.0
    min_calls: int = 5  # ...once the window holds at least this many calls
    cooldown_s: float = 30.0  # how long an open circuit refuses calls
    # How long a probe may run before another caller may probe instead. Above the longest
    # provider call (PROVIDER_TIMEOUT_SECONDS, 90 s), so a slow probe is never doubled.
    probe_lease_s: float = 120.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.min_calls < 1:
            raise ValueError("failure_threshold and min_calls must be at least 1")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.window_s <= 0 or self.cooldown_s < 0 or self.probe_lease_s <= 0:
            raise ValueError("window_s and probe_lease_s must be positive, cooldown_s not negative")


@dataclass(frozen=True)
class BreakerState:
    status: BreakerStatus = "closed"
    consecutive_failures: int = 0
    # The current failure-rate window: when it began and what happened in it.
    window_started_at: float = 0.0
    window_calls: int = 0
    window_failures: int = 0
    opened_at: float | None = None
    open_until: float | None = None  # no call before this (open only)
    probe_started_at: float | None = None  # when the probe lease was taken (half_open only)

    def to_dict(self) -> dict[str, Any]:
        """JSON-like values, for a store; ``from_dict`` reads them back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BreakerState:
        """A state from stored values; keys it does not know are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        state = cls(**{key: value for key, value in values.items() if key in known})
        if state.status not in BREAKER_STATUSES:
            raise ValueError(f"unknown breaker status {state.status!r}")
        return state


CLOSED = BreakerState()


@dataclass(frozen=True)
class Decision:
    """Whether a caller may call the provider now.

    ``probe``: the call would be the half-open probe; take the lease (``start_probe``) first.
    ``retry_at``: when refused, the earliest time a call may be allowed again.
    """

    allowed: bool
    probe: bool = False
    retry_at: float | None = None


def allows_call(state: BreakerState, now: float, policy: BreakerPolicy) -> Decision:
    """Whether a call may go to the provider now, and whether it would be the probe."""
    if state.status == "closed":
        return Decision(allowed=True)
    if state.status == "open":
        open_until = state.open_until if state.open_until is not None else now
        if now < open_until:
            return Decision(allowed=False, retry_at=open_until)
        return Decision(allowed=True, probe=True)
    lease_ends = _probe_lease_ends(state, policy)
    if lease_ends is not None and now < lease_ends:
        return Decision(allowed=False, retry_at=lease_ends)
    return Decision(allowed=True, probe=True)  # the prober died: its lease has run out


def start_probe(state: BreakerState, now: float, policy: BreakerPolicy) -> BreakerState | None:
    """The state with this caller holding the probe lease; None when no probe may start now."""
    decision = allows_call(state, now, policy)
    if not (decision.allowed and decision.probe):
        return None
    return replace(state, status="half_open", probe_started_at=now)


def on_success(
    state: BreakerState,
    now: float,
    policy: BreakerPolicy,
    *,
    probe_started_at: float | None = None,
) -> BreakerState:
    """The provider answered. Closed: counted. Half-open: the current probe's answer closes
    the circuit (``probe_started_at``: when this call took its probe lease, None for an
    ordinary call). Open, or not the current probe: ignored."""
    if state.status == "half_open":
        if _is_current_probe(state, probe_started_at):
            return BreakerState(window_started_at=now)
        return state
    if state.status == "open":
        return state
    window = _current_window(state, now, policy)
    return replace(window, consecutive_failures=0, window_calls=window.window_calls + 1)


def on_failure(
    state: BreakerState,
    now: float,
    policy: BreakerPolicy,
    *,
    retry_after_s: float | None = None,
    probe_started_at: float | None = None,
) -> BreakerState:
    """The provider failed through its own fault. ``retry_after_s``: what it asked us to wait
    (a 429's Retry-After); such a failure opens the circuit at once, for at least that long.
    Half-open: the current probe's failure (see ``on_success``) reopens it for a new cooldown;
    any other answer is ignored."""
    if state.status == "half_open":
        if _is_current_probe(state, probe_started_at):
            return _opened(state, now, policy, retry_after_s)
        return state
    if state.status == "open":
        if retry_after_s is None or state.open_until is None:
            return state
        # A late 429 may only push the reopening later, never bring it forward.
        return replace(state, open_until=max(state.open_until, now + retry_after_s))
    window = _current_window(state, now, policy)
    failed = replace(
        window,
        consecutive_failures=window.consecutive_failures + 1,
        window_calls=window.window_calls + 1,
        window_failures=window.window_failures + 1,
    )
    too_many_in_a_row = failed.consecutive_failures >= policy.failure_threshold
    too_high_a_rate = (
        failed.window_calls >= policy.min_calls
        and failed.window_failures >= policy.failure_rate * failed.window_calls
    )
    if retry_after_s is not None or too_many_in_a_row or too_high_a_rate:
        return _opened(failed, now, policy, retry_after_s)
    return failed


def _opened(
    state: BreakerState, now: float, policy: BreakerPolicy, retry_after_s: float | None
) -> BreakerState:
    wait = max(policy.cooldown_s, retry_after_s or 0.0)
    return replace(
        state, status="open", opened_at=now, open_until=now + wait, probe_started_at=None
    )


def _current_window(state: BreakerState, now: float, policy: BreakerPolicy) -> BreakerState:
    if now - state.window_started_at < policy.window_s:
        return state
    return replace(state, window_started_at=now, window_calls=0, window_failures=0)


def _is_current_probe(state: BreakerState, probe_started_at: float | None) -> bool:
    return probe_started_at is not None and probe_started_at == state.probe_started_at


def _probe_lease_ends(state: BreakerState, policy: BreakerPolicy) -> float | None:
    if state.probe_started_at is None:
        return None
    return state.probe_started_at + policy.probe_lease_s
