"""Shared fixtures for the provider contract tests: serve a stand-in app on a free local port.

Each contract test runs an adapter through its real vendor SDK against that vendor's stand-in,
served by uvicorn on 127.0.0.1 (local/server.py), so every byte crosses a real socket. Usage:

    def test_x(serve: Serve) -> None:
        base_url = serve(create_app(control))   # "http://127.0.0.1:PORT"

Servers started through `serve` are stopped when the test (or the fixture using it) ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.types import ASGIApp

from local.server import BackgroundServer, listen

Serve = Callable[[ASGIApp], str]


def start_server(app: ASGIApp) -> BackgroundServer:
    """Bind a free port now and serve `app` on it in a background thread."""
    server = BackgroundServer(app, listen(0))
    server.start()
    return server


def base_url_of(server: BackgroundServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(app) -> base_url`: the app answers there until the test ends."""
    servers: list[BackgroundServer] = []

    def serve_app(app: ASGIApp) -> str:
        server = start_server(app)
        servers.append(server)
        return base_url_of(server)

    yield serve_app
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def serve_for_module() -> Iterator[Serve]:
    """Like `serve`, but the servers live for the whole test module (one stand-in, many tests)."""
    servers: list[BackgroundServer] = []

    def serve_app(app: ASGIApp) -> str:
        server = start_server(app)
        servers.append(server)
        return base_url_of(server)

    yield serve_app
    for server in servers:
        server.stop()
