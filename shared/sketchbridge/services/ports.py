"""The ports the use cases need; ``sketchbridge.aws`` implements them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sketchbridge.domain.models import ErrorInfo, JobMessage, JobRecord
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

    def fail(self, job_id: str, error: ErrorInfo, *, updated_at: str) -> JobRecord | None:
        """Mark a job failed unless it already reached a final state; the stored record."""
        ...

    def release(self, job_id: str, *, updated_at: str) -> int | None:
        """Give a running job back to the queue after a retryable failure; the new seq."""
        ...


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presigned_url(self, key: str, *, expires_in: int) -> str: ...


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...


class ConnectionStore(Protocol):
    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None: ...

    def connection_user(self, connection_id: str) -> str | None: ...

    def subscribe(self, connection_id: str, job_id: str, *, expires_at: int) -> None: ...

    def subscribers(self, job_id: str) -> list[str]: ...

    def remove_connection(self, connection_id: str) -> None: ...


class ConnectionPusher(Protocol):
    def push(self, connection_id: str, payload: bytes) -> bool:
        """Send one frame; False when the connection is gone."""
        ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises UnauthorizedError when it is not valid."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    """Everything a use case may touch, built once per cold start by ``bootstrap``."""

    jobs: JobStore
    objects: ObjectStore
    queue: JobQueue
    connections: ConnectionStore
    pusher: ConnectionPusher
    providers: ProviderRegistry
    result_url_ttl_seconds: int = 3600
    job_ttl_days: int = 30
    connection_ttl_hours: int = 2
    job_lease_seconds: int = 150
    max_receive_count: int = 3
    provider_timeout_seconds: float = 90.0
    clock: Callable[[], datetime] = field(default=utc_now)
