"""In-memory fakes of the ports, with the same semantics as the AWS adapters."""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from sketchbridge.domain.errors import ProviderError, UnauthorizedError
from sketchbridge.domain.models import ErrorInfo, JobMessage, JobRecord, JobStatus
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies

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

    def fail(self, job_id: str, error: ErrorInfo, *, updated_at: str) -> JobRecord | None:
        with self._lock:
            record = self.records.get(job_id)
            if record is None or record.status.is_final:
                return None
            failed = record.model_copy(
                update={
                    "status": JobStatus.FAILED,
                    "error": error,
                    "updated_at": updated_at,
                    "seq": record.seq + 1,
                }
            )
            self.records[job_id] = failed
            return failed

    def release(self, job_id: str, *, updated_at: str) -> int | None:
        with self._lock:
            record = self.records[job_id]
            if record.status is not JobStatus.RUNNING:
                return None
            self.records[job_id] = record.model_copy(
                update={"status": JobStatus.QUEUED, "lease_expires_at": None, "seq": record.seq + 1}
            )
            return record.seq + 1


class FakeObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def get(self, key: str) -> bytes:
        return self.objects[key][0]

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        return f"https://artifacts.example/{key}?expires={expires_in}"


class FakeQueue:
    def __init__(self, *, broken: bool = False) -> None:
        self.messages: list[JobMessage] = []
        self.broken = broken

    def send(self, message: JobMessage) -> None:
        if self.broken:
            from sketchbridge.domain.errors import InternalError

            raise InternalError("The job queue is unavailable.")
        self.messages.append(message)


class FakeConnectionStore:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.subscriptions: dict[str, list[str]] = {}

    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None:
        self.users[connection_id] = user_id

    def connection_user(self, connection_id: str) -> str | None:
        return self.users.get(connection_id)

    def subscribe(self, connection_id: str, job_id: str, *, expires_at: int) -> None:
        subscribers = self.subscriptions.setdefault(job_id, [])
        if connection_id not in subscribers:
            subscribers.append(connection_id)

    def subscribers(self, job_id: str) -> list[str]:
        return list(self.subscriptions.get(job_id, []))

    def remove_connection(self, connection_id: str) -> None:
        self.users.pop(connection_id, None)
        for subscribers in self.subscriptions.values():
            if connection_id in subscribers:
                subscribers.remove(connection_id)


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
    """A provider that fails with scripted errors first, then renders a flat image."""

    name: str = "fake"
    model: str = "fake-model-1"
    description: str = "A provider for tests."
    is_ai: bool = False
    capabilities: ProviderCapabilities = LocalProvider.capabilities
    errors: list[ProviderError | Exception] = field(default_factory=list)
    calls: int = 0

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
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
        )


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
        pusher=FakePusher(),
        providers=ProviderRegistry(providers, default="local"),
        clock=FakeClock(),
    )
