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
    delivered = 0
    for subscriber in connections.subscribers(message.job_id):
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
