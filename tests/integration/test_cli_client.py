"""`sketchbridge generate` against a tiny fake API on 127.0.0.1: real HTTP, real WebSocket.

The fake speaks the API's contract (docs/architecture.md, domain/models.py) and
plays scripted WebSocket frames, so each test shows what a user sees when the
feed works, is refused, drops half-way, or is not needed at all (a cache hit).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from sketchbridge import cli

pytestmark = pytest.mark.enable_socket

TURTLE = Path(__file__).resolve().parents[3] / "shared" / "sketches" / "turtle.png"
JOB_ID = "feedc0de00112233"
TOKEN = "dev-token"


def job(status: str, *, progress: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "status": status,
        "progress": progress,
        "prompt": "a sea turtle",
        "provider": "local",
        "params": {
            "seed": 42,
            "steps": 20,
            "strength": 0.75,
            "guidance_scale": 7.5,
            "width": 512,
            "height": 512,
        },
        "created_at": "2026-11-25T10:00:00+00:00",
        "updated_at": "2026-11-25T10:00:02+00:00",
        "result": None,
        "error": None,
        **extra,
    }


_frame_seq = itertools.count(1)


def frame(kind: str, status: str, progress: float, **extra: Any) -> dict[str, Any]:
    """A frame as the server sends it, each with the next write seq."""
    return {
        "type": kind,
        "job_id": JOB_ID,
        "seq": next(_frame_seq),
        "status": status,
        "progress": progress,
        **extra,
    }


@dataclass
class FakeApi:
    """The API as the CLI sees it. Tests set the answers, then read what was asked."""

    submit_status: int = 202
    submit_job: dict[str, Any] = field(default_factory=lambda: job("queued"))
    polled_job: dict[str, Any] = field(default_factory=lambda: job("queued"))
    frames: list[dict[str, Any]] = field(default_factory=list)
    refuse_websocket: bool = False
    api_url: str = ""
    ws_url: str = ""
    submitted: list[dict[str, Any]] = field(default_factory=list)
    api_authorizations: list[str | None] = field(default_factory=list)
    download_authorizations: list[str | None] = field(default_factory=list)
    websocket_tokens: list[str] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        return {
            "url": f"{self.api_url}/bucket/results/{JOB_ID}.png?X-Amz-Signature=abc",
            "width": 512,
            "height": 512,
            "provider": "local",
            "model": "local-renderer",
            "seed": 42,
            "content_type": "image/png",
        }

    def succeeded(self) -> dict[str, Any]:
        return job("succeeded", progress=1.0, result=self.result())


def http_handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_POST(self) -> None:
            api.api_authorizations.append(self.headers.get("Authorization"))
            length = int(self.headers["Content-Length"])
            api.submitted.append(json.loads(self.rfile.read(length)))
            self._json(api.submit_status, api.submit_job)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/bucket/"):
                api.download_authorizations.append(self.headers.get("Authorization"))
                self._send(200, TURTLE.read_bytes(), "image/png")
                return
            api.api_authorizations.append(self.headers.get("Authorization"))
            if path == f"/generations/{JOB_ID}":
                self._json(200, api.polled_job)
            else:
                error = {"code": "not_found", "message": "No such thing.", "suggestions": []}
                self._json(404, {"error": error})

    return Handler


def websocket_handler(api: FakeApi) -> Any:
    def handle(websocket: ServerConnection) -> None:
        api.subscriptions.append(json.loads(websocket.recv(timeout=5)))
        for message in api.frames:
            websocket.send(json.dumps(message))
        # Leaving the handler closes the connection: a drop, unless a final frame went first.

    return handle


def websocket_gate(api: FakeApi) -> Any:
    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        token = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        api.websocket_tokens.append(token)
        if api.refuse_websocket or token != TOKEN:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    return process_request


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    http = ThreadingHTTPServer(("127.0.0.1", 0), http_handler(fake))
    ws = serve(websocket_handler(fake), "127.0.0.1", 0, process_request=websocket_gate(fake))
    fake.api_url = f"http://127.0.0.1:{http.server_address[1]}"
    fake.ws_url = f"ws://127.0.0.1:{ws.socket.getsockname()[1]}"
    threads = [
        threading.Thread(target=http.serve_forever, daemon=True),
        threading.Thread(target=ws.serve_forever, daemon=True),
    ]
    for thread in threads:
        thread.start()
    yield fake
    http.shutdown()
    ws.shutdown()
    http.server_close()
    for thread in threads:
        thread.join(timeout=5)


@pytest.fixture
def stack_file(api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "stack.json"
    path.write_text(
        json.dumps({"api_url": api.api_url, "ws_url": api.ws_url, "dev_token": TOKEN}),
        encoding="utf-8",
    )
    return path


def generate(stack_file: Path, *extra: str) -> list[str]:
    return [
        "generate",
        str(TURTLE),
        "-p",
        "a sea turtle",
        "--seed",
        "42",
        "--stack-file",
        str(stack_file),
        "--timeout",
        "30",
        *extra,
    ]


def test_live_progress_over_the_websocket_then_the_image_is_saved(
    api: FakeApi, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.frames = [
        frame("status", "queued", 0.0, message="queued on local"),
        frame("status", "running", 0.0, message="running on local"),
        *(
            frame("progress", "running", step / 20, step=step, total_steps=20)
            for step in (5, 10, 15)
        ),
        frame("result", "succeeded", 1.0, result=api.result()),
    ]

    assert cli.main(generate(stack_file, "--json")) == cli.EXIT_OK

    out, err = capsys.readouterr()
    summary = json.loads(out)
    saved = tmp_path / f"turtle-{JOB_ID[:8]}.png"
    assert summary["output"] == str(saved.resolve())
    assert saved.read_bytes() == TURTLE.read_bytes()
    assert (summary["width"], summary["height"], summary["seed"]) == (512, 512, 42)
    assert (summary["provider"], summary["model"]) == ("local", "local-renderer")
    assert summary["progress_events"] == 3
    assert summary["transport"] == "websocket"
    assert summary["cached"] is False
    # stderr is not a terminal here: one line per change, the status messages on their own.
    assert "running on local\n" in err
    assert "[###############.....] 75% step 15/20 running on local" in err
    # The API got the token, the subscription named the job, the presigned URL got no token.
    assert api.api_authorizations == [f"Bearer {TOKEN}"]
    assert api.websocket_tokens == [TOKEN]
    assert api.subscriptions == [{"action": "subscribe", "id": JOB_ID}]
    assert api.download_authorizations == [None]
    assert api.submitted[0]["params"]["seed"] == 42
    assert api.submitted[0]["sketch"].startswith("data:image/png;base64,")


def test_a_refused_websocket_falls_back_to_polling(
    api: FakeApi, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.refuse_websocket = True
    api.polled_job = api.succeeded()

    assert cli.main(generate(stack_file, "-o", "art.png")) == cli.EXIT_OK

    out, err = capsys.readouterr()
    assert "WebSocket unavailable" in err
    assert "HTTP 401" in err
    assert err.count("polling") == 1
    assert (tmp_path / "art.png").read_bytes() == TURTLE.read_bytes()
    assert (
        out.splitlines()[0]
        == "Saved art.png (512x512 PNG, " + cli.format_bytes(TURTLE.stat().st_size) + ")"
    )
    assert "via polling" in out


def test_a_feed_that_drops_halfway_is_finished_by_polling(
    api: FakeApi, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.frames = [
        frame("status", "running", 0.0, message="running on local"),
        frame("progress", "running", 0.5, step=10, total_steps=20),
    ]
    api.polled_job = api.succeeded()

    assert cli.main(generate(stack_file, "--json")) == cli.EXIT_OK

    summary = json.loads(capsys.readouterr().out)
    assert summary["transport"] == "websocket+polling"
    assert summary["progress_events"] == 1


def test_a_cached_result_needs_no_websocket(
    api: FakeApi, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.submit_status = 200
    api.submit_job = api.succeeded()

    assert cli.main(generate(stack_file, "--json")) == cli.EXIT_OK

    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["cached"] is True
    assert summary["transport"] == "none"
    assert "served from cache" in err
    assert api.websocket_tokens == []


def test_a_failed_job_prints_its_code_message_and_suggestions(
    api: FakeApi, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = {
        "code": "content_policy",
        "message": "The provider refused this prompt.",
        "suggestions": ["Rephrase the prompt or change the sketch; the provider refused it."],
        "retryable": False,
    }
    api.frames = [
        frame("status", "running", 0.0, message="running on local"),
        frame("error", "failed", 0.3, error=error),
    ]

    assert cli.main(generate(stack_file)) == cli.EXIT_FAILED

    out, err = capsys.readouterr()
    assert out == ""
    assert "error: The provider refused this prompt. [content_policy]" in err
    assert "  - Rephrase the prompt or change the sketch; the provider refused it." in err
    assert f"job {JOB_ID}" in err
    assert not list(tmp_path.glob("*.png"))


def test_an_api_that_is_not_running_is_reported_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # A port that was just free: nothing listens there.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    argv = ["providers", "--api", f"http://127.0.0.1:{port}", "--token", "t"]

    assert cli.main(argv) == cli.EXIT_FAILED

    err = capsys.readouterr().err
    assert f"Could not reach the API at http://127.0.0.1:{port}" in err
    assert "[unreachable]" in err
