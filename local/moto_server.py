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

import copy
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
        _roll_back_transactions_by_item()
        _serialised = True


class _TableCopies:
    """moto's ``copy`` module, but a transaction's "backup" of a whole table is the table.

    moto's TransactWriteItems deep-copies every table it touches before it starts, to roll
    back on failure: its cost grows with the table, so a long local run slowed down as the
    ledger and budgets tables filled (~20 ms a transaction after a few hundred jobs, half of
    the emulator's CPU in bench/throughput.py). DynamoDB's own cost does not grow so.
    ``_roll_back_transactions_by_item`` keeps the touched items instead; the rest of moto's
    use of ``copy`` is unchanged.
    """

    def __init__(self) -> None:
        self.copy_whole_tables = threading.local()

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table) and not getattr(self.copy_whole_tables, "on", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _roll_back_transactions_by_item() -> None:
    """Snapshot the items a transaction touches, and put them back if it fails.

    Only sound with the DynamoDB requests serialised (above): nothing else writes between
    the snapshot and the rollback. Whatever cannot be snapshotted (an unknown table, a Put
    without its key) runs moto's own way, whole tables copied.
    """
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    copies = _TableCopies()
    models.copy = copies  # type: ignore[assignment]
    original = DynamoDBBackend.transact_write_items

    def by_item(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        try:
            snapshot = _touched_items(self, transact_items)
        except Exception:
            copies.copy_whole_tables.on = True
            try:
                return original(self, transact_items)
            finally:
                copies.copy_whole_tables.on = False
        try:
            return original(self, transact_items)
        except BaseException:
            for table_name, key, attributes in reversed(snapshot):
                if attributes is not None:
                    self.put_item(table_name, attributes)
                elif self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            raise

    DynamoDBBackend.transact_write_items = by_item  # type: ignore[method-assign]


def _touched_items(
    backend: Any, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, key, the item's attributes before, or None when there was none), in order."""
    snapshot = []
    for entry in transact_items:
        operation, request = next(iter(entry.items()))
        table_name = request["TableName"]
        if operation == "Put":
            table = backend.get_table(table_name)
            attributes = request["Item"]
            key = {table.hash_key_attr: attributes[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attributes[table.range_key_attr]
        else:
            key = request["Key"]
        current = backend.get_item(table_name, key)
        before = copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None
        snapshot.append((table_name, key, before))
    return snapshot


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
