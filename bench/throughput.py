"""Throughput on the local stack: jobs finished per second, none lost or stuck, and where
the CPU goes.

    .venv/bin/python -m bench.throughput [--rate 5] [--seconds 60]

The stack runs in this process (gateway, handlers, the SQS poller and moto). Submits are
sent open loop at ``--rate`` per second for ``--seconds`` (local renderer named
explicitly, 1 step, 512x512 sketch to 512x512, ``"cache": "bypass"``), from a few client
threads; then the run waits (up to 10 min) for the queue to drain; a job still not final then
counts as stuck. Every job is then read back: its
``created_at`` → ``updated_at`` on success is its submit → result time.

CPU split: every 5 ms a sampler thread reads each other thread's CPU clock and files the
CPU time it used since the last look under where its stack is now, the first of: emulated
AWS (moto and the werkzeug server serving it), preprocessing (sketchbridge.preprocessing),
rendering (the local renderer), the load generator (this file's client threads), the
emulated API Gateway (the local gateway's uvicorn/Starlette outside our handlers), our AWS
SDK work (botocore/urllib3 innermost under our code), and otherwise our orchestration
(handlers, services, adapters, pydantic, powertools, the poller). A 5 ms slice goes to one
place, so the shares are approximate. "Ours" is the last two.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.cache import _stdout_to_stderr
from local.stack import LocalStack

SKETCH = Path(__file__).resolve().parents[2] / "shared" / "sketches" / "turtle.png"
TARGET_JOBS_PER_S = 5.0
TARGET_ORCHESTRATION_SHARE = 0.25


def _category(frames: list[Any]) -> str:
    """Where a thread's current stack belongs."""
    files = [frame.f_code.co_filename for frame in frames]
    if any("/moto/" in name or "/werkzeug/" in name for name in files):
        return "emulated_aws"  # moto, and the werkzeug server that serves only moto here
    if any("sketchbridge/preprocessing" in name for name in files):
        return "preprocessing"
    if any("local_renderer" in name for name in files):
        return "rendering"
    if any(name.endswith("bench/throughput.py") for name in files):
        return "load_generator"
    ours = any("sketchbridge/" in name or "/functions/" in name for name in files)
    if not ours and any(
        part in name for name in files for part in ("/uvicorn/", "/starlette/", "/anyio/")
    ):
        return "emulated_api_gateway"  # the local gateway's server, outside our handlers
    if ours and any(part in files[-1] for part in ("/botocore/", "/urllib3/", "http/client")):
        return "orchestration_aws_sdk"  # boto3 building, signing, sending, parsing our calls
    return "orchestration"


