"""WebSocket connections: who is connected, which jobs they follow, and their first frame."""

from __future__ import annotations

from datetime import timedelta

from sketchbridge.domain.errors import NotFoundError, UnauthorizedError
from sketchbridge.domain.models import ErrorInfo, JobEventMessage, JobStatus, SubscribeMessage
from sketchbridge.services.get_generation import owned_job
from sketchbridge.services.job_views import current_state_message
from sketchbridge.services.ports import Dependencies, TokenVerifier


def connect(
    connection_id: str, token: str | None, *, verifier: TokenVerifier, deps: Dependencies
) -> str:
    """Accept a connection whose token is valid; returns the user id."""
    if not token:
        raise UnauthorizedError("Connect with ?token=<your access token>.")
    user_id = str(verifier.verify(token)["sub"])
    deps.connections.add_connection(connection_id, user_id, expires_at=_expiry(deps))
    return user_id


def subscribe(
    connection_id: str, message: SubscribeMessage, *, deps: Dependencies
) -> JobEventMessage:
    """Follow a job and send its current state first, so a late subscriber never misses the end.

    The subscription is stored before the state is read: any change after the
    read is pushed, any change before it is in the first frame.
    """
    user_id = deps.connections.connection_user(connection_id)
    if user_id is None:
        raise UnauthorizedError("This connection is not signed in; reconnect with a token.")
    try:
        owned_job(deps.jobs, message.id, user_id=user_id)
    except NotFoundError as error:
        frame = JobEventMessage(
            type="error",
            job_id=message.id,
            status=JobStatus.FAILED,
            progress=0.0,
            error=ErrorInfo(
                code=error.code, message=error.message, suggestions=list(error.suggestions)
            ),
        )
        deps.pusher.push(connection_id, frame.model_dump_json(exclude_none=True).encode())
        return frame
    deps.connections.subscribe(connection_id, message.id, expires_at=_expiry(deps))
    record = owned_job(deps.jobs, message.id, user_id=user_id)
    frame = current_state_message(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)
    deps.pusher.push(connection_id, frame.model_dump_json(exclude_none=True).encode())
    return frame


def disconnect(connection_id: str, *, deps: Dependencies) -> None:
    deps.connections.remove_connection(connection_id)


def _expiry(deps: Dependencies) -> int:
    return int((deps.clock() + timedelta(hours=deps.connection_ttl_hours)).timestamp())
