"""A token bucket per provider, kept as one number so that a store can update it atomically.

A bucket holds at most ``capacity`` tokens and refills at ``refill_per_s``; a call takes one
(or more). Instead of "tokens left at time t" the state is ``full_at``: the time at which the
bucket will be full again. Tokens available at ``now`` are then
``capacity - max(0, full_at - now) * refill_per_s``, and taking ``n`` tokens is allowed exactly
when ``full_at <= now + (capacity - n) / refill_per_s`` (``TokenBucket.latest_full_at``); it
moves ``full_at`` to ``max(full_at, now) + n / refill_per_s``. Both are a comparison and an
addition, which a DynamoDB conditional update can do in one request with no read
(``sketchbridge.aws.dynamo_providers.DynamoRateLimiter``), so instances never overdraw it.

How to use::

    bucket = TokenBucket(capacity=10, refill_per_s=1.0)
    outcome = take(bucket, state, now)        # state: BucketState, or None for a new bucket
    if outcome.acquired:
        state = outcome.state                 # store it; call the provider
    else:
        wait outcome.wait_s, or try another provider
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenBucket:
    capacity: float  # the largest burst
    refill_per_s: float  # the sustained rate

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.refill_per_s <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive refill")

    def seconds_for(self, tokens: float) -> float:
        """How long the bucket takes to refill ``tokens``."""
        return tokens / self.refill_per_s

    def latest_full_at(self, now: float, tokens: float) -> float:
        """The latest ``full_at`` that still leaves ``tokens`` to take at ``now``."""
        return now + self.seconds_for(self.capacity - tokens)


@dataclass(frozen=True)
class BucketState:
    full_at: float  # when the bucket is full again; at or before now, it is full


@dataclass(frozen=True)
class Take:
    """What taking tokens did: the new state when they were taken, else how long to wait."""

    state: BucketState | None
    wait_s: float

    @property
    def acquired(self) -> bool:
        return self.state is not None


def available(bucket: TokenBucket, state: BucketState | None, now: float) -> float:
    """Tokens in the bucket at ``now``."""
    if state is None:
        return bucket.capacity
    owed = max(0.0, state.full_at - now) * bucket.refill_per_s
    return max(0.0, bucket.capacity - owed)


def take(bucket: TokenBucket, state: BucketState | None, now: float, tokens: float = 1) -> Take:
    """Take ``tokens`` if the bucket has them; else leave it and say how long until it will."""
    if not 0 < tokens <= bucket.capacity:
        raise ValueError(f"can only take between 0 and {bucket.capacity} tokens, not {tokens}")
    full_at = state.full_at if state is not None else now
    latest = bucket.latest_full_at(now, tokens)
    if full_at <= latest:
        return Take(BucketState(max(full_at, now) + bucket.seconds_for(tokens)), 0.0)
    return Take(None, full_at - latest)
