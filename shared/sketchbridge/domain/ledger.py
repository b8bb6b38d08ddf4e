"""The cost ledger's entries and the exact arithmetic of money.

One ``LedgerRecord`` per billable provider call (a failed call the provider still billed
included), one per cache hit (cost 0, saving what the original job cost) and one per job that
followed an identical job in flight and took its picture (``joined``: cost 0, saving what the
job it followed cost). Amounts are
integer micro-dollars (``usd_to_micros``): sums of floats drift, sums of integers do not, so
the ledger's total and the sum of jobs' ``cost_usd`` agree to the micro-dollar.

An entry's ``entry_id`` is derived from what the call was, never from when it was recorded,
so recording it twice (an SQS redelivery, a resumed provider-side job) is recording it once:

    call#<provider>#<provider's id>        a call the provider named (prediction, request id)
    call#<delivery>#<hop>                  a call it did not name: this delivery's n-th hop
    cache_hit                              the job was answered from the cache
    joined                                 the job took the picture of the job it followed
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sketchbridge.domain.billing import ActualCost

MICROS_PER_USD = 1_000_000

LedgerKind = Literal["call", "cache_hit", "joined"]


def usd_to_micros(usd: float) -> int:
    """USD as whole micro-dollars (prices and quotes are kept to a millionth)."""
    return round(usd * MICROS_PER_USD)


def micros_to_usd(micros: int) -> float:
    return round(micros / MICROS_PER_USD, 6)


def call_entry_id(provider: str, *, external_id: str | None, delivery: int, hop_index: int) -> str:
    """The deterministic id of one billable call within its job."""
    if external_id:
        return f"call#{provider}#{external_id}"
    return f"call#{delivery}#{hop_index}"


CACHE_HIT_ENTRY_ID = "cache_hit"
JOINED_ENTRY_ID = "joined"


@dataclass(frozen=True)
class LedgerRecord:
    """One line of the ledger: who, what, what it was quoted, what it cost and how we know."""

    entry_id: str
    kind: LedgerKind
    user_id: str
    job_id: str
    fingerprint: str
    provider: str
    model: str
    outcome: str  # "ok", or the error code of a failed call the provider billed
    images: int  # pictures delivered by this entry (a failed call delivers none)
    quoted_micros: int | None  # the job's quote (None: the call was not the quoted provider)
    actual_micros: int  # what was billed; 0 for a cache hit
    saved_micros: int  # a cache hit or a join: what the original job cost; else 0
    basis: str  # ActualCost.basis, or "cache_hit" / "joined"
    price_version: str
    detail: str  # one line a human can check
    at: str  # ISO 8601 UTC
    currency: Literal["USD"] = "USD"
    external_id: str | None = None

    @property
    def day(self) -> date:
        return date.fromisoformat(self.at[:10])

    @property
    def actual_usd(self) -> float:
        return micros_to_usd(self.actual_micros)


def call_entry(
    *,
    entry_id: str,
    user_id: str,
    job_id: str,
    fingerprint: str,
    provider: str,
    model: str,
    outcome: str,
    cost: ActualCost,
    quoted_usd: float | None,
    at: str,
    external_id: str | None = None,
) -> LedgerRecord:
    """The entry of one billable provider call."""
    return LedgerRecord(
        entry_id=entry_id,
        kind="call",
        user_id=user_id,
        job_id=job_id,
        fingerprint=fingerprint,
        provider=provider,
        model=model,
        outcome=outcome,
        images=1 if outcome == "ok" else 0,
        quoted_micros=usd_to_micros(quoted_usd) if quoted_usd is not None else None,
        actual_micros=usd_to_micros(cost.usd),
        saved_micros=0,
        basis=cost.basis,
        price_version=cost.price_version,
        detail=cost.detail,
        at=at,
        external_id=external_id,
    )


def cache_hit_entry(
    *,
    user_id: str,
    job_id: str,
    fingerprint: str,
    provider: str,
    model: str,
    saved_usd: float,
    at: str,
) -> LedgerRecord:
    """The entry of a job answered from the cache: nothing billed, the original's cost saved."""
    return _free_picture_entry(
        CACHE_HIT_ENTRY_ID,
        "cache_hit",
        f"served from the cache; the original call cost ${saved_usd:.6f}",
        user_id=user_id,
        job_id=job_id,
        fingerprint=fingerprint,
        provider=provider,
        model=model,
        saved_usd=saved_usd,
        at=at,
    )


def joined_entry(
    *,
    user_id: str,
    job_id: str,
    fingerprint: str,
    provider: str,
    model: str,
    leader_job_id: str,
    saved_usd: float,
    at: str,
) -> LedgerRecord:
    """The entry of a job that followed an identical one in flight and took its picture."""
    return _free_picture_entry(
        JOINED_ENTRY_ID,
        "joined",
        f"took the picture of job {leader_job_id}, which cost ${saved_usd:.6f}",
        user_id=user_id,
        job_id=job_id,
        fingerprint=fingerprint,
        provider=provider,
        model=model,
        saved_usd=saved_usd,
        at=at,
    )


def _free_picture_entry(
    entry_id: str,
    kind: Literal["cache_hit", "joined"],
    detail: str,
    *,
    user_id: str,
    job_id: str,
    fingerprint: str,
    provider: str,
    model: str,
    saved_usd: float,
    at: str,
) -> LedgerRecord:
    """A picture delivered without a provider call: nothing billed, what it saved recorded."""
    return LedgerRecord(
        entry_id=entry_id,
        kind=kind,
        user_id=user_id,
        job_id=job_id,
        fingerprint=fingerprint,
        provider=provider,
        model=model,
        outcome="ok",
        images=1,
        quoted_micros=0,
        actual_micros=0,
        saved_micros=usd_to_micros(saved_usd),
        basis=kind,
        price_version="none",
        detail=detail,
        at=at,
    )


@dataclass(frozen=True)
class UsageRow:
    """One day's totals for one provider (or one user), as the ledger's aggregates keep them."""

    day: date
    key: str  # the provider's name, or the user's id
    cost_micros: int = 0
    saved_micros: int = 0
    images: int = 0
    cache_hits: int = 0
    calls: int = 0
