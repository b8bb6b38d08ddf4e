"""Push job events to everyone subscribed to the job."""

from __future__ import annotations

from sketchbridge.domain.models import JobEventMessage
from sketchbridge.services.ports import ConnectionPusher, ConnectionStore


def publish(
    message: JobEventMessage, *, connections: ConnectionStore, pusher: ConnectionPusher
) -> int:
    """Send the message to every live subscriber; forget connections that are gone.

    Returns how many subscribers received it.
    """
    frame = message.model_dump_json(exclude_none=True).encode()
    delivered = 0
    for connection_id in connections.subscribers(message.job_id):
        if pusher.push(connection_id, frame):
            delivered += 1
        else:
            connections.remove_connection(connection_id)
    return delivered
