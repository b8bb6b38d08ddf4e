"""WebSocket connections: who is connected, which jobs they follow, and their first frame."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sketchbridge.domain.errors import NotFoundError, UnauthorizedError
from sketchbridge.domain.models import (
    ErrorInfo,
    JobEventMessage,
    JobStatus,
    SubscribeMessage,
    WsTicketResponse,
)
from sketchbridge.services.get_generation import as_seen, owned_job
from sketchbridge.services.job_views import current_state_message
from sketchbridge.services.ports import Dependencies, TokenVerifier

# A ticket opens one WebSocket within this many seconds of being issued.
TICKET_TTL_SECONDS = 60


def issue_ticket(user_id: str, *, deps: Dependencies) -> WsTicketResponse:
    """A single-use ticket for ``$connect``, so no token travels in a URL (access logs keep
    URLs). Only its hash is stored: a read of the table yields no usable ticket."""
    ticket = secrets.token_urlsafe(32)
    now = deps.clock()
    expires = now + timedelta(seconds=TICKET_TTL_SECONDS)
    deps.tickets.add_ticket(_ticket_id(ticket), user_id, expires_at=int(expires.timestamp()))
    return WsTicketResponse(
        ticket=ticket,
        expires_in=TICKET_TTL_SECONDS,
        expires_at=expires.isoformat(),
    )


def connect(
    connection_id: str,
    token: str | None,
    *,
    ticket: str | None = None,
    verifier: TokenVerifier,
    deps: Dependencies,
) -> str:
    """Accept a connection with a valid ticket (or, deprecated, token); returns the user id.

    A ticket is taken (deleted) as it is checked, so it opens one connection at most.
    """
    if ticket:
        user_id = deps.tickets.take_ticket(_ticket_id(ticket), now=int(deps.epoch_seconds()))
        if user_id is None:
            raise UnauthorizedError(
                "This ticket is unknown, used or expired; get a new one from POST /ws-tickets."
            )
    elif token:
        # Deprecated: a token in the query string ends up in access logs. Kept for the CLI
        # and older clients while they move to tickets (README: WebSocket).
        user_id = str(verifier.verify(token)["sub"])
    else:
        raise UnauthorizedError("Connect with ?ticket=<a ticket from POST /ws-tickets>.")
    deps.connections.add_connection(connection_id, user_id, expires_at=_expiry(deps))
    return user_id


def _ticket_id(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", errors="surrogateescape")).hexdigest()


def subscribe(
    connection_id: str, message: SubscribeMessage, *, deps: Dependencies
) -> JobEventMessage:
    """Follow a job; the first frame is always its current state, so nothing is missed.

    The state is sent before the subscription exists, so no pushed event can
    overtake it. Whatever changed between that read and the subscription is
    caught by a second read: if the job moved on, its newer state follows.
    Later frames may still race each other; their ``seq`` orders them.
    """
    user_id = deps.connections.connection_user(connection_id)
    if user_id is None:
        raise UnauthorizedError("This connection is not signed in; reconnect with a token.")
    try:
        record = as_seen(owned_job(deps.jobs, message.id, user_id=user_id), deps.jobs)
    except NotFoundError as error:
        frame = JobEventMessage(
            type="error",
            job_id=message.id,
            seq=0,
            status=JobStatus.FAILED,
            progress=0.0,
            error=ErrorInfo(
                code=error.code, message=error.message, suggestions=list(error.suggestions)
            ),
        )
        _send(deps, connection_id, frame)
        return frame
    first = current_state_message(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)
    _send(deps, connection_id, first)
    if record.status.is_final:
        return first
    # A follower listens to the job that actually runs, labelled with its own id.
    deps.connections.subscribe(
        connection_id,
        record.leader_job_id or record.id,
        client_job_id=record.id,
        expires_at=_expiry(deps),
    )
    latest = deps.jobs.get(message.id)
    if latest is not None:
        latest = as_seen(latest, deps.jobs)
        if latest.seq > record.seq or latest.status != record.status:
            _send(
                deps,
                connection_id,
                current_state_message(latest, deps.objects, url_ttl=deps.result_url_ttl_seconds),
            )
    return first


def _send(deps: Dependencies, connection_id: str, frame: JobEventMessage) -> None:
    deps.pusher.push(connection_id, frame.model_dump_json(exclude_none=True).encode())


def disconnect(connection_id: str, *, deps: Dependencies) -> None:
    deps.connections.remove_connection(connection_id)


def _expiry(deps: Dependencies) -> int:
    return int((deps.clock() + timedelta(hours=deps.connection_ttl_hours)).timestamp())
