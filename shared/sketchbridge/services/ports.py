"""The ports the use cases need; ``sketchbridge.aws`` implements them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sketchbridge.domain.circuit_breaker import BreakerPolicy, BreakerState
from sketchbridge.domain.clock import utc_now
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.latency import LatencySummary
from sketchbridge.domain.metric_catalog import Metric
from sketchbridge.domain.models import (
    CacheRecord,
    ErrorInfo,
    ExternalCall,
    HopInfo,
    IdempotencyRecord,
    JobMessage,
    JobRecord,
    JobStatus,
)
from sketchbridge.domain.rate_limit import TokenBucket
from sketchbridge.preprocessing.text import TextDetector
from sketchbridge.providers.registry import ProviderRegistry


class JobStore(Protocol):
    def create(self, record: JobRecord) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def claim(self, job_id: str, *, now: int, lease_seconds: int) -> JobRecord | None:
        """Mark a queued (or lease-expired running) job as running; None if another holds it."""
        ...

    def record_progress(self, job_id: str, progress: float, *, updated_at: str) -> int | None:
        """Store progress while the job runs; the new seq, or None if it no longer runs."""
        ...

    def complete(self, record: JobRecord) -> bool:
        """Write a finished job (its seq already bumped), only while it is running."""
        ...

    def fail(
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        updated_at: str,
        hops: list[HopInfo] | None = None,
    ) -> JobRecord | None:
        """Mark a job failed unless it already reached a final state; the stored record."""
        ...

    def release(self, job_id: str, *, updated_at: str) -> int | None:
        """Give a running job back to the queue after a retryable failure; the new seq."""
        ...

    def note_external_call(self, job_id: str, call: ExternalCall) -> None:
        """Remember the provider-side job this job started (before it is paid for twice)."""
        ...

    def adopt_result(self, job_id: str, source: JobRecord, *, updated_at: str) -> JobRecord | None:
        """Finish a follower with its leader's result, unless it already ended."""
        ...

    # The sweep's reads and writes. Each write holds only while the job's ``seq`` is the
    # one the sweep saw, so it never overrides a processor that touched the job meanwhile.

    def stuck(self, *, now: datetime, running_grace_s: int, queued_for_s: int) -> list[StuckJob]:
        """Running jobs whose lease ended over ``running_grace_s`` ago, and jobs last
        written over ``queued_for_s`` ago that are still queued."""
        ...

    def requeue_unchanged(self, job_id: str, *, seq: int, updated_at: str) -> int | None:
        """Put a running job back to queued; the new seq, or None if its seq moved on."""
        ...

    def note_resent(self, job_id: str, *, seq: int, at: str) -> bool:
        """Record that the sweep sent a queued job's message again (``requeued_at``)."""
        ...

    def fail_unchanged(
        self, job_id: str, error: ErrorInfo, *, seq: int, updated_at: str
    ) -> JobRecord | None:
        """Mark a job failed unless its seq moved on (or it ended); the stored record."""
        ...


@dataclass(frozen=True)
class StuckJob:
    """What the jobs table's ``by_status`` index tells the sweep about a job."""

    id: str
    status: JobStatus
    updated_at: str
    seq: int
    attempts: int = 0
    lease_expires_at: int | None = None
    # When the sweep last sent the job's message again; equal to ``updated_at`` while
    # nothing else has happened to the job since.
    requeued_at: str | None = None
    # Set on a follower: it has no message of its own and waits for this job.
    leader_job_id: str | None = None
    # Which queue its message goes back to.
    priority: Literal["interactive", "batch"] = "interactive"


class ObjectStore(Protocol):
    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...

    def get(self, key: str) -> bytes: ...

    def metadata(self, key: str) -> dict[str, str] | None:
        """The object's metadata (plus its size as ``bytes``), or None if there is no object."""
        ...

    def presigned_url(self, key: str, *, expires_in: int) -> str: ...


class JobQueue(Protocol):
    def send(
        self, message: JobMessage, *, priority: Literal["interactive", "batch"] = "interactive"
    ) -> None:
        """Queue the job on the queue of its priority."""
        ...


@dataclass(frozen=True)
class Subscriber:
    connection_id: str
    # The job id the client asked about; it differs from the job that runs when
    # the client's job follows an identical one already in flight.
    client_job_id: str


class ConnectionStore(Protocol):
    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None: ...

    def connection_user(self, connection_id: str) -> str | None: ...

    def subscribe(
        self, connection_id: str, job_id: str, *, client_job_id: str, expires_at: int
    ) -> None:
        """Send ``job_id``'s events to the connection, labelled as ``client_job_id``."""
        ...

    def subscribers(self, job_id: str) -> list[Subscriber]: ...

    def remove_connection(self, connection_id: str) -> None: ...


class TicketStore(Protocol):
    """Single-use WebSocket tickets, by their hash (``POST /ws-tickets`` → ``$connect``)."""

    def add_ticket(self, ticket_id: str, user_id: str, *, expires_at: int) -> None:
        """Store a ticket for the user until ``expires_at``."""
        ...

    def take_ticket(self, ticket_id: str, *, now: int) -> str | None:
        """Consume a ticket: its user if it existed and had not expired, once; else None."""
        ...


class NoTickets:
    """Where tickets are not set up: none is ever valid, so $connect needs a token."""

    def add_ticket(self, ticket_id: str, user_id: str, *, expires_at: int) -> None:
        raise InternalError("WebSocket tickets are not set up here.")

    def take_ticket(self, ticket_id: str, *, now: int) -> str | None:
        return None


