"""When a job that cannot run now is tried again, and when it stops being tried.

A retryable failure (the provider down, failover not allowed, a rate limit) sends the job
back to its queue with the message hidden for ``redelivery_delay_s`` seconds, not for the
queue's 720 s visibility timeout. With the queues' maxReceiveCount of 3 a job gets three
tries: now, about 10 s later and about 30 s after that, so a lasting outage reaches its
``failed`` verdict about 40 s after the first try (plus each call's own time).
"""

from __future__ import annotations

import math

# The pause after the first and the second delivery; later ones wait the last figure.
RETRY_DELAYS_S: tuple[int, ...] = (10, 30)
# A provider's Retry-After is honoured up to this; beyond it the verdict should not wait.
MAX_RETRY_DELAY_S = 60


def redelivery_delay_s(receive_count: int, retry_after_s: float | None = None) -> int:
    """Seconds to hide the message after delivery number ``receive_count`` (1-based) failed."""
    delay = RETRY_DELAYS_S[min(max(receive_count, 1), len(RETRY_DELAYS_S)) - 1]
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, math.ceil(retry_after_s))
    return min(delay, MAX_RETRY_DELAY_S)
