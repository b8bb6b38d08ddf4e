"""Following a job until it ends: its frames from the WebSocket, else by polling.

Progress arrives over the WebSocket. If that cannot be opened or drops, the follower polls
``GET /generations/{id}`` instead and turns each answer into the frame the server would
have sent (``services/job_views.job_frame``, the one mapping): the WebSocket makes progress
quicker to see, it is never needed to learn the outcome.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.endpoints import websocket_url
from sketchbridge.cli.errors import ApiError, CliError

if TYPE_CHECKING:
    from sketchbridge.domain.models import JobEventMessage, JobResponse

DEFAULT_WAIT_SECONDS = 300.0
POLL_INTERVAL_SECONDS = 1.0
# With no frame for this long, ask the API directly, in case a push was lost.
QUIET_CHECK_SECONDS = 10.0
WEBSOCKET_OPEN_TIMEOUT_SECONDS = 10.0


def job_frame(job: JobResponse) -> JobEventMessage:
    """The frame the server would send for this state of the job."""
    from sketchbridge.services.job_views import job_frame as frame_of

    return frame_of(job)


class _WebSocketLostError(Exception):
    """The WebSocket could not be opened or stopped working; polling takes over."""


def is_final_event(event: JobEventMessage) -> bool:
    return event.type in ("result", "error") or event.status.is_final


def parse_event_frame(frame: str | bytes) -> JobEventMessage:
    from pydantic import ValidationError

    from sketchbridge.domain.models import JobEventMessage

    try:
        return JobEventMessage.model_validate_json(frame)
    except ValidationError as exc:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        raise _WebSocketLostError(f"unexpected message {text[:120]!r}") from exc


def describe_websocket_failure(exc: Exception) -> str:
    from websockets.exceptions import ConnectionClosed

    if isinstance(exc, ConnectionClosed):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError):
        return "timed out while connecting"
    return str(exc) or type(exc).__name__


class JobFollower:
    """Iterate over a job's events until it ends: from the WebSocket, else by polling.

    The first event is the job's current state and the last one is final
    (``is_final_event``). A job already finished when submitted (a cache hit)
    yields that one event without opening anything. ``transports`` records what
    was used, in order.
    """

    def __init__(
        self,
        client: SketchbridgeClient,
        job: JobResponse,
        *,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        on_notice: Callable[[str], None] = lambda text: None,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        quiet_check: float = QUIET_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._job = job
        self._wait_seconds = wait_seconds
        self._notice = on_notice
        self._poll_interval = poll_interval
        self._quiet_check = quiet_check
        self._clock = clock
        self._sleep = sleep
        self.transports: list[Literal["websocket", "polling"]] = []
        self.last_event: JobEventMessage | None = None

    def __iter__(self) -> Iterator[JobEventMessage]:
        for event in self._events():
            self.last_event = event
            yield event

    def _events(self) -> Iterator[JobEventMessage]:
        deadline = self._clock() + self._wait_seconds
        if self._job.status.is_final:
            yield job_frame(self._job)
            return
        polling = f"polling GET /generations/{{id}} every {self._poll_interval:g} s"
        ws_url = self._client.endpoints.ws_url
        if ws_url is None:
            self._notice(f"No WebSocket address known; {polling}.")
        else:
            try:
                yield from self._over_websocket(ws_url, deadline)
                return
            except _WebSocketLostError as exc:
                self._notice(f"WebSocket unavailable ({exc}); {polling} instead.")
        yield from self._by_polling(deadline)

    def _over_websocket(self, ws_url: str, deadline: float) -> Iterator[JobEventMessage]:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        job_id = self._job.id
        address = websocket_url(ws_url, self._client.endpoints.token)
        try:
            with connect(
                address, open_timeout=WEBSOCKET_OPEN_TIMEOUT_SECONDS, close_timeout=2
            ) as websocket:
                self.transports.append("websocket")
                # Subscribing after submit loses nothing: the server answers with the current state.
                websocket.send(json.dumps({"action": "subscribe", "id": job_id}))
                applied_seq = -1
                while True:
                    wait = min(self._remaining(deadline), self._quiet_check)
                    try:
                        frame = websocket.recv(timeout=wait)
                    except TimeoutError:
                        quiet_answer = self._check_quietly(job_id)
                        if quiet_answer is not None:
                            yield quiet_answer
                            return
                        continue
                    event = parse_event_frame(frame)
                    if event.job_id != job_id:
                        continue
                    if event.seq <= applied_seq and not is_final_event(event):
                        continue  # overtaken by a newer frame: frames may race each other
                    applied_seq = max(applied_seq, event.seq)
                    yield event
                    if is_final_event(event):
                        return
        except (OSError, WebSocketException) as exc:
            raise _WebSocketLostError(describe_websocket_failure(exc)) from exc

    def _check_quietly(self, job_id: str) -> JobEventMessage | None:
        """After a silence, the final event if the job ended without us hearing of it."""
        try:
            job = self._client.get(job_id)
        except ApiError as exc:
            if not exc.retryable:
                raise
            return None
        return job_frame(job) if job.status.is_final else None

    def _by_polling(self, deadline: float) -> Iterator[JobEventMessage]:
        self.transports.append("polling")
        job_id = self._job.id
        last_seen: tuple[object, ...] | None = None
        told_of_trouble = False
        while True:
            try:
                job = self._client.get(job_id)
            except ApiError as exc:
                if not exc.retryable:
                    raise
                if not told_of_trouble:
                    self._notice(f"The API did not answer ({exc.message}); still trying.")
                    told_of_trouble = True
            else:
                event = job_frame(job)
                seen = (event.type, event.status, event.progress, event.message)
                if seen != last_seen:
                    last_seen = seen
                    yield event
                if is_final_event(event):
                    return
            self._sleep(min(self._poll_interval, self._remaining(deadline)))

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            status = self.last_event.status.value if self.last_event else "queued"
            raise CliError(
                f"The job is still {status} after {self._wait_seconds:g} s; it goes on without us.",
                code="client_timeout",
                suggestions=[
                    "Wait longer with --timeout SECONDS.",
                    f"Look it up later: GET /generations/{self._job.id}",
                ],
                retryable=True,
                job_id=self._job.id,
            )
        return remaining
