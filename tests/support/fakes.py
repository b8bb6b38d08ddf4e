"""In-memory fakes of the ports, with the same semantics as the AWS adapters."""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from sketchbridge.domain import metric_catalog
from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import ProviderError, UnauthorizedError
from sketchbridge.domain.ledger import LedgerRecord, UsageRow
from sketchbridge.domain.metric_catalog import Metric
from sketchbridge.domain.models import (
    CacheRecord,
    ErrorInfo,
    IdempotencyRecord,
    JobMessage,
    JobRecord,
    JobStatus,
)
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies, PresignedPost, StuckJob, Subscriber

SKETCHES = Path(__file__).resolve().parents[2].parent / "shared" / "sketches"


def sketch_data_url(name: str = "turtle.png") -> str:
    return "data:image/png;base64," + base64.b64encode((SKETCHES / name).read_bytes()).decode()


def png_data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
    return f"data:{mime[fmt]};base64," + base64.b64encode(buffer.getvalue()).decode()


class FakeJobStore:
    def __init__(self) -> None:
        self.records: dict[str, JobRecord] = {}
        # What DynamoDB keeps as the item's ``requeued_at`` (JobRecord does not carry it).
        self.requeued_at: dict[str, str] = {}
        self._lock = threading.Lock()

    def create(self, record: JobRecord) -> None:
        with self._lock:
            assert record.id not in self.records
            self.records[record.id] = record

    def get(self, job_id: str) -> JobRecord | None:
        return self.records.get(job_id)

    def claim(self, job_id: str, *, now: int, lease_seconds: int) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None:
                return None
            expired = record.status is JobStatus.RUNNING and (record.lease_expires_at or 0) < now
            if record.status is not JobStatus.QUEUED and not expired:
                return None
            claimed = record.model_copy(
                update={
                    "status": JobStatus.RUNNING,
                    "lease_expires_at": now + lease_seconds,
                    "attempts": record.attempts + 1,
                    "seq": record.seq + 1,
                }
            )
            self.records[job_id] = claimed
            return claimed

    def record_progress(self, job_id: str, progress: float, *, updated_at: str) -> int | None:
        with self._lock:
            record = self.records[job_id]
            if record.status is not JobStatus.RUNNING:
                return None
            self.records[job_id] = record.model_copy(
                update={"progress": progress, "updated_at": updated_at, "seq": record.seq + 1}
            )
            return record.seq + 1

    def complete(self, record: JobRecord) -> bool:
        with self._lock:
            if self.records[record.id].status is not JobStatus.RUNNING:
                return False
            self.records[record.id] = record
            return True

    def fail(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        updated_at: str,
        hops: list[Any] | None = None,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status.is_final:
                return None
            failed = record.model_copy(
                update={
                    "status": JobStatus.FAILED,
                    "error": error,
                    "hops": list(hops or []),
                    "updated_at": updated_at,
                    "seq": record.seq + 1,
                    **({"cost_usd": cost_usd} if cost_usd is not None else {}),
                }
            )
            self.records[job_id] = failed
            return failed

    def note_external_call(self, job_id: str, call: Any) -> None:
        with self._lock:
            record = self.records[job_id]
            if record.status is JobStatus.RUNNING:
                self.records[job_id] = record.model_copy(update={"external_call": call})

    def adopt_result(self, job_id: str, source: JobRecord, *, updated_at: str) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status.is_final:
                return None
            adopted = record.model_copy(
                update={
                    "status": JobStatus.SUCCEEDED,
                    "progress": 1.0,
                    "result_key": source.result_key,
                    "provider": source.provider,
                    "model": source.model,
                    "params": source.params,
                    "params_native": source.params_native,
                    "offline_fallback": source.offline_fallback,
                    "reproducible": source.reproducible,
                    "updated_at": updated_at,
                    "seq": record.seq + 1,
                }
            )
            self.records[job_id] = adopted
            return adopted

    def release(self, job_id: str, *, updated_at: str, hops: list[Any] | None = None) -> int | None:
        with self._lock:
            record = self.records[job_id]
            if record.status is not JobStatus.RUNNING:
                return None
            self.records[job_id] = record.model_copy(
                update={
                    "status": JobStatus.QUEUED,
                    "lease_expires_at": None,
                    "seq": record.seq + 1,
                    **({"hops": list(hops)} if hops is not None else {}),
                }
            )
            return record.seq + 1

    # -- the sweep (like DynamoJobStore: writes hold only while the seq is unchanged) ------

    def stuck(self, *, now: datetime, running_grace_s: int, queued_for_s: int) -> list[StuckJob]:
        lease_ended_before = int(now.timestamp()) - running_grace_s
        written_before = (now - timedelta(seconds=queued_for_s)).isoformat()
        found = []
        for record in list(self.records.values()):
            if record.status is JobStatus.RUNNING:
                if (record.lease_expires_at or 0) >= lease_ended_before:
                    continue
            elif record.status is not JobStatus.QUEUED or record.updated_at >= written_before:
                continue
            found.append(
                StuckJob(
                    id=record.id,
                    status=record.status,
                    updated_at=record.updated_at,
                    seq=record.seq,
                    attempts=record.attempts,
                    lease_expires_at=record.lease_expires_at,
                    requeued_at=self.requeued_at.get(record.id),
                    leader_job_id=record.leader_job_id,
                    priority=record.priority,
                )
            )
        return found

    def requeue_unchanged(self, job_id: str, *, seq: int, updated_at: str) -> int | None:
        with self._lock:
            record = self.records[job_id]
            if record.status is not JobStatus.RUNNING or record.seq != seq:
                return None
            self.records[job_id] = record.model_copy(
                update={
                    "status": JobStatus.QUEUED,
                    "lease_expires_at": None,
                    "updated_at": updated_at,
                    "seq": seq + 1,
                }
            )
            return seq + 1

    def note_resent(self, job_id: str, *, seq: int, at: str) -> bool:
        with self._lock:
            record = self.records[job_id]
            if record.status is not JobStatus.QUEUED or record.seq != seq:
                return False
            self.records[job_id] = record.model_copy(update={"updated_at": at})
            self.requeued_at[job_id] = at
            return True

    def fail_unchanged(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        seq: int,
        updated_at: str,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status.is_final or record.seq != seq:
                return None
            failed = record.model_copy(
                update={
                    "status": JobStatus.FAILED,
                    "error": error,
                    "lease_expires_at": None,
                    "updated_at": updated_at,
                    "seq": seq + 1,
                    **({"cost_usd": cost_usd} if cost_usd is not None else {}),
                }
            )
            self.records[job_id] = failed
            return failed

    # -- cancel ------------------------------------------------------------------------

    def cancel(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        expected: JobStatus,
        updated_at: str,
        seq_bump: int = 1,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status is not expected:
                return None
            canceled = record.model_copy(
                update={
                    "status": JobStatus.CANCELED,
                    "error": error,
                    "updated_at": updated_at,
                    "seq": record.seq + max(1, seq_bump),
                    **({"cost_usd": cost_usd} if cost_usd is not None else {}),
                }
            )
            self.records[job_id] = canceled
            return canceled

    def note_canceled_cost(
        self, job_id: str, *, cost_usd: float, hops: list[Any], updated_at: str
    ) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status is not JobStatus.CANCELED:
                return None
            noted = record.model_copy(
                update={
                    "cost_usd": cost_usd,
                    "hops": list(hops),
                    "updated_at": updated_at,
                    "lease_expires_at": None,
                }
            )
            self.records[job_id] = noted
            return noted

    def follow_instead(
        self, job_id: str, *, was: str | None, leader_job_id: str | None, seq: int, updated_at: str
    ) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status is not JobStatus.QUEUED:
                return None
            if record.leader_job_id != was:
                return None
            moved = record.model_copy(
                update={"leader_job_id": leader_job_id, "seq": seq, "updated_at": updated_at}
            )
            self.records[job_id] = moved
            return moved


class FakeObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.metadatas: dict[str, dict[str, str]] = {}

    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[key] = (data, content_type)
        self.metadatas[key] = dict(metadata or {})

    def put_new(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> bool:
        if key in self.objects:
            return False
        self.put(key, data, content_type=content_type, metadata=metadata)
        return True

    def get(self, key: str) -> bytes:
        return self.objects[key][0]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)
        self.metadatas.pop(key, None)

    def keys(self, prefix: str, *, limit: int) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))[:limit]

    def metadata(self, key: str) -> dict[str, str] | None:
        if key not in self.objects:
            return None
        return {**self.metadatas[key], "bytes": str(len(self.objects[key][0]))}

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        return f"https://artifacts.example/{key}?expires={expires_in}"

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        return PresignedPost(
            url="https://artifacts.example/",
            fields={"key": key, "Content-Type": content_type, "max_bytes": str(max_bytes)},
        )


class FakeQueue:
    def __init__(self, *, broken: bool = False) -> None:
        self.messages: list[JobMessage] = []
        self.priorities: list[str] = []
        self.broken = broken

    def send(self, message: JobMessage, *, priority: str = "interactive") -> None:
        self.priorities.append(priority)
        if self.broken:
            from sketchbridge.domain.errors import InternalError

            raise InternalError("The job queue is unavailable.")
        self.messages.append(message)


class FakeConnectionStore:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.subscriptions: dict[str, list[Subscriber]] = {}

    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None:
        self.users[connection_id] = user_id

    def connection_user(self, connection_id: str) -> str | None:
        return self.users.get(connection_id)

    def subscribe(
        self, connection_id: str, job_id: str, *, client_job_id: str, expires_at: int
    ) -> None:
        subscribers = self.subscriptions.setdefault(job_id, [])
        subscriber = Subscriber(connection_id, client_job_id)
        if subscriber not in subscribers:
            subscribers.append(subscriber)

    def subscribers(self, job_id: str) -> list[Subscriber]:
        return list(self.subscriptions.get(job_id, []))

    def connection_ids(self, job_id: str) -> list[str]:
        return [subscriber.connection_id for subscriber in self.subscribers(job_id)]

    def remove_connection(self, connection_id: str) -> None:
        self.users.pop(connection_id, None)
        for job_id, subscribers in self.subscriptions.items():
            self.subscriptions[job_id] = [
                s for s in subscribers if s.connection_id != connection_id
            ]


class FakeTicketStore:
    def __init__(self) -> None:
        self.tickets: dict[str, tuple[str, int]] = {}

    def add_ticket(self, ticket_id: str, user_id: str, *, expires_at: int) -> None:
        self.tickets[ticket_id] = (user_id, expires_at)

    def take_ticket(self, ticket_id: str, *, now: int) -> str | None:
        found = self.tickets.pop(ticket_id, None)
        if found is None or found[1] <= now:
            return None
        return found[0]


class FakeResultCache:
    def __init__(self) -> None:
        self.results: dict[str, CacheRecord] = {}
        self.flights: dict[str, tuple[str, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, fingerprint: str) -> CacheRecord | None:
        return self.results.get(fingerprint)

    def put(self, record: CacheRecord) -> None:
        self.results[record.fingerprint] = record

    def lead_or_follow(
        self, fingerprint: str, job_id: str, *, now: int, lease_s: int
    ) -> str | None:
        with self._lock:
            if fingerprint not in self.flights:
                self.flights[fingerprint] = (job_id, [])
                return None
            leader, followers = self.flights[fingerprint]
            followers.append(job_id)
            return leader

    def finish_flight(self, fingerprint: str, leader_job_id: str) -> list[str]:
        with self._lock:
            flight = self.flights.get(fingerprint)
            if flight is None or flight[0] != leader_job_id:
                return []
            del self.flights[fingerprint]
            return sorted(flight[1])


class FakeIdempotencyStore:
    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}

    def remember(
        self, key_id: str, record: IdempotencyRecord, *, expires_at: int
    ) -> IdempotencyRecord | None:
        known = self.records.get(key_id)
        if known is None:
            self.records[key_id] = record
        return known

    def take_over(
        self, key_id: str, record: IdempotencyRecord, *, stale_job_id: str, expires_at: int
    ) -> bool:
        known = self.records.get(key_id)
        if known is not None and known.job_ids[0] != stale_job_id:
            return False
        self.records[key_id] = record
        return True

    def forget(self, key_id: str, *, job_id: str) -> None:
        known = self.records.get(key_id)
        if known is not None and known.job_ids[0] == job_id:
            del self.records[key_id]


class FakePusher:
    def __init__(self) -> None:
        self.frames: dict[str, list[bytes]] = {}
        self.gone: set[str] = set()

    def push(self, connection_id: str, payload: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.frames.setdefault(connection_id, []).append(payload)
        return True


class FakeTokenVerifier:
    """Accepts tokens of the form ``valid:<user id>``."""

    def verify(self, token: str) -> dict[str, Any]:
        if not token.startswith("valid:"):
            raise UnauthorizedError("The access token is not valid.")
        return {"sub": token.removeprefix("valid:")}


@dataclass
class FakeProvider:
    """A provider that fails with scripted errors first, then renders a flat image.

    It reports what it bills as real providers do (``ProviderUsage``, under a fresh
    provider-side id per call): ``bills="seconds"`` like a time-billed Replicate model
    (``predict_time_s`` per call, a failed call that ran included), ``bills="images"`` like
    Bedrock (per picture delivered); None reports nothing. A scripted ``ProviderError``
    raised with ``usage=BILLED`` is a failed call the provider still billed. ``billed``
    keeps every usage it reported, for tests to price by their own rates.
    """

    name: str = "fake"
    model: str = "fake-model-1"
    description: str = "A provider for tests."
    is_ai: bool = False
    capabilities: ProviderCapabilities = LocalProvider.capabilities
    errors: list[ProviderError | Exception] = field(default_factory=list)
    calls: int = 0
    bills: Literal["seconds", "images"] | None = None
    predict_time_s: float = 4.0
    billed: list[ProviderUsage] = field(default_factory=list)

    def _usage(self, images: int) -> ProviderUsage:
        usage = ProviderUsage(
            provider=self.name,
            model=self.model,
            images=images,
            predict_time_s=self.predict_time_s if self.bills == "seconds" else None,
            external_id=f"{self.name}-{self.calls}",
        )
        self.billed.append(usage)
        return usage

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self.calls += 1
        if self.errors:
            error = self.errors.pop(0)
            if isinstance(error, ProviderError) and error.usage is BILLED:
                error.usage = self._usage(images=0)
            raise error
        for step in range(1, request.steps + 1):
            on_progress(ProgressUpdate(step=step, total_steps=request.steps))
        buffer = io.BytesIO()
        Image.new("RGB", (request.width, request.height), (200, 100, 50)).save(buffer, "PNG")
        return ProviderResult(
            image_png=buffer.getvalue(),
            width=request.width,
            height=request.height,
            model=self.model,
            seed=request.seed,
            usage=self._usage(images=1) if self.bills is not None else None,
        )


# A scripted error's ``usage`` placeholder: the fake fills in what the failed call billed.
BILLED = ProviderUsage(provider="placeholder", model="placeholder")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fake_dependencies(*, provider: FakeProvider | None = None) -> Dependencies:
    providers: dict[str, Any] = {"local": LocalProvider()}
    if provider is not None:
        providers[provider.name] = provider
    return Dependencies(
        jobs=FakeJobStore(),
        objects=FakeObjectStore(),
        queue=FakeQueue(),
        connections=FakeConnectionStore(),
        tickets=FakeTicketStore(),
        pusher=FakePusher(),
        cache=FakeResultCache(),
        idempotency=FakeIdempotencyStore(),
        metrics=FakeMetrics(),
        ledger=FakeUsageLedger(),
        breakers=FakeBreakerStore(),
        rate_limiter=FakeRateLimiter(),
        latency=FakeLatencyStore(),
        provider_config=FakeProviderConfigStore(),
        providers=ProviderRegistry(providers, default="local"),
        clock=FakeClock(),
    )


# ---------------------------------------------------------------- provider state
# In-memory twins of sketchbridge.aws.dynamo_providers, running the same pure rules. Their
# imports sit here so that this section can be added without touching the file's head.

from collections.abc import Iterable, Mapping  # noqa: E402

from sketchbridge.domain import circuit_breaker as _breaker  # noqa: E402
from sketchbridge.domain.errors import InvalidParamsError, UnknownProviderError  # noqa: E402
from sketchbridge.domain.latency import (  # noqa: E402
    DEFAULT_WINDOW_S,
    LatencySample,
    LatencySummary,
    summarise,
)
from sketchbridge.domain.provider_profile import (  # noqa: E402
    DEFAULT_PROFILES,
    ProviderProfile,
    apply_override,
)
from sketchbridge.domain.rate_limit import BucketState, TokenBucket, take  # noqa: E402


class FakeBreakerStore:
    """Like DynamoBreakerStore: one breaker per provider; the probe lease goes to one caller."""

    def __init__(self, policy: _breaker.BreakerPolicy | None = None) -> None:
        self.policy = policy or _breaker.BreakerPolicy()
        self.states: dict[str, _breaker.BreakerState] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> _breaker.BreakerState:
        return self.states.get(name, _breaker.CLOSED)

    def load_many(self, names: Iterable[str]) -> dict[str, _breaker.BreakerState]:
        return {name: self.load(name) for name in names}

    def record(
        self,
        name: str,
        *,
        ok: bool,
        now: float,
        retry_after_s: float | None = None,
        probe_started_at: float | None = None,
    ) -> _breaker.BreakerState:
        with self._lock:
            state = self.load(name)
            if ok:
                state = _breaker.on_success(
                    state, now, self.policy, probe_started_at=probe_started_at
                )
            else:
                state = _breaker.on_failure(
                    state,
                    now,
                    self.policy,
                    retry_after_s=retry_after_s,
                    probe_started_at=probe_started_at,
                )
            self.states[name] = state
            return state

    def try_probe(self, name: str, now: float) -> bool:
        with self._lock:
            probing = _breaker.start_probe(self.load(name), now, self.policy)
            if probing is None:
                return False
            self.states[name] = probing
            return True


class FakeRateLimiter:
    """Like DynamoRateLimiter: one token bucket per provider."""

    def __init__(self) -> None:
        self.buckets: dict[str, BucketState] = {}
        self._lock = threading.Lock()

    def try_acquire(
        self, name: str, bucket: TokenBucket, *, now: float, tokens: float = 1
    ) -> float:
        with self._lock:
            outcome = take(bucket, self.buckets.get(name), now, tokens)
            if outcome.state is not None:
                self.buckets[name] = outcome.state
            return outcome.wait_s

    def state(self, name: str) -> BucketState | None:
        return self.buckets.get(name)


class FakeLatencyStore:
    """Like DynamoLatencyStore: samples per provider, at most ``max_samples_per_minute``."""

    def __init__(self, max_samples_per_minute: int = 500) -> None:
        self.max_samples_per_minute = max_samples_per_minute
        self.recorded: dict[str, list[LatencySample]] = {}

    def record(self, name: str, *, seconds: float, ok: bool, steps: int, now: float) -> None:
        samples = self.recorded.setdefault(name, [])
        minute = int(now // 60)
        if sum(1 for s in samples if int(s.at // 60) == minute) < self.max_samples_per_minute:
            samples.append(LatencySample(at=now, seconds=seconds, ok=ok, steps=steps))

    def samples(
        self, name: str, *, now: float, window_s: float = DEFAULT_WINDOW_S
    ) -> list[LatencySample]:
        return [s for s in self.recorded.get(name, []) if now - window_s <= s.at <= now]

    def summary(
        self, name: str, *, now: float, window_s: float = DEFAULT_WINDOW_S
    ) -> LatencySummary:
        return summarise(self.samples(name, now=now, window_s=window_s), now=now, window_s=window_s)


class FakeProviderConfigStore:
    """Like DynamoProviderConfigStore: admins' overrides, checked against the defaults."""

    def __init__(self, defaults: Mapping[str, ProviderProfile] = DEFAULT_PROFILES) -> None:
        self.defaults = defaults
        self.stored: dict[str, dict[str, Any]] = {}

    def overrides(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {name: dict(self.stored[name]) for name in names if name in self.stored}

    def put(self, name: str, override: Mapping[str, Any]) -> None:
        if name not in self.defaults:
            raise UnknownProviderError(f"There is no provider called {name!r}.")
        try:
            apply_override(self.defaults[name], override)
        except ValueError as exc:
            raise InvalidParamsError(f"That override for {name} is not valid: {exc}") from None
        self.stored[name] = dict(override)

    def clear(self, name: str) -> None:
        self.stored.pop(name, None)


class FakeUsageLedger:
    """Like DynamoUsageLedger: entries keyed by (job, entry id), daily totals kept with them."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], LedgerRecord] = {}
        self._lock = threading.Lock()

    @property
    def entries(self) -> list[LedgerRecord]:
        with self._lock:
            return list(self.by_key.values())

    def record(self, entry: LedgerRecord) -> bool:
        with self._lock:
            key = (entry.job_id, entry.entry_id)
            if key in self.by_key:
                return False
            self.by_key[key] = entry
            return True

    def job_entries(self, job_id: str) -> list[LedgerRecord]:
        return [entry for entry in self.entries if entry.job_id == job_id]

    def calls_for(self, fingerprint: str) -> list[LedgerRecord]:
        return [e for e in self.entries if e.fingerprint == fingerprint and e.kind == "call"]

    def usage(
        self, *, user_id: str | None, start: date, end: date, by: Literal["provider", "user"]
    ) -> list[UsageRow]:
        totals: dict[tuple[date, str], UsageRow] = {}
        for entry in self.entries:
            if user_id is not None and entry.user_id != user_id:
                continue
            if not start <= entry.day <= end:
                continue
            key = entry.user_id if by == "user" else entry.provider
            row = totals.get((entry.day, key), UsageRow(day=entry.day, key=key))
            totals[(entry.day, key)] = replace(
                row,
                cost_micros=row.cost_micros + entry.actual_micros,
                saved_micros=row.saved_micros + entry.saved_micros,
                images=row.images + entry.images,
                cache_hits=row.cache_hits + (entry.kind == "cache_hit"),
                calls=row.calls + (entry.kind == "call"),
            )
        return sorted(totals.values(), key=lambda row: (row.day, row.key))


class FakeReservations:
    """What money-budgets' store answers: a fixed sum reserved per user (None: everyone)."""

    def __init__(self, reserved: Mapping[str | None, float] | None = None) -> None:
        self.reserved = dict(reserved or {})

    def reserved_usd(self, user_id: str | None) -> float:
        return self.reserved.get(user_id, 0.0)


class FakeMetrics:
    """Records what was counted; refuses, like the EMF adapter, a series it would not chart."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, float, str]] = []
        self.dimensions: list[dict[str, str]] = []

    def add(
        self, metric: Metric, value: float, dimensions: Mapping[str, str] | None = None
    ) -> None:
        given = dict(dimensions or {})
        assert metric is metric_catalog.BY_NAME[metric.name], f"{metric.name} is not catalogued"
        assert set(given) == set(metric.dimensions), f"{metric.name}: dimensions {given}"
        self.recorded.append((metric.name, value, metric.unit))
        self.dimensions.append(given)

    def total(self, name: str) -> float:
        return sum(value for recorded, value, _ in self.recorded if recorded == name)
