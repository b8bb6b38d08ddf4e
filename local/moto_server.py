"""Emulated AWS: moto in server mode on 127.0.0.1, in a thread of this process.

moto keeps its state in module globals, shared by every moto server and `mock_aws` in one
process; `start()` resets it so each stack starts empty. Hence: one in-process stack at a time,
and never alongside `mock_aws` in the same process (run the stack as a subprocess instead).

moto answers each request on its own thread and checks a DynamoDB write's condition, then
applies it, without a lock: two concurrent conditional writes to one item can both pass (two
claims of one job, a budget admitting past its hard limit, a rate-limit bucket overdrawn).
DynamoDB never lets that happen and the product relies on it, so every server started here
serialises moto's DynamoDB requests (`serialise_dynamodb_requests`).

moto checks no signature and answers CORS for any origin, and a web page open in the same
browser can reach 127.0.0.1: it could read every user's sketches and results, write the
tables or queue messages. Here moto answers no CORS, and a request from a browser (it sends
`Origin` or `Sec-Fetch-Site`; boto3 sends neither) only when it is a GET or HEAD of a
presigned S3 URL, which is how the page shows and downloads a result; the Host must be a
loopback name, so a rebound DNS name gets nothing either. A browser's POST of a presigned
upload form (``POST /uploads``) is refused as well: with no signature checked, a page could
forge the form and write any key (another user's result); the page sends data URLs instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import httpx
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server import werkzeug_app
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

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


_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_BROWSER_READS = ("GET", "HEAD")


class _BrowserGuard:
    """WSGI: refuse what a web page could send to emulated AWS, but presigned S3 reads."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _refused(environ):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"Emulated AWS answers boto3 and presigned URLs only.\n"]
        return self._app(environ, start_response)


def _refused(environ: dict[str, Any]) -> bool:
    host = str(environ.get("HTTP_HOST", "")).rsplit(":", 1)[0]
    if host not in _LOOPBACK_NAMES:
        return True
    from_a_browser = "HTTP_ORIGIN" in environ or "HTTP_SEC_FETCH_SITE" in environ
    if not from_a_browser:
        return False
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    # A presigned S3 read (SigV4 or SigV2 query authentication). moto checks no signature,
    # so a page may forge one: what it gets is an opaque object read, never an action of
    # the Query APIs (SQS answers ?Action=SendMessage on a GET too).
    presigned = "X-Amz-Signature" in query or "Signature" in query
    action = "Action" in query
    return environ.get("REQUEST_METHOD") not in _BROWSER_READS or not presigned or action


class _GuardedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        # moto reads MOTO_DISABLE_GLOBAL_CORS once, at import; this is where it looks.
        werkzeug_app.DISABLE_GLOBAL_CORS = True
        app = _BrowserGuard(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    """One moto server; `port=0` picks a free port, read back from `endpoint_url`."""

    def __init__(self, *, port: int = 0) -> None:
        self._server = _GuardedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
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