class ResultCache(Protocol):
    """Finished results by fingerprint, and the one job in flight for each fingerprint."""

    def get(self, fingerprint: str) -> CacheRecord | None: ...

    def put(self, record: CacheRecord) -> None: ...

    def record_hit(self, fingerprint: str) -> None: ...

    def lead_or_follow(
        self, fingerprint: str, job_id: str, *, now: int, lease_s: int
    ) -> str | None:
        """Become the job in flight for the fingerprint (None), or the id of the one that is.

        A follower is registered on the leader so it learns the outcome.
        """
        ...

    def finish_flight(self, fingerprint: str, leader_job_id: str) -> list[str]:
        """End the leader's flight; the ids of the jobs that followed it."""
        ...


class IdempotencyStore(Protocol):
    """Records keyed by ``key_id``, a hash of (user, Idempotency-Key) made by the use case."""

    def remember(
        self, key_id: str, record: IdempotencyRecord, *, expires_at: int
    ) -> IdempotencyRecord | None:
        """Store the record unless the key is known; the known record otherwise."""
        ...

    def take_over(
        self, key_id: str, record: IdempotencyRecord, *, stale_job_id: str, expires_at: int
    ) -> bool:
        """Replace a record whose first job is ``stale_job_id``; False if it changed meanwhile."""
        ...

    def forget(self, key_id: str, *, job_id: str) -> None:
        """Drop the record if it is still the one naming ``job_id`` (a submit that failed)."""
        ...


class UsageLedger(Protocol):
    """One entry per billable provider call: the proof that nothing was paid twice."""

    def record(
        self,
        job_id: str,
        *,
        provider: str,
        model: str,
        cost_usd: float | None,
        fingerprint: str,
        at: str,
    ) -> None: ...


class NoUsageLedger:
    def record(
        self,
        job_id: str,
        *,
        provider: str,
        model: str,
        cost_usd: float | None,
        fingerprint: str,
        at: str,
    ) -> None:
        return None


class MetricsRecorder(Protocol):
    """Business metrics for the admins' dashboards, only those in ``domain/metric_catalog``."""

    def add(
        self, metric: Metric, value: float, dimensions: Mapping[str, str] | None = None
    ) -> None:
        """Count ``value`` of ``metric``; ``dimensions`` must name exactly its dimensions."""
        ...


class NoMetrics:
    def add(
        self, metric: Metric, value: float, dimensions: Mapping[str, str] | None = None
    ) -> None:
        return None


class BreakerStore(Protocol):
    """Circuit breakers per provider, shared by every processor instance."""

    policy: BreakerPolicy

    def load_many(self, names: Iterable[str]) -> dict[str, BreakerState]: ...

    def record(
        self,
        name: str,
        *,
        ok: bool,
        now: float,
        retry_after_s: float | None = None,
        probe_started_at: float | None = None,
    ) -> BreakerState: ...

    def try_probe(self, name: str, now: float) -> bool: ...


class RateLimiter(Protocol):
    def try_acquire(
        self, name: str, bucket: TokenBucket, *, now: float, tokens: float = 1
    ) -> float:
        """0 when taken, else the seconds to wait."""
        ...


class LatencyStore(Protocol):
    def record(self, name: str, *, seconds: float, ok: bool, steps: int, now: float) -> None: ...

    def summary(self, name: str, *, now: float, window_s: float = ...) -> LatencySummary: ...


class ProviderConfigStore(Protocol):
    def overrides(self, names: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def put(self, name: str, override: Mapping[str, Any]) -> None: ...


class ConnectionPusher(Protocol):
    def push(self, connection_id: str, payload: bytes) -> bool:
        """Send one frame; False when the connection is gone."""
        ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises UnauthorizedError when it is not valid."""
        ...


@dataclass
class Dependencies:
    """Everything a use case may touch, built once per cold start by ``bootstrap``."""

    jobs: JobStore
    objects: ObjectStore
    queue: JobQueue
    connections: ConnectionStore
    pusher: ConnectionPusher
    providers: ProviderRegistry
    cache: ResultCache
    idempotency: IdempotencyStore
    breakers: BreakerStore
    rate_limiter: RateLimiter
    latency: LatencyStore
    provider_config: ProviderConfigStore
    metrics: MetricsRecorder = field(default_factory=NoMetrics)
    ledger: UsageLedger = field(default_factory=NoUsageLedger)
    # Reads the words on sketches for text=describe; None: the pipeline's heuristic.
    text_detector: TextDetector | None = None
    # WebSocket tickets (the connections table on AWS).
    tickets: TicketStore = field(default_factory=NoTickets)
    # An admin may let a policy refusal move on to another provider (off by default).
    failover_on_policy: bool = False
    # Per-instance memo of the providers' profiles (see ProviderManager.profiles).
    profile_memo: dict[str, Any] = field(default_factory=dict)
    result_url_ttl_seconds: int = 3600
    job_ttl_days: int = 30
    connection_ttl_hours: int = 2
    job_lease_seconds: int = 150
    max_receive_count: int = 3
    provider_timeout_seconds: float = 90.0
    clock: Callable[[], datetime] = field(default=utc_now)

    def epoch_seconds(self) -> float:
        """``clock`` as Unix seconds, for the stores keyed by epoch time."""
        return self.clock().timestamp()
