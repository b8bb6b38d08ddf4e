"""Emulated AWS: moto in server mode on 127.0.0.1, in a thread of this process.

moto keeps its state in module globals, shared by every moto server and `mock_aws` in one
process; `start()` resets it so each stack starts empty. Hence: one in-process stack at a time,
and never alongside `mock_aws` in the same process (run the stack as a subprocess instead).

moto answers each request on its own thread and checks a DynamoDB write's condition, then
applies it, without a lock: two concurrent conditional writes to one item can both pass (two
claims of one job, a budget admitting past its hard limit, a rate-limit bucket overdrawn).
DynamoDB never lets that happen and the product relies on it, so every server started here
serialises moto's DynamoDB requests (`serialise_dynamodb_requests`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

from local.template import REGION

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
"""What every boto3 client talking to the emulated AWS signs with; moto accepts anything."""


_DYNAMODB_LOCK = threading.RLock()
_serialised = False


def serialise_dynamodb_requests() -> None:
    """Make moto answer DynamoDB requests one at a time, as atomic as DynamoDB's own.

    Installed once per process and kept: moto's state is per process too, so every moto
    server and ``mock_aws`` in it shares the lock. Reads are serialised as well; a read
    between a condition check and its write would see what DynamoDB never shows.
    """
    global _serialised
    with _DYNAMODB_LOCK:
        if _serialised:
            return
        original = DynamoHandler.call_action

        def one_at_a_time(self: DynamoHandler) -> Any:
            with _DYNAMODB_LOCK:
                return original(self)

        DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]
        _serialised = True


class MotoServer:
    """One moto server; `port=0` picks a free port, read back from `endpoint_url`."""

    def __init__(self, *, port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("the moto server has not been started")
        return self._endpoint_url

    def start(self) -> str:
        # werkzeug logs every request at INFO; the stack's own log is what a developer reads.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        serialise_dynamodb_requests()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        httpx.post(f"{self._endpoint_url}/moto-api/reset").raise_for_status()
        return self._endpoint_url

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None
