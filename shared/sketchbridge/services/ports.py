"""The ports the use cases need; ``sketchbridge.aws`` implements them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from sketchbridge.domain.budgets import BudgetDefaults, BudgetScope, Limit, Period, Quota
from sketchbridge.domain.circuit_breaker import BreakerPolicy, BreakerState
from sketchbridge.domain.clock import utc_now
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.latency import LatencySummary
from sketchbridge.domain.ledger import LedgerRecord, UsageRow
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
    PreferencesRecord,
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
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        """Mark a job failed unless it already reached a final state; the stored record.

        ``cost_usd``: what its calls were billed although it failed (None: left as it is).
        """
        ...

    def release(
        self, job_id: str, *, updated_at: str, hops: list[HopInfo] | None = None
    ) -> int | None:
        """Give a running job back to the queue after a retryable failure; the new seq.

        ``hops``, when given, replace the job's: what every delivery so far tried."""
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
        self,
        job_id: str,
        error: ErrorInfo,
        *,
        seq: int,
        updated_at: str,
        cost_usd: float | None = None,
    ) -> JobRecord | None:
        """Mark a job failed unless its seq moved on (or it ended); the stored record.

        ``cost_usd``: what its calls were billed although it failed (None: left as it is).
        """
        ...

    # Cancel (services/cancel_job.py).

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
        """Mark the job canceled if its status is still ``expected``; the stored record.

        ``seq_bump`` raises its seq by more than one where its client saw higher seqs (a
        follower shows its leader's). ``cost_usd`` None: left as it is.
        """
        ...

    def note_canceled_cost(
        self, job_id: str, *, cost_usd: float, hops: list[HopInfo], updated_at: str
    ) -> JobRecord | None:
        """What a canceled job's calls were billed, once its processor stopped; the stored
        record, or None if the job is not canceled."""
        ...

    def follow_instead(
        self, job_id: str, *, was: str | None, leader_job_id: str | None, seq: int, updated_at: str
    ) -> JobRecord | None:
        """Move a queued job from following ``was`` (None: nobody) to following
        ``leader_job_id`` (None: to run itself), with its seq set to ``seq``; the stored
        record, or None if it is no longer queued behind ``was``."""
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


@dataclass(frozen=True)
class JobPage:
    """One page of a user's jobs, newest first, and where the next page starts (None: last).

    ``after`` is the position of the last job the page covers: its ``created_at`` and id.
    """

    records: list[JobRecord]
    after: tuple[str, str] | None


class JobHistory(Protocol):
    """A user's jobs through the jobs table's indexes (never a scan), and their removal."""

    def page(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None,
        status: JobStatus | None,
    ) -> JobPage:
        """Up to ``limit`` of the user's jobs older than ``after``, newest first."""
        ...

    def get_many(self, job_ids: list[str]) -> dict[str, JobRecord]:
        """The jobs that exist among ``job_ids`` (at most 100), by id."""
        ...

    def delete_finished(self, job_id: str, *, user_id: str) -> JobRecord | None:
        """Delete the user's job if it has ended; the deleted record, None if nothing was."""
        ...

    def sketch_used_by_another(self, sketch_key: str, *, job_id: str) -> bool:
        """Does a job other than ``job_id`` (any user's) point to this sketch?"""
        ...

    def result_used_by_another(
        self, result_key: str, *, sketch_key: str, fingerprint: str, job_id: str
    ) -> bool:
        """Does a job other than ``job_id`` (any user's) show this result? Only jobs of the
        same request (fingerprint, hence sketch) can."""
        ...


class NoJobHistory:
    """Where history is not set up: every call says so (an outage, not an input's fault)."""

    def _missing(self) -> InternalError:
        return InternalError("The job history is not set up here.")

    def page(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None,
        status: JobStatus | None,
    ) -> JobPage:
        raise self._missing()

    def get_many(self, job_ids: list[str]) -> dict[str, JobRecord]:
        raise self._missing()

    def delete_finished(self, job_id: str, *, user_id: str) -> JobRecord | None:
        raise self._missing()

    def sketch_used_by_another(self, sketch_key: str, *, job_id: str) -> bool:
        raise self._missing()

    def result_used_by_another(
        self, result_key: str, *, sketch_key: str, fingerprint: str, job_id: str
    ) -> bool:
        raise self._missing()


class PreferenceStore(Protocol):
    """Each user's saved preferences, keyed by their ``sub``."""

    def get(self, user_id: str) -> PreferencesRecord | None: ...

    def put(self, record: PreferencesRecord) -> None: ...

    def delete(self, user_id: str) -> None: ...


