"""Each real adapter, through its SDK, end to end: the local stack with the provider stand-ins.

One `python -m local.stack --standins` serves the module. A job names its provider; the
processor calls the adapter, the adapter's SDK calls the stand-in, and the client sees the
progress and the result (or the error) over the WebSocket, as it would with the real APIs.

Only failures that end a job at once are scripted here. A retryable one (rate limit, 5xx,
timeout) is retried by the SDK, then handed back to the queue, which delivers it again only
after the template's 720 s visibility timeout: far longer than a test should wait.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.sync.client import connect

from local.stack import StackProcess
from sketchbridge import cli
from sketchbridge.domain.models import JobEventMessage
from tests.support.fakes import SKETCHES, sketch_data_url

pytestmark = pytest.mark.e2e

PROVIDERS = ("replicate", "openai", "bedrock")
OPENAI_QUOTA_BODY = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """`make run STANDINS=1`, in its own process, on free ports."""
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_standins(stack: StackProcess) -> None:
    """Every test starts with empty scripts and request logs."""
    for name in PROVIDERS:
        httpx.post(f"{_standin(stack, name)}/_control/reset", timeout=10).raise_for_status()


def _standin(stack: StackProcess, name: str) -> str:
    return str(stack.state["standins"][name])


def _script(stack: StackProcess, name: str, outcomes: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{_standin(stack, name)}/_control/script", json=outcomes, timeout=10)
    response.raise_for_status()


def _received(stack: StackProcess, name: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{_standin(stack, name)}/_control/requests", timeout=10)
    return list(response.json())


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _submit(stack: StackProcess, provider: str, **params: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch": sketch_data_url("turtle.png"),
            # Unique, so no job is answered from the result cache without a provider call.
            "prompt": f"a sea turtle, watercolor, take {uuid.uuid4().hex[:8]}",
            "provider": provider,
            "params": params,
            # Each test is about this provider's own answer, not about failover.
            "allow_failover": False,
        },
        headers=_headers(stack.dev_token),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def _follow(stack: StackProcess, job_id: str) -> list[dict[str, Any]]:
    """Subscribe and collect frames until the final one, as a client applies them.

    Frames may race each other; like every client, drop one whose ``seq`` is
    not above the last applied (a final frame is never stale). Each frame must parse as
    the API's own message model, as the CLI parses it.
    """
    frames: list[dict[str, Any]] = []
    with connect(f"{stack.ws_url}?token={stack.dev_token}", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        while True:
            text = socket.recv(timeout=60)
            JobEventMessage.model_validate_json(text)
            frame = json.loads(text)
            final = frame["type"] in ("result", "error")
            if frames and frame["seq"] <= frames[-1]["seq"] and not final:
                continue
            frames.append(frame)
            if final:
                return frames


def _progress(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["type"] == "progress"]


def _png_size(url: str) -> tuple[int, int]:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG"
        return image.size


def _stated_size(result: dict[str, Any]) -> tuple[int, int]:
    return int(result["width"]), int(result["height"])


def _failed_with(stack: StackProcess, provider: str, code: str) -> dict[str, Any]:
    job = _submit(stack, provider, steps=4, width=256)
    final = _follow(stack, job["id"])[-1]
    assert final["type"] == "error" and final["status"] == "failed", final
    assert final["error"]["code"] == code, final["error"]
    assert final["error"]["message"] and final["error"]["suggestions"]
    polled = httpx.get(
        f"{stack.api_url}/generations/{job['id']}", headers=_headers(stack.dev_token), timeout=10
    ).json()
    assert polled["status"] == "failed" and polled["error"]["code"] == code
    return dict(final["error"])


# -- the happy path, one provider at a time ------------------------------------------------


def test_auto_picks_an_ai_provider_while_the_stand_ins_answer(stack: StackProcess) -> None:
    providers = httpx.get(
        f"{stack.api_url}/providers", headers=_headers(stack.dev_token), timeout=10
    ).json()
    assert providers["default"] == "local"
    assert [p["name"] for p in providers["providers"]] == ["local", *PROVIDERS]
    assert providers["auto"] in PROVIDERS

    job = _submit(stack, "auto", width=256, height=256)
    final = _follow(stack, job["id"])[-1]

    assert final["type"] == "result", final
    assert final["result"]["provider"] in PROVIDERS
    polled = httpx.get(
        f"{stack.api_url}/generations/{job['id']}", headers=_headers(stack.dev_token), timeout=10
    ).json()
    assert polled["offline_fallback"] is False and polled["provider"] in PROVIDERS
    assert "local" in {e["provider"] for e in polled["quote"]["excluded"]}


def test_steps_80_on_replicate_is_refused_naming_its_range(stack: StackProcess) -> None:
    response = httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch": sketch_data_url("turtle.png"),
            "prompt": f"a sea turtle, take {uuid.uuid4().hex[:8]}",
            "provider": "replicate",
            "params": {"steps": 80},
        },
        headers=_headers(stack.dev_token),
        timeout=30,
    )

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_params"
    assert "steps 80 is outside replicate's range 1..50" in error["message"]
    assert error["details"]["problems"][0]["max"] == 50
    # Nothing reached the stand-in: the request was refused before it was queued.
    assert _received(stack, "replicate") == []


def test_replicate_reports_each_denoising_step_and_returns_the_picture(
    stack: StackProcess,
) -> None:
    job = _submit(stack, "replicate", steps=8, seed=7)

    frames = _follow(stack, job["id"])

    final = frames[-1]
    assert final["type"] == "result", final
    assert final["result"]["provider"] == "replicate"
    assert final["result"]["seed"] == 7
    steps = [(frame["step"], frame["total_steps"]) for frame in _progress(frames)]
    # The steps the model's logs showed, in order, up to the last one.
    assert len(steps) >= 2 and steps[-1] == (8, 8)
    assert [step for step, _ in steps] == sorted({step for step, _ in steps})
    assert _png_size(final["result"]["url"]) == _stated_size(final["result"])
    created = [r for r in _received(stack, "replicate") if r["path"].endswith("/predictions")]
    assert [r["model"] for r in created] == ["black-forest-labs/flux-canny-dev"]


def test_openai_streams_partial_images_as_previews_then_the_picture(stack: StackProcess) -> None:
    job = _submit(stack, "openai")

    frames = _follow(stack, job["id"])

    final = frames[-1]
    assert final["type"] == "result", final
    assert final["result"]["provider"] == "openai"
    previews = [frame for frame in _progress(frames) if frame.get("preview_url")]
    # Two partial images are asked for; each arrives as a step with a preview to show.
    assert [frame["step"] for frame in previews] == [1, 2]
    assert {frame["total_steps"] for frame in previews} == {3}
    assert _png_size(previews[0]["preview_url"])[0] > 0
    assert _png_size(final["result"]["url"]) == (1024, 1024)
    assert [r["path"] for r in _received(stack, "openai")] == ["/v1/images/edits"]


def test_bedrock_reports_the_start_and_the_end_of_its_one_call(stack: StackProcess) -> None:
    # Bedrock answers in one piece; a second's wait keeps the end after we have subscribed.
    _script(stack, "bedrock", [{"delay_s": 1}])
    job = _submit(stack, "bedrock", seed=11)

    frames = _follow(stack, job["id"])

    final = frames[-1]
    assert final["type"] == "result", final
    assert final["result"]["provider"] == "bedrock" and final["result"]["seed"] == 11
    steps = [(frame["step"], frame["total_steps"]) for frame in _progress(frames)]
    assert steps[-1] == (1, 1)
    # The start: its own frame, or, when we subscribed after it, the state we were sent first.
    assert (0, 1) in steps or frames[0]["status"] == "running"
    assert _png_size(final["result"]["url"]) == _stated_size(final["result"])
    received = _received(stack, "bedrock")
    assert [r["model"] for r in received] == ["stability.stable-image-control-sketch-v1:0"]


def test_the_cli_generates_with_a_named_provider(
    stack: StackProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "turtle-replicate.png"
    state_file = tmp_path / "stack.json"
    state_file.write_text(json.dumps(stack.state))

    code = cli.main(
        [
            "generate",
            str(SKETCHES / "turtle.png"),
            "-p",
            "a sea turtle, watercolor",
            "--provider",
            "replicate",
            "--steps",
            "6",
            "-o",
            str(out),
            "--stack-file",
            str(state_file),
        ]
    )

    captured = capsys.readouterr()
    assert code == 0, captured.err
    with Image.open(out) as image:
        assert image.format == "PNG"
    assert "6/6" in captured.err
    assert "provider replicate" in captured.out


# -- scripted failures: each ends the job with its documented code --------------------------


def test_a_refused_replicate_token_fails_the_job_as_auth_failed(stack: StackProcess) -> None:
    _script(stack, "replicate", [{"status": 401}])

    error = _failed_with(stack, "replicate", "auth_failed")

    assert "Replicate" in error["message"]
    assert "r8_" not in json.dumps(error)  # the key is never shown
    created = [r for r in _received(stack, "replicate") if r["method"] == "POST"]
    assert len(created) == 1  # a refused key is not retried


def test_an_openai_moderation_refusal_fails_the_job_as_content_policy(
    stack: StackProcess,
) -> None:
    _script(stack, "openai", [{"outcome": "moderation"}])

    error = _failed_with(stack, "openai", "content_policy")

    assert error["retryable"] is False
    assert [r["path"] for r in _received(stack, "openai")] == ["/v1/images/edits"]


def test_used_up_openai_credit_fails_the_job_as_quota_exhausted(stack: StackProcess) -> None:
    _script(stack, "openai", [{"status": 429, "body": OPENAI_QUOTA_BODY}])

    error = _failed_with(stack, "openai", "quota_exhausted")

    assert "credit" in error["message"]
    # Unlike a rate limit, used-up credit is not asked again.
    assert [r["path"] for r in _received(stack, "openai")] == ["/v1/images/edits"]


def test_replicate_s_safety_checker_fails_the_job_as_content_policy(
    stack: StackProcess,
) -> None:
    _script(stack, "replicate", [{"outcome": "moderation"}])

    _failed_with(stack, "replicate", "content_policy")

    assert any(r["path"].endswith("/predictions") for r in _received(stack, "replicate"))


def test_bedrock_s_content_filter_fails_the_job_as_content_policy(stack: StackProcess) -> None:
    _script(stack, "bedrock", [{"outcome": "moderation"}])

    _failed_with(stack, "bedrock", "content_policy")

    assert len(_received(stack, "bedrock")) == 1
