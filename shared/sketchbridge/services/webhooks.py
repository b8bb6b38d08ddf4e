"""Replicate-style webhooks of the drop-in predictions, delivered off the processor's path.

A prediction created with ``webhook`` registers it (the keys table, ``webhook#<job id>``) and
subscribes a pseudo-connection ``webhook#<job id>`` to its job, exactly as a WebSocket client
subscribes; so every frame the processor, the sweep or the dead-letter handler publishes for
the job reaches it, followers included. ``WebhookPusher`` turns such a "push" into an SQS
message (``WEBHOOKS_QUEUE_URL``), which takes milliseconds whatever the receiver does; the
webhook function then POSTs the prediction, signed with the key's secret, with a short
timeout. A delivery that fails (no answer within ``DELIVERY_TIMEOUT_S``, a non-2xx, an
address we refuse) is retried by SQS after its visibility timeout, ``MAX_DELIVERY_ATTEMPTS``
times in all, then dropped with a log line; the job never waits on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from sketchbridge.domain import webhook_signature
from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.domain.models import JobEventMessage, JobResponse, JobStatus
from sketchbridge.services.get_generation import as_seen, get_generation, owned_job
from sketchbridge.services.ports import ConnectionPusher, Dependencies

logger = logging.getLogger(__name__)

CONNECTION_PREFIX = "webhook#"
WebhookEvent = Literal["start", "output", "logs", "completed"]
# Replicate's default: new outputs and the end.
DEFAULT_EVENTS: tuple[WebhookEvent, ...] = ("output", "completed")
DELIVERY_TIMEOUT_S = 5.0
MAX_DELIVERY_ATTEMPTS = 3
# A webhook listens as long as a WebSocket may (Dependencies.connection_ttl_hours): no job
# runs longer.


class WebhookRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: str
    owner: str
    key_id: str
    url: str
    events: list[WebhookEvent]
    model: str
    base_url: str
    expires_at: int
    # The SQS message that sent the final delivery: only it (and its retries) may send it.
    completed_by: str | None = None


class WebhookMessage(BaseModel):
    """One delivery to make: the job (as its owner knows it) and the event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str
    event: WebhookEvent
    seq: int = 0


class WebhookStore(Protocol):
    def put_webhook(self, record: WebhookRecord) -> None: ...

    def webhook(self, job_id: str) -> WebhookRecord | None: ...

    def claim_completed(self, job_id: str, *, delivery_id: str) -> bool:
        """True for the first delivery id that asks (and for it again on a retry)."""
        ...


class WebhookQueue(Protocol):
    def send(self, message: WebhookMessage) -> None: ...


class SigningSecrets(Protocol):
    def webhook_secret(self, key_id: str) -> str | None:
        """The key's signing secret; None once the key is revoked."""
        ...


class WebhookSender(Protocol):
    def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        """POST and return the status; raises ``WebhookDeliveryError`` when none came."""
        ...


class WebhookDeliveryError(SketchbridgeError):
    """The receiver did not take the delivery (retried by the queue)."""

    code = "webhook_failed"
    retryable = True


def register(
    job: JobResponse,
    *,
    url: str,
    events: list[WebhookEvent] | None,
    key_id: str,
    user_id: str,
    model: str,
    base_url: str,
    deps: Dependencies,
    store: WebhookStore,
    queue: WebhookQueue,
) -> None:
    """Deliver the job's events to ``url`` from now on; an event already past is sent now."""
    expires_at = int((deps.clock() + timedelta(hours=deps.connection_ttl_hours)).timestamp())
    wanted = list(events) if events else list(DEFAULT_EVENTS)
    store.put_webhook(
        WebhookRecord(
            job_id=job.id,
            owner=user_id,
            key_id=key_id,
            url=url,
            events=wanted,
            model=model,
            base_url=base_url,
            expires_at=expires_at,
        )
    )
    connection_id = CONNECTION_PREFIX + job.id
    record = owned_job(deps.jobs, job.id, user_id=user_id)
    if not record.status.is_final:
        deps.connections.add_connection(connection_id, user_id, expires_at=expires_at)
        deps.connections.subscribe(
            connection_id,
            record.leader_job_id or record.id,
            client_job_id=record.id,
            expires_at=expires_at,
        )
    # What happened before the subscription (a cache hit ends at once) is sent from here.
    latest = as_seen(owned_job(deps.jobs, job.id, user_id=user_id), deps.jobs)
    if latest.status.is_final:
        queue.send(WebhookMessage(job_id=job.id, event="completed", seq=latest.seq))
    elif latest.status is JobStatus.RUNNING and "start" in wanted:
        queue.send(WebhookMessage(job_id=job.id, event="start", seq=latest.seq))


def event_of(frame: JobEventMessage) -> WebhookEvent | None:
    if frame.type in ("result", "error") or frame.status.is_final:
        return "completed"
    if frame.type == "progress":
        return "logs"
    if frame.status is JobStatus.RUNNING:
        return "start"
    return None


class WebhookPusher:
    """The pusher the processor uses: WebSocket frames as before, webhook frames to SQS."""

    def __init__(self, inner: ConnectionPusher, queue: WebhookQueue) -> None:
        self._inner = inner
        self._queue = queue

    def push(self, connection_id: str, payload: bytes) -> bool:
        if not connection_id.startswith(CONNECTION_PREFIX):
            return self._inner.push(connection_id, payload)
        try:
            frame = JobEventMessage.model_validate_json(payload)
            event = event_of(frame)
            if event is not None:
                self._queue.send(WebhookMessage(job_id=frame.job_id, event=event, seq=frame.seq))
        except (ValidationError, SketchbridgeError):
            # Like a WebSocket push, a webhook is an accelerator: never fail the job for it.
            logger.warning("webhook frame not queued", extra={"connection_id": connection_id})
        return True


def deliver(
    message: WebhookMessage,
    *,
    delivery_id: str,
    deps: Dependencies,
    store: WebhookStore,
    secrets: SigningSecrets,
    sender: WebhookSender,
    render: Callable[[JobResponse, WebhookRecord], bytes],
) -> int | None:
    """POST the prediction for ``message`` if its webhook wants the event; the status, or
    None when nothing was due. Raises ``WebhookDeliveryError`` for the queue to retry."""
    record = store.webhook(message.job_id)
    if record is None:
        return None
    wanted = set(record.events)
    due = message.event in wanted or (message.event == "completed" and "output" in wanted)
    if not due:
        return None
    if message.event == "completed" and not store.claim_completed(
        message.job_id, delivery_id=delivery_id
    ):
        return None
    secret = secrets.webhook_secret(record.key_id)
    if secret is None:
        logger.info("webhook dropped: its key was revoked", extra={"job_id": message.job_id})
        return None
    job = get_generation(message.job_id, user_id=record.owner, deps=deps)
    body = render(job, record)
    webhook_id = f"{message.job_id}-{message.event}" + (
        f"-{message.seq}" if message.event == "logs" else ""
    )
    timestamp = int(deps.epoch_seconds())
    status = sender.post(
        record.url,
        body=body,
        headers=webhook_signature.headers(
            secret, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
        timeout_s=DELIVERY_TIMEOUT_S,
    )
    if not 200 <= status < 300:
        raise WebhookDeliveryError(f"The webhook answered {status}.")
    return status


def parse_message(body: str) -> WebhookMessage | None:
    try:
        return WebhookMessage.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return None
