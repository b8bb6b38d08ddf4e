"""What a job cost: a ledger entry per billable call or cache hit, and their exact sum.

Every provider call that billed goes into the ledger as it happens, the failed ones too (a
Replicate prediction canceled at our deadline still bills its seconds). A job's ``cost_usd``
is the sum of its entries, across all its deliveries, so the ledger's totals and the jobs'
costs cannot disagree. Entries have deterministic ids (``domain/ledger.py``): recording one
again on a redelivery changes nothing and counts no metric twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.ledger import (
    LedgerRecord,
    cache_hit_entry,
    call_entry,
    call_entry_id,
    joined_entry,
    micros_to_usd,
)
from sketchbridge.domain.models import CacheRecord, JobRecord
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_chain import Hop
from sketchbridge.services.provider_manager import ProviderManager


def bill_calls(
    record: JobRecord,
    hops: Sequence[Hop],
    deps: Dependencies,
    *,
    manager: ProviderManager,
    estimate_usd: float | None = None,
) -> list[LedgerRecord]:
    """Record one entry per hop the provider billed; the entries (new or known before).

    ``estimate_usd`` prices the successful call when its provider reported nothing to bill
    by (the price table's estimate for the picture it drew, said so in the entry).
    """
    entries: list[LedgerRecord] = []
    at = deps.clock().isoformat()
    for index, hop in enumerate(hops):
        usage = hop.usage
        if usage is None:
            continue  # skipped, or a failure the provider did not bill
        ok = hop.outcome == "ok"
        cost = manager.actual_cost(usage, quote_usd=estimate_usd if ok else None)
        quoted = (
            record.quote.cost_usd
            if record.quote and record.quote.provider == hop.provider
            else None
        )
        entry = call_entry(
            entry_id=call_entry_id(
                hop.provider,
                external_id=usage.external_id,
                delivery=record.attempts,
                hop_index=index,
            ),
            user_id=record.user_id,
            job_id=record.id,
            fingerprint=record.fingerprint,
            provider=hop.provider,
            model=usage.model,
            outcome=hop.outcome,
            cost=cost,
            quoted_usd=quoted,
            at=at,
            external_id=usage.external_id,
        )
        if deps.ledger.record(entry):
            deps.metrics.add(metrics.PROVIDER_COST, cost.usd, {"Provider": hop.provider})
        entries.append(entry)
    return entries


def record_cache_hit(record: JobRecord, cached: CacheRecord, deps: Dependencies) -> None:
    """A job answered from the cache: an entry that cost nothing and saved the original's cost."""
    entry = cache_hit_entry(
        user_id=record.user_id,
        job_id=record.id,
        fingerprint=record.fingerprint,
        provider=cached.provider,
        model=cached.model,
        saved_usd=cached.cost_usd,
        at=deps.clock().isoformat(),
    )
    if deps.ledger.record(entry):
        deps.metrics.add(metrics.CACHE_HIT, 1)
        deps.metrics.add(metrics.PROVIDER_COST_SAVED, cached.cost_usd)
        deps.metrics.add(metrics.CACHED_BYTES_SERVED, cached.bytes)


def record_joined(
    job: JobRecord, *, leader_job_id: str, provider: str, model: str, deps: Dependencies
) -> None:
    """``job`` took the picture another job paid for: nothing billed, that job's cost saved.

    Call it once the job's adoption of the picture was written. What was saved is read from
    the ledger (the other job's entries), so it is right even before that job is written.
    """
    deps.ledger.record(
        joined_entry(
            user_id=job.user_id,
            job_id=job.id,
            fingerprint=job.fingerprint,
            provider=provider,
            model=model,
            leader_job_id=leader_job_id,
            saved_usd=job_cost_usd(leader_job_id, deps),
            at=deps.clock().isoformat(),
        )
    )


def job_cost_usd(job_id: str, deps: Dependencies, *, known: Iterable[LedgerRecord] = ()) -> float:
    """The sum of the job's ledger entries, every delivery's (``known``: those just recorded)."""
    entries = {entry.entry_id: entry for entry in deps.ledger.job_entries(job_id)}
    entries.update({entry.entry_id: entry for entry in known if entry.job_id == job_id})
    return micros_to_usd(sum(entry.actual_micros for entry in entries.values()))
