"""A cache hit through the local gateway, beside a plain GET /generations/{id} in the same run.

    .venv/bin/python -m bench.hit_latency [--pairs 15] [--steps 1]

Against ``python -m local.stack`` in a subprocess, over HTTP: each round submits a new
request (provider ``local``), waits for its result over the WebSocket (the miss), then
times the identical request again (the hit: 200 from the cache) and a GET of the job it
answered. The first round, with the cold starts, is left out. Targets (issue 13): hit p50
≤ 50 ms, and ≤ 2x the GET's p50.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.aws_calls import body
from bench.cache import _stdout_to_stderr, _wait_for_result
from local.stack import StackProcess

TARGET_HIT_P50_S = 0.050
TARGET_RATIO = 2.0


def _round(stack: StackProcess, client: httpx.Client, steps: int) -> dict[str, float]:
    request = body(f"a lighthouse at dusk {uuid.uuid4().hex[:8]}", steps)
    miss = client.post(f"{stack.api_url}/generations", json=request)
    assert miss.status_code == 202, miss.text
    _wait_for_result(stack.ws_url, stack.dev_token, miss.json()["id"])
    started = time.perf_counter()
    hit = client.post(f"{stack.api_url}/generations", json=request)
    hit_s = time.perf_counter() - started
    assert hit.status_code == 200 and hit.json()["cached"] is True, hit.text
    started = time.perf_counter()
    got = client.get(f"{stack.api_url}/generations/{hit.json()['id']}")
    get_s = time.perf_counter() - started
    assert got.status_code == 200, got.text
    return {"hit_s": hit_s, "get_s": get_s}


def run(*, pairs: int = 15, steps: int = 1) -> dict[str, Any]:
    # The stack's banner and the handlers' logs go to stderr: stdout is the figures.
    with _stdout_to_stderr():
        return _run(pairs=pairs, steps=steps)


def _run(*, pairs: int, steps: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        StackProcess(state_file=Path(scratch) / "stack.json") as stack,
    ):
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)
        rounds = [_round(stack, client, steps) for _ in range(pairs + 1)][1:]

    def p(key: str, q: float) -> float:
        values = sorted(r[key] for r in rounds)
        return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]

    hit_p50 = statistics.median(r["hit_s"] for r in rounds)
    get_p50 = statistics.median(r["get_s"] for r in rounds)
    return {
        "rounds": pairs,
        "hit_p50_ms": round(hit_p50 * 1000, 1),
        "hit_p90_ms": round(p("hit_s", 0.9) * 1000, 1),
        "get_p50_ms": round(get_p50 * 1000, 1),
        "hit_over_get": round(hit_p50 / get_p50, 2),
        "target_hit_p50_ms": TARGET_HIT_P50_S * 1000,
        "target_hit_over_get": TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1)
    arguments = parser.parse_args()
    print(json.dumps(run(pairs=arguments.pairs, steps=arguments.steps), indent=2))


if __name__ == "__main__":
    main()
