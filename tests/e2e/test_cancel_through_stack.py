"""Cancel as a user sees it, end to end: the local stack with the provider stand-ins.

A job scripted to run slowly on the Replicate stand-in, canceled, ends canceled and the
stand-in's log shows the prediction's cancel. A job on Bedrock, whose stand-in is scripted
to take a few seconds over its one InvokeModel, is canceled while it runs: the subscriber's
last frame is ``canceled``, the job stays canceled, and once the processor has stopped, the
job's cost is what the stand-in billed (Bedrock bills the image it delivered; nothing can
stop InvokeModel midway).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from local.stack import StackProcess
from sketchbridge.domain.models import JobEventMessage
from tests.support.fakes import sketch_data_url

pytestmark = pytest.mark.e2e

STANDINS = ("replicate", "openai", "bedrock")
BEDROCK_DRAWS_FOR_S = 4.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_standins(stack: StackProcess) -> Iterator[None]:
    for name in STANDINS:
        _control(stack, name, "reset")
    yield
    for name in STANDINS:
        _control(stack, name, "reset")


def _standin(stack: StackProcess, name: str) -> str:
    return str(stack.state["standins"][name])


def _control(stack: StackProcess, name: str, action: str, body: Any = None) -> None:
    httpx.post(
        f"{_standin(stack, name)}/_control/{action}", json=body, timeout=10
    ).raise_for_status()


def _headers(stack: StackProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.dev_token}"}


def _submit(stack: StackProcess, provider: str) -> str:
    response = httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch": sketch_data_url("turtle.png"),
            # Unique, so no job is answered from the result cache or follows another.
            "prompt": f"a lighthouse at dusk, take {uuid.uuid4().hex[:8]}",
            "provider": provider,
            "allow_failover": False,
            "params": {"steps": 4, "seed": 5, "width": 512, "height": 512},
        },
        headers=_headers(stack),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _next_frame(socket: ClientConnection) -> dict[str, Any]:
    text = socket.recv(timeout=60)
    JobEventMessage.model_validate_json(text)
    frame: dict[str, Any] = json.loads(text)
    return frame


def _cancel(stack: StackProcess, job_id: str) -> httpx.Response:
    return httpx.post(
        f"{stack.api_url}/generations/{job_id}/cancel", headers=_headers(stack), timeout=30
    )


def _invocations(stack: StackProcess) -> int:
    received = httpx.get(f"{_standin(stack, 'bedrock')}/_control/requests", timeout=10).json()
    return sum(1 for r in received if r["path"].endswith("/invoke"))


def _job(stack: StackProcess, job_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.api_url}/generations/{job_id}", headers=_headers(stack), timeout=10
    )
    response.raise_for_status()
    return dict(response.json())


def test_a_running_job_canceled_ends_canceled_for_its_subscriber_and_records_its_bill(
    stack: StackProcess,
) -> None:
    _control(stack, "bedrock", "script", [{"delay_s": BEDROCK_DRAWS_FOR_S}])
    with connect(f"{stack.ws_url}?token={stack.dev_token}", open_timeout=10) as socket:
        job_id = _submit(stack, "bedrock")
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        frame = _next_frame(socket)
        # Wait until Bedrock has the call (its stand-in holds it for a few seconds): a cancel
        # before that stops the job before the call, and nothing is billed.
        deadline = time.monotonic() + 30
        while not _invocations(stack) and time.monotonic() < deadline:
            time.sleep(0.05)

        response = _cancel(stack, job_id)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "canceled"
        frames = [frame]
        while frames[-1]["type"] not in ("result", "error", "canceled"):
            frames.append(_next_frame(socket))
    last = frames[-1]
    assert (last["type"], last["status"], last["job_id"]) == ("canceled", "canceled", job_id)
    assert _cancel(stack, job_id).json()["status"] == "canceled"  # again: the same

    # Once Bedrock answered, the processor stops and records what it billed: one image.
    deadline = time.monotonic() + BEDROCK_DRAWS_FOR_S + 30
    job = _job(stack, job_id)
    while job["cost_usd"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        job = _job(stack, job_id)
    assert job["status"] == "canceled" and job["result"] is None
    billed = httpx.get(f"{_standin(stack, 'bedrock')}/_control/billing", timeout=10).json()
    assert len(billed["calls"]) == 1
    assert job["cost_usd"] > 0
    assert [(hop["provider"], hop["outcome"]) for hop in job["hops"]] == [("bedrock", "canceled")]


def test_a_finished_job_cannot_be_canceled(stack: StackProcess) -> None:
    with connect(f"{stack.ws_url}?token={stack.dev_token}", open_timeout=10) as socket:
        job_id = _submit(stack, "local")
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        frame = _next_frame(socket)
        while frame["type"] not in ("result", "error", "canceled"):
            frame = _next_frame(socket)
    assert frame["type"] == "result"

    response = _cancel(stack, job_id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_finished"
    assert response.json()["error"]["status"] == "succeeded"


def _replicate_requests(stack: StackProcess) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = httpx.get(
        f"{_standin(stack, 'replicate')}/_control/requests", timeout=10
    ).json()
    return received


def test_a_job_running_slowly_on_replicate_canceled_ends_canceled_and_replicate_hears_it(
    stack: StackProcess,
) -> None:
    # A slow model: each of its steps takes a second, the adapter polls it meanwhile.
    _control(stack, "replicate", "script", [{"outcome": "slow", "s_per_step": 1.0}])
    with connect(f"{stack.ws_url}?token={stack.dev_token}", open_timeout=10) as socket:
        job_id = _submit(stack, "replicate")
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            r["method"] == "POST" and r["path"].endswith("/predictions")
            for r in _replicate_requests(stack)
        ):
            time.sleep(0.05)

        response = _cancel(stack, job_id)

        assert response.status_code == 200, response.text
        frames = [_next_frame(socket)]
        while frames[-1]["type"] not in ("result", "error", "canceled"):
            frames.append(_next_frame(socket))
    assert (frames[-1]["type"], frames[-1]["status"]) == ("canceled", "canceled")

    # The adapter hears of the cancel and calls the prediction's cancel URL.
    deadline = time.monotonic() + 15
    canceled: list[dict[str, Any]] = []
    while not canceled and time.monotonic() < deadline:
        time.sleep(0.2)
        canceled = [
            r
            for r in _replicate_requests(stack)
            if r["method"] == "POST" and r["path"].endswith("/cancel")
        ]
    assert len(canceled) == 1
    # What the canceled prediction billed (the seconds it ran) ends up on the job.
    deadline = time.monotonic() + 15
    job = _job(stack, job_id)
    while job["cost_usd"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        job = _job(stack, job_id)
    assert job["status"] == "canceled" and job["result"] is None
    billed = httpx.get(f"{_standin(stack, 'replicate')}/_control/billing", timeout=10).json()
    assert [call.get("status") for call in billed["calls"]] == ["canceled"]
    assert job["cost_usd"] == pytest.approx(billed["total_usd"], abs=1e-6)
