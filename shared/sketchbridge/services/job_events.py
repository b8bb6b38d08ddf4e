"""Push job events to everyone subscribed to the job."""

from __future__ import annotations

import time

from sketchbridge.domain.models import JobEventMessage
from sketchbridge.services.ports import ConnectionPusher, ConnectionStore, Subscriber


def publish(
    message: JobEventMessage,
    *,
    connections: ConnectionStore | RecentSubscribers,
    pusher: ConnectionPusher,
) -> int:
    """Send the message to every live subscriber; forget connections that are gone.

    Returns how many subscribers received it.
    """
    delivered = 0
    final = message.type in ("result", "error", "canceled") or (
        message.step is not None and message.step == message.total_steps
    )
    subscribers = (
        connections.subscribers(message.job_id, fresh=final)
        if isinstance(connections, RecentSubscribers)
        else connections.subscribers(message.job_id)
    )
    for subscriber in subscribers:
        # A follower's client knows its own job id, not the leader's.
        labelled = (
            message
            if subscriber.client_job_id == message.job_id
            else message.model_copy(update={"job_id": subscriber.client_job_id})
        )
        frame = labelled.model_dump_json(exclude_none=True).encode()
        if pusher.push(subscriber.connection_id, frame):
            delivered += 1
        else:
            connections.remove_connection(subscriber.connection_id)
    return delivered


# How long "no subscribers" is believed: a client typically subscribes right after submit.
EMPTY_MAX_AGE_S = 0.1


class RecentSubscribers:
    """A job's subscribers, looked up at most every ``max_age_s`` while it runs.

    A job pushes a frame per step; looking the subscribers up for each would
    cost a query per step. A client that subscribes in between gets the job's
    state from its subscribe anyway, and hears the next frames within
    ``max_age_s``. Final frames and the last step always look again (``fresh``), so
    nobody misses the end.
    """

    def __init__(self, connections: ConnectionStore, *, max_age_s: float = 1.0) -> None:
        self._connections = connections
        self._max_age_s = max_age_s
        self._seen: dict[str, tuple[float, list[Subscriber]]] = {}

    def subscribers(self, job_id: str, *, fresh: bool = False) -> list[Subscriber]:
        now = time.monotonic()
        seen = self._seen.get(job_id)
        # Nobody yet: look again soon, as a client usually subscribes just after submit.
        max_age = self._max_age_s if seen and seen[1] else min(self._max_age_s, EMPTY_MAX_AGE_S)
        if fresh or seen is None or now - seen[0] > max_age:
            seen = (now, self._connections.subscribers(job_id))
            self._seen[job_id] = seen
        return list(seen[1])

    def remove_connection(self, connection_id: str) -> None:
        self._connections.remove_connection(connection_id)
        self._seen.clear()

    # The rest of ConnectionStore, passed through, so this can stand in for it.
    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None:
        self._connections.add_connection(connection_id, user_id, expires_at=expires_at)

    def connection_user(self, connection_id: str) -> str | None:
        return self._connections.connection_user(connection_id)

    def subscribe(
        self, connection_id: str, job_id: str, *, client_job_id: str, expires_at: int
    ) -> None:
        self._connections.subscribe(
            connection_id, job_id, client_job_id=client_job_id, expires_at=expires_at
        )
