"""Push latency: from the provider adapter reporting a step to the client receiving its frame.

    .venv/bin/python -m bench.push_latency [--jobs 10] [--steps 20]

The stack runs in this process, so one monotonic clock times both ends: the ``local``
adapter's progress report is wrapped to note when each step was reported, and a client
subscribed over the WebSocket notes when each progress frame arrives. One job at a time,
20 steps each; the steps reported before the client's subscription took hold are not
received and not counted. Also checked: every frame carries ``at`` (ISO 8601 UTC, ms).
Target (issue 13): p50 ≤ 25 ms on the local stack.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
import uuid
from typing import Any

import httpx
from websockets.sync.client import connect

from bench.aws_calls import body
from bench.cache import _stdout_to_stderr
from local.stack import LocalStack

TARGET_P50_MS = 25.0
AT_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _wrap_adapter_reports(reported: dict[int, float]) -> Any:
    """Note each step's report time; returns what to put back afterwards."""
    from sketchbridge.providers import local

    real = local.ProgressUpdate

    def noted(*args: Any, **kwargs: Any) -> Any:
        update = real(*args, **kwargs)
        reported[update.step] = time.monotonic()
        return update

    local.ProgressUpdate = noted  # type: ignore[misc,assignment]
    return real


def run(*, jobs: int = 10, steps: int = 20) -> dict[str, Any]:
    with _stdout_to_stderr():
        return _run(jobs=jobs, steps=steps)


def _run(*, jobs: int, steps: int) -> dict[str, Any]:
    from sketchbridge.providers import local

    reported: dict[int, float] = {}
    real = _wrap_adapter_reports(reported)
    try:
        return _measure(reported, jobs=jobs, steps=steps)
    finally:
        local.ProgressUpdate = real  # type: ignore[misc]


def _measure(reported: dict[int, float], *, jobs: int, steps: int) -> dict[str, Any]:
    latencies: list[float] = []
    frames_without_at = 0
    with LocalStack(port=0, aws_port=0) as stack:
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)
        for index in range(jobs + 1):
            reported.clear()
            response = client.post(
                f"{stack.api_url}/generations",
                json={**body(f"a kite {uuid.uuid4().hex[:8]}", steps), "cache": "bypass"},
            )
            response.raise_for_status()
            received: dict[int, float] = {}
            with connect(f"{stack.ws_url}?token={stack.dev_token}") as socket:
                socket.send(json.dumps({"action": "subscribe", "id": response.json()["id"]}))
                while True:
                    frame = json.loads(socket.recv(timeout=120))
                    arrived = time.monotonic()
                    if not AT_FORMAT.fullmatch(str(frame.get("at", ""))):
                        frames_without_at += 1
                    if frame.get("type") == "progress":
                        received[int(frame["step"])] = arrived
                    if frame.get("type") in ("result", "error"):
                        break
            if index == 0:
                continue  # the cold start
            latencies.extend(
                received[step] - reported[step] for step in received if step in reported
            )
    ordered = sorted(latencies)
    return {
        "jobs": jobs,
        "steps": steps,
        "frames_timed": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "target_p50_ms": TARGET_P50_MS,
        "frames_without_at": frames_without_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    print(json.dumps(run(jobs=arguments.jobs, steps=arguments.steps), indent=2))


if __name__ == "__main__":
    main()
