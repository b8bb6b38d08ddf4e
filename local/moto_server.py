"""Emulated AWS: moto in server mode on 127.0.0.1, in a thread of this process.

moto keeps its state in module globals, shared by every moto server and `mock_aws` in one
process; `start()` resets it so each stack starts empty. Hence: one in-process stack at a time,
and never alongside `mock_aws` in the same process (run the stack as a subprocess instead).
"""

from __future__ import annotations

import logging

import httpx
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
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        httpx.post(f"{self._endpoint_url}/moto-api/reset").raise_for_status()
        return self._endpoint_url

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None