class NoPreferences:
    """Nobody has preferences (tests, tools): every request gets the defaults."""

    def get(self, user_id: str) -> PreferencesRecord | None:
        return None

    def put(self, record: PreferencesRecord) -> None:
        raise InternalError("Preferences are not set up here.")

    def delete(self, user_id: str) -> None:
        return None


@dataclass(frozen=True)
class PresignedPost:
    """A form that uploads one object straight to the store: POST ``fields`` + file to ``url``."""

    url: str
    fields: Mapping[str, str]


class ObjectStore(Protocol):
    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...

    def put_new(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> bool:
        """Store the object only if no object has that key; False (nothing written) if one has.

        Results are written this way: an object a finished job points to is never replaced.
        """
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Remove the object (nothing happens if there is none)."""
        ...

    def metadata(self, key: str) -> dict[str, str] | None:
        """The object's metadata (plus its size as ``bytes``), or None if there is no object."""
        ...

    def keys(self, prefix: str, *, limit: int) -> list[str]:
        """Up to ``limit`` keys that start with ``prefix``, in key order."""
        ...

    def presigned_url(self, key: str, *, expires_in: int) -> str: ...

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        """A form for exactly ``key``, of ``content_type``, 1..``max_bytes`` bytes."""
        ...


class JobQueue(Protocol):
    def send(
        self, message: JobMessage, *, priority: Literal["interactive", "batch"] = "interactive"
    ) -> None:
        """Queue the job on the queue of its priority."""
        ...


class QueueDepth(Protocol):
    def jobs_waiting(self, priority: Literal["interactive", "batch"] = "interactive") -> int:
        """About how many jobs wait, not yet picked up, in the queue of ``priority``: an ETA's
        input, read from a cache (never a call per request), 0 when unknown."""
        ...


class NoQueueDepth:
    """No queue to ask (tests, tools): nothing is ever ahead."""

    def jobs_waiting(self, priority: Literal["interactive", "batch"] = "interactive") -> int:
        return 0


@dataclass(frozen=True)
class QueueBacklog:
    """One job queue's backlog as SQS approximates it; None where it could not be read."""

    name: str
    visible: int | None = None
    in_flight: int | None = None
    delayed: int | None = None
    error: str | None = None


class QueueBacklogReader(Protocol):
    def backlogs(self) -> list[QueueBacklog]:
        """Every job queue's depth; a queue that cannot be read says why, in its entry."""
        ...


class NoQueueBacklogs:
    def backlogs(self) -> list[QueueBacklog]:
        return []


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


# ---------------------------------------------------------------- budgets and quotas


@dataclass(frozen=True)
class BudgetCounter:
    """What one scope committed in one period (micro-dollars): spent + reserved."""

    scope: BudgetScope
    period: Period
    key: str  # the UTC day "2026-12-03" or month "2026-12"
    spent: int = 0
    reserved: int = 0

    @property
    def committed(self) -> int:
        return self.spent + self.reserved


@dataclass(frozen=True)
class BudgetLine:
    """One budget a reservation is held against, and the hard limit it must stay under."""

    scope: BudgetScope
    period: Period
    key: str
    hard: int | None = None


@dataclass(frozen=True)
class ReservationRequest:
    """Reserve each job's quote against every line at once, and a job slot for the user."""

    user_id: str
    quotes: Mapping[str, int]  # job id → quote in micro-dollars
    lines: tuple[BudgetLine, ...]
    jobs_in_flight_limit: int | None
    expires_at: int


@dataclass(frozen=True)
class Refusal:
    """Why a reservation did not fit: the line whose hard limit it passed (None: the user's
    jobs-in-flight quota), and that counter as it stood."""

    line: BudgetLine | None
    counter: BudgetCounter | None = None


@dataclass(frozen=True)
class Settlement:
    """A reservation turned into spend (``spent`` 0: released), on the lines it was held on."""

    job_id: str
    user_id: str
    reserved: int
    spent: int
    lines: tuple[BudgetLine, ...]


class BudgetStore(Protocol):
    """Budgets, quotas and reservations, safe across every instance (conditional writes)."""

    def limits(self, scopes: Iterable[BudgetScope]) -> dict[tuple[BudgetScope, Period], Limit]:
        """The admins' overrides that exist, by scope and period."""
        ...

    def put_limit(self, scope: BudgetScope, period: Period, limit: Limit) -> None: ...

    def delete_limit(self, scope: BudgetScope, period: Period) -> None: ...

    def quota(self, user_id: str) -> Quota | None:
        """The admin's override of a user's quotas, if any."""
        ...

    def put_quota(self, user_id: str, quota: Quota) -> None: ...

    def delete_quota(self, user_id: str) -> None: ...

    def counters(
        self, wanted: Iterable[tuple[BudgetScope, Period, str]]
    ) -> dict[tuple[BudgetScope, Period], BudgetCounter]:
        """The counters of these periods (zero where nothing was committed yet)."""
        ...

    def jobs_in_flight(self, user_id: str) -> int: ...

    def count_request(self, user_id: str, minute: str, *, limit: int, expires_at: int) -> bool:
        """Count one request in ``minute``; False (and not counted) when ``limit`` are in."""
        ...

    def reserve(self, request: ReservationRequest) -> Refusal | None:
        """All or nothing: every quote on every line plus the job slots; None when reserved.

        Each line's condition is ``committed <= hard - total quote``, checked atomically.
        """
        ...

    def settle(self, job_id: str, *, spent: int | None) -> Settlement | None:
        """End a job's reservation: ``spent`` becomes spend (None: all of it is released),
        the rest is released, the job slot freed. None when there was none (already settled:
        a redelivery, a second path to the end)."""
        ...

    def mark_soft_limit_crossed(
        self, scope: BudgetScope, period: Period, key: str, *, soft: int, at: str
    ) -> bool:
        """True for exactly one caller per period once its commitment is past ``soft``."""
        ...


class AdminAlerts(Protocol):
    """Tells the admins (an SNS topic on AWS) about something that needs a look."""

    def notify(self, subject: str, message: str) -> None: ...


class NoAlerts:
    def notify(self, subject: str, message: str) -> None:
        return None


class UsageLedger(Protocol):
    """The cost ledger: one entry per billable provider call and per cache hit.

    Each entry is written together with the day's totals it adds to (per user, per
    provider), in one transaction, so usage is read from a few totals, never a scan.
    """

    def record(self, entry: LedgerRecord) -> bool:
        """Add the entry and its totals; False (and nothing changed) if it is already there."""
        ...

    def job_entries(self, job_id: str) -> list[LedgerRecord]:
        """Every entry recorded for one job, across all its deliveries."""
        ...

    def usage(
        self, *, user_id: str | None, start: date, end: date, by: Literal["provider", "user"]
    ) -> list[UsageRow]:
        """Daily totals from ``start`` to ``end`` (inclusive), keyed by provider or by user.

        ``user_id`` None: everyone's; ``by="user"`` only then.
        """
        ...


class NoUsageLedger:
    def record(self, entry: LedgerRecord) -> bool:
        return True

    def job_entries(self, job_id: str) -> list[LedgerRecord]:
        return []

    def usage(
        self, *, user_id: str | None, start: date, end: date, by: Literal["provider", "user"]
    ) -> list[UsageRow]:
        return []


class ReservationReader(Protocol):
    """What running jobs hold against budgets (their quotes), not yet spent."""

    def reserved_usd(self, user_id: str | None) -> float:
        """USD reserved now for ``user_id``'s jobs; None: for everyone's."""
        ...


class NoReservations:
    def reserved_usd(self, user_id: str | None) -> float:
        return 0.0


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

    def clear(self, name: str) -> None:
        """Drop the provider's override: its defaults apply again."""
        ...


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
    # The queues' backlog, for GET /admin/health; none known: nothing is reported.
    queue_backlogs: QueueBacklogReader = field(default_factory=NoQueueBacklogs)
    # Budgets, quotas and reservations; None: nothing is limited (nor counted).
    budgets: BudgetStore | None = None
    # The app-wide budgets and per-user quotas that hold without an admin override.
    budget_defaults: BudgetDefaults = field(default_factory=BudgetDefaults)
    reservations: ReservationReader = field(default_factory=NoReservations)
    alerts: AdminAlerts = field(default_factory=NoAlerts)
    # Reads the words on sketches for text=describe; None: the pipeline's heuristic.
    text_detector: TextDetector | None = None
    # WebSocket tickets (the connections table on AWS).
    tickets: TicketStore = field(default_factory=NoTickets)
    # GET /generations and DELETE /generations/{id}, over the jobs table's indexes.
    history: JobHistory = field(default_factory=NoJobHistory)
    # What a request that leaves fields out gets instead of the defaults.
    preferences: PreferenceStore = field(default_factory=NoPreferences)
    # An admin may let a policy refusal move on to another provider (off by default).
    failover_on_policy: bool = False
    # How many jobs wait ahead of a new one, for its ETA (ProviderManager.quotes).
    queue_depth: QueueDepth = field(default_factory=NoQueueDepth)
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
