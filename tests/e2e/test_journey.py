"""The whole journey over real HTTP and WebSocket, against the local stack."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.stack import StackProcess
from sketchbridge import cli
from tests.support.fakes import SKETCHES, sketch_data_url

pytestmark = pytest.mark.e2e


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _submit(stack: StackProcess, token: str, **body: Any) -> httpx.Response:
    payload = {
        "sketch": sketch_data_url("turtle.png"),
        "prompt": "a sea turtle, watercolor",
        **body,
    }
    return httpx.post(
        f"{stack.api_url}/generations", json=payload, headers=_headers(token), timeout=30
    )


def _follow(stack: StackProcess, token: str, job_id: str) -> list[dict[str, Any]]:
    """Subscribe and collect frames until the final one, as a client applies them.

    Frames may race each other; like every client, drop one whose ``seq`` is
    not above the last applied (a final frame is never stale).
    """
    frames: list[dict[str, Any]] = []
    with connect(f"{stack.ws_url}?token={token}", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        while True:
            frame = json.loads(socket.recv(timeout=60))
            final = frame["type"] in ("result", "error")
            if frames and frame["seq"] <= frames[-1]["seq"] and not final:
                continue
            frames.append(frame)
            if final:
                return frames


def _token_for(stack: StackProcess, user: str) -> str:
    response = httpx.post(f"{stack.api_url}/dev-issuer/token", json={"sub": user}, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


def test_turtle_sketch_becomes_a_png_with_ordered_live_events(stack: StackProcess) -> None:
    submitted = _submit(stack, stack.dev_token, params={"steps": 12, "seed": 5})
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] == "queued"

    frames = _follow(stack, stack.dev_token, job["id"])

    # The first frame is the job's state at subscription; nothing after it goes backwards.
    assert frames[0]["type"] in ("status", "result")
    progress = [frame["progress"] for frame in frames]
    assert progress == sorted(progress)
    steps = [frame["step"] for frame in frames if frame["type"] == "progress"]
    assert steps == list(range(steps[0], 13)) if steps else frames[0]["type"] == "result"
    final = frames[-1]
    assert final["type"] == "result" and final["status"] == "succeeded"

    image_bytes = httpx.get(final["result"]["url"], timeout=30).content
    with Image.open(io.BytesIO(image_bytes)) as image:
        assert image.format == "PNG"
        # turtle.png is square: the default output keeps its shape.
        assert image.size == (final["result"]["width"], final["result"]["height"]) == (768, 768)

    polled = httpx.get(
        f"{stack.api_url}/generations/{job['id']}", headers=_headers(stack.dev_token), timeout=10
    ).json()
    assert polled["status"] == "succeeded" and polled["progress"] == 1
    assert polled["result"]["seed"] == 5 and polled["result"]["provider"] == "local"


def test_the_same_seed_gives_the_same_image(stack: StackProcess) -> None:
    images = []
    for _ in range(2):
        job = _submit(stack, stack.dev_token, params={"steps": 2, "seed": 99, "width": 256}).json()
        final = _follow(stack, stack.dev_token, job["id"])[-1]
        images.append(httpx.get(final["result"]["url"], timeout=30).content)
    assert images[0] == images[1]


def test_a_late_subscriber_still_learns_the_outcome(stack: StackProcess) -> None:
    job = _submit(stack, stack.dev_token, params={"steps": 1, "width": 128}).json()
    _follow(stack, stack.dev_token, job["id"])  # wait for the end
    frames = _follow(stack, stack.dev_token, job["id"])
    assert len(frames) == 1 and frames[0]["type"] == "result"


def test_users_never_see_each_others_jobs(stack: StackProcess) -> None:
    job = _submit(stack, stack.dev_token, params={"steps": 1, "width": 128}).json()
    stranger = _token_for(stack, "someone-else")

    response = httpx.get(
        f"{stack.api_url}/generations/{job['id']}", headers=_headers(stranger), timeout=10
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

    frames = _follow(stack, stranger, job["id"])
    assert frames[-1]["type"] == "error" and frames[-1]["error"]["code"] == "not_found"


def test_bad_input_is_refused_with_a_stable_code(stack: StackProcess) -> None:
    response = _submit(stack, stack.dev_token, sketch="data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_format"
    response = _submit(stack, stack.dev_token, provider="imaginary")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_provider"


def test_requests_without_a_valid_token_are_refused(stack: StackProcess) -> None:
    response = httpx.get(f"{stack.api_url}/providers", timeout=10)
    assert response.status_code == 401
    response = httpx.get(f"{stack.api_url}/providers", headers=_headers("not-a-jwt"), timeout=10)
    assert response.status_code == 401
    with (
        pytest.raises(InvalidStatus, match=r"HTTP 40[13]"),
        connect(f"{stack.ws_url}?token=forged", open_timeout=10) as socket,
    ):
        socket.send(json.dumps({"action": "subscribe", "id": "x"}))
        socket.recv(timeout=10)


def test_the_cli_generates_from_the_turtle_sketch(
    stack: StackProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "turtle-art.png"
    state_file = tmp_path / "stack.json"
    state_file.write_text(json.dumps(stack.state))

    code = cli.main(
        [
            "generate",
            str(SKETCHES / "turtle.png"),
            "-p",
            "a sea turtle, watercolor",
            "--steps",
            "6",
            "-o",
            str(out),
            "--stack-file",
            str(state_file),
        ]
    )

    assert code == 0, capsys.readouterr().err
    with Image.open(out) as image:
        assert image.format == "PNG"
    assert "6/6" in capsys.readouterr().err
