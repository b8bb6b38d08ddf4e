"""AWS calls per job, counted on the AWS side: every request the emulated AWS receives.

    .venv/bin/python -m bench.aws_calls [--steps 20]

The stack runs in this process with moto's own recorder on (``moto.moto_api.recorder``):
each request moto answers is logged by moto, whoever sent it, and the gateway's
``@connections`` management API (PostToConnection, served by the local gateway as API
Gateway serves it on AWS) is counted beside it. Three jobs, one at a time, after a warm-up:

- the 20-step miss watched over the WebSocket: from the submit to the result frame, the
  client's connect and subscribe included;
- the same request again: the cache hit;
- a 20-step miss nobody watches.

Excluded, as the issue asks: the SQS ReceiveMessage and DeleteMessage(Batch) that Lambda's
event source makes (here the local poller), which the handlers never make.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from bench.cache import _stdout_to_stderr
from local.stack import LocalStack
from local.template import STACK_NAME

SKETCH = Path(__file__).resolve().parents[2] / "shared" / "sketches" / "turtle.png"
EVENT_SOURCE_CALLS = {"sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.DeleteMessageBatch"}
TARGET_MISS = 12
TARGET_HIT = 3


def body(prompt: str, steps: int) -> dict[str, Any]:
    sketch = "data:image/png;base64," + base64.b64encode(SKETCH.read_bytes()).decode()
    return {
        "sketch": sketch,
        "prompt": prompt,
        "provider": "local",
        "params": {"seed": 11, "steps": steps},
    }


class AwsSideCounter:
    """moto's recording, read back as "service.Operation table" counts, plus @connections."""

    def __init__(self, recording: Path) -> None:
        self._recording = recording
        self._lock = threading.Lock()
        self._management: Counter[str] = Counter()

    def start(self) -> None:
        from moto.moto_api import recorder

        os.environ["MOTO_RECORDER_FILEPATH"] = str(self._recording)
        recorder._location = str(self._recording)  # read by moto at import; set it again
        recorder.reset_recording()
        recorder.start_recording()
        self._count_management_api()

    def stop(self) -> None:
        """Recording off and the gateway as it was: later benchmarks in this process."""
        from moto.moto_api import recorder

        from local.gateway import Gateway

        recorder.stop_recording()
        Gateway._manage_connection = self._real_manage  # type: ignore[method-assign]

    def _count_management_api(self) -> None:
        from local.gateway import Gateway

        real = self._real_manage = Gateway._manage_connection
        counter = self

        async def counted(self: Gateway, request: Any) -> Any:
            operation = {"POST": "PostToConnection", "DELETE": "DeleteConnection"}
            with counter._lock:
                counter._management[
                    f"apigateway.{operation.get(request.method, 'GetConnection')}"
                ] += 1
            return await real(self, request)

        Gateway._manage_connection = counted  # type: ignore[method-assign]

    def snapshot(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        text = self._recording.read_text() if self._recording.exists() else ""
        for line in text.splitlines():
            if line.strip():
                counts[_operation(json.loads(line))] += 1
        with self._lock:
            counts.update(self._management)
        return counts

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        before = self.snapshot()
        counted: Counter[str] = Counter()
        yield counted
        counted.update(self.snapshot() - before)


def _operation(entry: dict[str, Any]) -> str:
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    raw = entry.get("body") or ""
    payload = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
    target = headers.get("x-amz-target", "")
    if target.startswith("DynamoDB_"):
        table = json.loads(payload or b"{}").get("TableName", "")
        return f"dynamodb.{target.split('.', 1)[1]} {table.removeprefix(f'{STACK_NAME}-')}".strip()
    if target.startswith("AmazonSQS."):
        return f"sqs.{target.split('.', 1)[1]}"
    if "sqs" in entry["url"] or b"Action=" in payload[:200]:
        for part in payload.decode(errors="replace").split("&"):
            if part.startswith("Action="):
                return f"sqs.{part[len('Action=') :]}"
    return f"s3.{entry['method']}"


def _settled(counter: AwsSideCounter, quiet_s: float = 0.6) -> None:
    last = -1
    while True:
        total = sum(counter.snapshot().values())
        if total == last:
            return
        last = total
        time.sleep(quiet_s)


def _follow(stack: LocalStack, client: httpx.Client, request: dict[str, Any]) -> dict[str, Any]:
    """Submit, connect, subscribe, read frames up to the result; the frames read."""
    frames = []
    response = client.post(f"{stack.api_url}/generations", json=request)
    response.raise_for_status()
    job_id = response.json()["id"]
    with connect(f"{stack.ws_url}?token={stack.dev_token}") as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        while True:
            frame = json.loads(socket.recv(timeout=120))
            frames.append(frame)
            if frame.get("type") in ("result", "error"):
                break
    return {"job_id": job_id, "frames": frames}


def _wait_until_final(client: httpx.Client, stack: LocalStack, job_id: str) -> None:
    while client.get(f"{stack.api_url}/generations/{job_id}").json()["status"] not in (
        "succeeded",
        "failed",
    ):
        time.sleep(0.2)


def _table(counted: Counter[str]) -> dict[str, Any]:
    kept = {name: calls for name, calls in sorted(counted.items()) if calls}
    excluded = {name: calls for name, calls in kept.items() if name in EVENT_SOURCE_CALLS}
    counted_calls = {name: calls for name, calls in kept.items() if name not in excluded}
    return {
        "total": sum(counted_calls.values()),
        "calls": counted_calls,
        "excluded_event_source": excluded,
    }


def run(*, steps: int = 20) -> dict[str, Any]:
    # The handlers log to stdout; the figures are stdout.
    with _stdout_to_stderr():
        return _run(steps=steps)


def _run(*, steps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        counter = AwsSideCounter(Path(scratch) / "moto_recording")
        counter.start()
        try:
            return _count(counter, steps)
        finally:
            counter.stop()


def _count(counter: AwsSideCounter, steps: int) -> dict[str, Any]:
    with LocalStack(port=0, aws_port=0) as stack:
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)
        _follow(stack, client, body("warm-up", 1))
        _settled(counter)
        watched_request = body(f"a lighthouse {uuid.uuid4().hex[:8]}", steps)
        with counter.window() as watched:
            followed = _follow(stack, client, watched_request)
        _settled(counter)
        with counter.window() as hit:
            response = client.post(f"{stack.api_url}/generations", json=watched_request)
            assert response.status_code == 200, response.text
        with counter.window() as unwatched:
            response = client.post(
                f"{stack.api_url}/generations",
                json=body(f"a lighthouse {uuid.uuid4().hex[:8]}", steps),
            )
            _wait_until_final(client, stack, response.json()["id"])
            _settled(counter)
    progress_frames = [frame for frame in followed["frames"] if frame.get("type") == "progress"]
    return {
        "steps": steps,
        "miss_watched": {**_table(watched), "target": TARGET_MISS},
        "hit": {**_table(hit), "target": TARGET_HIT},
        "miss_unwatched_including_status_polls": _table(unwatched),
        "frames_received": len(followed["frames"]),
        "progress_frames_received": len(progress_frames),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    print(json.dumps(run(steps=arguments.steps), indent=2))


if __name__ == "__main__":
    main()
