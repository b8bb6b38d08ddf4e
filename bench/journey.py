"""Time the journey on the local stack: submit → 202, → first progress frame, → result.

    .venv/bin/python -m bench.journey [--jobs 20] [--steps 20]

Each job submits ../shared/sketches/turtle.png, subscribes over the WebSocket
and waits for the result frame, one job at a time, so the figures are latency,
not throughput. The first job includes every handler's cold start and is
reported apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from local.stack import StackProcess

SKETCH = Path(__file__).resolve().parents[2] / "shared" / "sketches" / "turtle.png"


def _one_job(stack: StackProcess, client: httpx.Client, body: dict[str, Any]) -> dict[str, float]:
    started = time.perf_counter()
    response = client.post(f"{stack.api_url}/generations", json=body)
    response.raise_for_status()
    accepted = time.perf_counter()
    job_id = response.json()["id"]
    first_progress = None
    progress_frames = 0
    with connect(f"{stack.ws_url}?token={stack.dev_token}") as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        while True:
            frame = json.loads(socket.recv(timeout=120))
            if frame["type"] == "progress":
                progress_frames += 1
                first_progress = first_progress or time.perf_counter()
            if frame["type"] in ("result", "error"):
                if frame["type"] == "error":
                    raise RuntimeError(frame["error"])
                break
    done = time.perf_counter()
    return {
        "accepted_s": accepted - started,
        "first_progress_s": (first_progress or done) - started,
        "result_s": done - started,
        "progress_frames": progress_frames,
    }


def run(*, jobs: int = 20, steps: int = 20) -> dict[str, Any]:
    import base64

    sketch = "data:image/png;base64," + base64.b64encode(SKETCH.read_bytes()).decode()
    with (
        tempfile.TemporaryDirectory() as scratch,
        StackProcess(state_file=Path(scratch) / "stack.json") as stack,
    ):
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)
        runs = [
            _one_job(
                stack,
                client,
                # Past the cache: every job is a real render (bench/cache.py measures hits).
                {
                    "sketch": sketch,
                    "prompt": "a sea turtle, watercolor",
                    "params": {"steps": steps},
                    "cache": "bypass",
                },
            )
            for _ in range(jobs + 1)
        ]
    cold, warm = runs[0], runs[1:]

    def summary(key: str) -> dict[str, float]:
        values = sorted(run[key] for run in warm)
        return {
            "median": round(statistics.median(values), 3),
            "p90": round(values[int(0.9 * (len(values) - 1))], 3),
            "max": round(values[-1], 3),
        }

    return {
        "jobs": jobs,
        "steps": steps,
        "cold_first_job": {key: round(value, 3) for key, value in cold.items()},
        "accepted_s": summary("accepted_s"),
        "first_progress_s": summary("first_progress_s"),
        "result_s": summary("result_s"),
        "progress_frames_per_job": summary("progress_frames"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    print(json.dumps(run(jobs=arguments.jobs, steps=arguments.steps), indent=2))


if __name__ == "__main__":
    main()
