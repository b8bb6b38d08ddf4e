"""Serve an ASGI app with uvicorn on an already bound socket, in a background thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

# A WebSocket API takes messages up to 128 KB (in frames of up to 32 KB).
MAX_INCOMING_MESSAGE_BYTES = 128 * 1024


def listen(port: int) -> socket.socket:
    """Bind 127.0.0.1:`port` now (0: a free port), so the URL is known before serving starts."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as error:
        listener.close()
        raise OSError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    listener.listen(128)
    listener.setblocking(False)
    return listener


class BackgroundServer:
    """uvicorn in a thread; `stop()` lets open requests and WebSockets finish, then returns."""

    def __init__(self, app: ASGIApp, listener: socket.socket) -> None:
        self.port: int = listener.getsockname()[1]
        self._listener = listener
        config = uvicorn.Config(
            app,
            ws="websockets-sansio",
            ws_max_size=MAX_INCOMING_MESSAGE_BYTES,
            lifespan="off",
            # Leave the process's logging alone; the stack logs through `logging`.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, name="gateway", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server did not start; see the log above")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join()
        self._listener.close()