class Sampler:
    """CPU seconds by category: each thread's CPU time since the last look (its own
    clock, ``pthread_getcpuclockid``) goes to where its stack is now."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.samples: dict[str, float] = {}
        self._cpu: dict[int, float] = {}
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                try:
                    cpu = time.clock_gettime(time.pthread_getcpuclockid(ident))
                except OSError:
                    continue  # the thread ended meanwhile
                used = cpu - self._cpu.get(ident, cpu)
                self._cpu[ident] = cpu
                if used <= 0:
                    continue
                stack = []
                current: Any = frame
                while current is not None:
                    stack.append(current)
                    current = current.f_back
                stack.reverse()
                category = _category(stack)
                self.samples[category] = self.samples.get(category, 0.0) + used
            time.sleep(self._interval_s)


def _request() -> dict[str, Any]:
    sketch = "data:image/png;base64," + base64.b64encode(SKETCH.read_bytes()).decode()
    return {
        "sketch": sketch,
        "prompt": f"a kite over the sea {uuid.uuid4().hex[:8]}",
        "provider": "local",
        "cache": "bypass",
        "params": {"steps": 1, "width": 512, "height": 512},
    }


def run(*, rate: float = TARGET_JOBS_PER_S, seconds: float = 60.0) -> dict[str, Any]:
    with _stdout_to_stderr():
        return _run(rate=rate, seconds=seconds)


def _run(*, rate: float, seconds: float) -> dict[str, Any]:
    sampler = Sampler()
    job_ids: list[str] = []
    refused: Counter[int] = Counter()
    lock = threading.Lock()
    with LocalStack(port=0, aws_port=0) as stack:
        client = httpx.Client(
            headers={"authorization": f"Bearer {stack.dev_token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=16),
        )
        warm = client.post(f"{stack.api_url}/generations", json=_request())
        warm.raise_for_status()
        _wait_final(client, stack.api_url, [warm.json()["id"]], deadline_s=60)

        def submit() -> None:
            response = client.post(f"{stack.api_url}/generations", json=_request())
            with lock:
                if response.status_code == 202:
                    job_ids.append(response.json()["id"])
                else:
                    refused[response.status_code] += 1

        sampler.start()
        started = time.monotonic()
        total = int(rate * seconds)
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="load") as pool:
            for index in range(total):
                # Open loop: submit n is sent at n / rate, whatever the stack answers.
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(submit)
        submitted_s = time.monotonic() - started
        records = _wait_final(client, stack.api_url, list(job_ids), deadline_s=600)
        drained_s = time.monotonic() - started
        sampler.stop()
    succeeded = [r for r in records.values() if r["status"] == "succeeded"]
    failed = [r for r in records.values() if r["status"] == "failed"]
    stuck = [job_id for job_id, r in records.items() if r["status"] not in ("succeeded", "failed")]
    latencies = sorted(
        (_parse(r["updated_at"]) - _parse(r["created_at"])).total_seconds() for r in succeeded
    )
    busy = sum(sampler.samples.values()) or 1.0
    shares = {
        name: round(seconds / busy, 3)
        for name, seconds in sorted(sampler.samples.items(), key=lambda item: -item[1])
    }
    job_cpu = {k: v for k, v in sampler.samples.items() if k != "load_generator"}
    job_busy = sum(job_cpu.values()) or 1.0
    return {
        "rate_offered_per_s": rate,
        "seconds": seconds,
        "submitted": total,
        "accepted": len(job_ids),
        "refused_by_status": dict(refused),
        "succeeded": len(succeeded),
        "failed": len(failed),
        "lost_or_stuck": len(stuck),
        "submit_window_s": round(submitted_s, 1),
        "all_done_after_s": round(drained_s, 1),
        "finished_per_s": round(len(succeeded) / drained_s, 2),
        "target_finished_per_s": TARGET_JOBS_PER_S,
        "submit_to_result_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "submit_to_result_p99_s": round(latencies[int(0.99 * (len(latencies) - 1))], 3)
        if latencies
        else None,
        "cpu_seconds": round(busy, 1),
        "cpu_share_all": shares,
        "cpu_share_of_the_jobs": {
            name: round(count / job_busy, 3) for name, count in sorted(job_cpu.items())
        },
        "our_share_of_the_jobs": round(
            sum(seconds for name, seconds in job_cpu.items() if name.startswith("orchestration"))
            / job_busy,
            3,
        ),
        "target_our_share": TARGET_ORCHESTRATION_SHARE,
    }


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _wait_final(
    client: httpx.Client, api_url: str, job_ids: list[str], *, deadline_s: float
) -> dict[str, dict[str, Any]]:
    """Every job's record once all are final, or as they stand at the deadline."""
    records: dict[str, dict[str, Any]] = {}
    pending = list(job_ids)
    give_up = time.monotonic() + deadline_s
    while pending and time.monotonic() < give_up:
        still = []
        for job_id in pending:
            record = client.get(f"{api_url}/generations/{job_id}").json()
            records[job_id] = record
            if record.get("status") not in ("succeeded", "failed"):
                still.append(job_id)
        pending = still
        if pending:
            time.sleep(1.0)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=TARGET_JOBS_PER_S)
    parser.add_argument("--seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    print(json.dumps(run(rate=arguments.rate, seconds=arguments.seconds), indent=2))


if __name__ == "__main__":
    main()
