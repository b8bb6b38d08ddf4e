"""What a broken provider costs a request: the real chain, adapters and stand-ins, timed.

    .venv/bin/python -m bench.failover [--requests 10] [--hang-deadline 5] [--rate-window 10]

Two providers, the broken one tried first: Replicate (its real adapter and SDK against the
Replicate stand-in, scripted to fail) then Bedrock (its real adapter through boto3 against
the Bedrock stand-in, scripted to answer after 0.2 s). Requests go one after another through
``run_chain`` with the dependencies the processor builds (``build_dependencies``): the
circuit breakers, rate-limit buckets and latency windows live in the providers table of
emulated DynamoDB (moto, provisioned from template.yaml), with the production breaker policy
(3 failures in a row open a circuit for a 30 s cool-down). Three cases:

- ``unavailable``: every create answers 503. Extra latency over the healthy provider alone
  (the median of as many requests to Bedrock only), per request, and Replicate's calls.
- ``hang``: every create is held with no byte sent. Time until the call is abandoned: at
  Replicate's configured first-byte deadline, and at ``--hang-deadline``.
- ``rate_limited``: every create answers 429 with ``retry-after: 1``; requests are made
  back to back for ``--rate-window`` seconds; how often Replicate was called, and when.

Prints the figures as JSON; docs/performance.md ("Failover") quotes them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
from PIL import Image

from local.moto_server import MotoServer
from local.provision import provision
from local.stack import REPO_ROOT, handler_environment
from local.standins.launcher import Standins
from local.template import load_template
from sketchbridge.aws.clients import client
from sketchbridge.aws.factory import build_dependencies
from sketchbridge.domain import clock
from sketchbridge.domain.provider_profile import DEFAULT_PROFILES, ProviderProfile
from sketchbridge.domain.rate_limit import TokenBucket
from sketchbridge.providers.base import ProviderRequest
from sketchbridge.providers.replicate import ReplicateConfig
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_chain import ChainFailedError, Hop, run_chain
from sketchbridge.settings import Settings

SKETCH = REPO_ROOT.parent / "shared" / "sketches" / "turtle.png"
BROKEN, HEALTHY = "replicate", "bedrock"
HEALTHY_DELAY_S = 0.2
# More scripted answers than any case makes requests; each create consumes one.
SCRIPT_LENGTH = 500
UNTHROTTLED = TokenBucket(capacity=1000, refill_per_s=1000.0)


@contextlib.contextmanager
def _world() -> Iterator[tuple[Standins, Dependencies]]:
    """Stand-ins, emulated AWS from template.yaml, and this process set up as a processor."""
    saved = dict(os.environ)
    moto = MotoServer(port=0)
    with Standins() as standins:
        try:
            endpoint_url = moto.start()
            provisioned = provision(
                load_template(REPO_ROOT / "template.yaml"),
                endpoint_url=endpoint_url,
                environment_overrides={"WEBSOCKET_MANAGEMENT_URL": "http://127.0.0.1:9/unused"},
            )
            os.environ.update(handler_environment(provisioned, endpoint_url))
            os.environ.update(standins.environment())
            os.environ.update(
                {
                    "ENABLED_PROVIDERS": f"{BROKEN},{HEALTHY}",
                    # The adapter's own default (the stand-ins shorten it to show progress):
                    # a create that gets no answer is given up after this plus 2 s.
                    "REPLICATE_PREFER_WAIT_S": str(ReplicateConfig().prefer_wait_s),
                    "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                }
            )
            environ = dict(os.environ)
            yield standins, build_dependencies(Settings.from_env(environ), environ)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            moto.stop()


def _forget_provider_state() -> None:
    """Empty the providers table: closed breakers, full buckets, no latencies."""
    dynamodb = client("dynamodb")
    table = Settings.from_env(dict(os.environ)).providers_table
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def _script(standins: Standins, name: str, outcomes: list[dict[str, Any]]) -> None:
    url = f"{standins.urls[name]}/_control"
    httpx.post(f"{url}/reset", timeout=10).raise_for_status()
    httpx.post(f"{url}/script", json=outcomes, timeout=10).raise_for_status()


def _creations(standins: Standins, name: str) -> list[float]:
    """When each generation was started at the stand-in (a prediction or an invocation)."""
    received = httpx.get(f"{standins.urls[name]}/_control/requests", timeout=10).json()
    return [
        float(r["time"])
        for r in received
        if r["method"] == "POST" and r["path"].endswith(("/predictions", "/invoke"))
    ]


def _request() -> ProviderRequest:
    with Image.open(SKETCH) as sketch:
        image = sketch.convert("RGB")
    return ProviderRequest(
        sketch=image,
        prompt="a sea turtle, watercolor",
        negative_prompt=None,
        seed=7,
        steps=4,
        strength=0.8,
        guidance_scale=7.5,
        width=256,
        height=256,
        timeout_s=90.0,
    )


def _one(
    deps: Dependencies, order: list[str], profiles: dict[str, ProviderProfile]
) -> tuple[float, tuple[Hop, ...], str]:
    """One request through the chain: wall seconds, its hops, and who drew it (or the error)."""
    started = time.perf_counter()
    try:
        chain = run_chain(
            order,
            _request(),
            deps=deps,
            profiles=profiles,
            on_progress=lambda update: None,
            on_hop=lambda hop, following: None,
        )
        outcome, hops = chain.provider.name, chain.hops
    except ChainFailedError as failed:
        outcome, hops = failed.error.code, failed.hops
    return time.perf_counter() - started, hops, outcome


def _healthy_baseline(
    standins: Standins, deps: Dependencies, profiles: dict[str, ProviderProfile], requests: int
) -> float:
    _forget_provider_state()
    _script(standins, HEALTHY, [{"delay_s": HEALTHY_DELAY_S}] * SCRIPT_LENGTH)
    _one(deps, [HEALTHY], profiles)  # warm the clients up, as a warm processor has them
    runs = [_one(deps, [HEALTHY], profiles) for _ in range(requests)]
    drawn_by = {outcome for _, _, outcome in runs}
    if drawn_by != {HEALTHY}:
        raise RuntimeError(f"the healthy provider alone did not always draw: {drawn_by}")
    return statistics.median(seconds for seconds, _, _ in runs)


def _dead_call_s(hops: tuple[Hop, ...]) -> float | None:
    return next((hop.seconds for hop in hops if hop.provider == BROKEN and hop.called), None)


def _runs(
    standins: Standins,
    deps: Dependencies,
    profiles: dict[str, ProviderProfile],
    requests: int,
    baseline_s: float,
) -> list[dict[str, Any]]:
    rows = []
    for index in range(1, requests + 1):
        before = len(_creations(standins, BROKEN))
        seconds, hops, outcome = _one(deps, [BROKEN, HEALTHY], profiles)
        dead = _dead_call_s(hops)
        rows.append(
            {
                "request": index,
                "seconds": round(seconds, 3),
                "extra_s": round(seconds - baseline_s, 3),
                "broken_provider_calls": len(_creations(standins, BROKEN)) - before,
                "failed_call_s": dead,
                "overhead_beyond_failed_call_s": round(seconds - baseline_s - (dead or 0.0), 3),
                "hops": [f"{hop.provider}:{hop.outcome}" for hop in hops],
                "drawn_by": outcome,
            }
        )
    return rows


def _unavailable(
    standins: Standins, deps: Dependencies, profiles: dict[str, ProviderProfile], requests: int
) -> dict[str, Any]:
    baseline_s = _healthy_baseline(standins, deps, profiles, max(requests, 20))
    _forget_provider_state()
    _script(standins, BROKEN, [{"status": 503}] * SCRIPT_LENGTH)
    _script(standins, HEALTHY, [{"delay_s": HEALTHY_DELAY_S}] * SCRIPT_LENGTH)
    rows = _runs(standins, deps, profiles, requests, baseline_s)
    later = [row["extra_s"] for row in rows[1:]]
    return {
        "healthy_alone_median_s": round(baseline_s, 3),
        "first_request_extra_s": rows[0]["extra_s"],
        "first_request_failed_call_s": rows[0]["failed_call_s"],
        "first_request_overhead_beyond_failed_call_s": rows[0]["overhead_beyond_failed_call_s"],
        "later_requests_extra_median_s": round(statistics.median(later), 3) if later else None,
        "later_requests_extra_max_s": max(later) if later else None,
        "broken_provider_calls_per_request": [row["broken_provider_calls"] for row in rows],
        "drawn_by": sorted({row["drawn_by"] for row in rows}),
        "requests": rows,
    }


def _hang(
    standins: Standins,
    deps: Dependencies,
    profiles: dict[str, ProviderProfile],
    *,
    kind: str,
    deadline_s: float,
    requests: int,
) -> dict[str, Any]:
    """``no_answer``: the create request gets no byte back. ``stalled``: the create is
    accepted, then the prediction shows no progress."""
    profiles = {**profiles, BROKEN: replace(profiles[BROKEN], first_byte_deadline_s=deadline_s)}
    baseline_s = _healthy_baseline(standins, deps, profiles, 5)
    _forget_provider_state()
    # Held a little past the deadline, then answered: the abandoned call ends on its own.
    held_s = deadline_s + 2
    outcome = {"delay_s": held_s} if kind == "no_answer" else {"outcome": "slow_start", "s": held_s}
    _script(standins, BROKEN, [outcome] * SCRIPT_LENGTH)
    _script(standins, HEALTHY, [{"delay_s": HEALTHY_DELAY_S}] * SCRIPT_LENGTH)
    rows = _runs(standins, deps, profiles, requests, baseline_s)
    time.sleep(held_s)  # let the abandoned calls finish before the next case resets the stand-ins
    return {
        "kind": kind,
        "first_byte_deadline_s": deadline_s,
        "healthy_alone_median_s": round(baseline_s, 3),
        "abandoned_after_s": [row["failed_call_s"] for row in rows],
        "hops": [row["hops"][0] for row in rows],
        "extra_s": [row["extra_s"] for row in rows],
        "broken_provider_calls_per_request": [row["broken_provider_calls"] for row in rows],
        "drawn_by": sorted({row["drawn_by"] for row in rows}),
    }


def _rate_limited(
    standins: Standins,
    deps: Dependencies,
    profiles: dict[str, ProviderProfile],
    window_s: float,
) -> dict[str, Any]:
    _forget_provider_state()
    _script(standins, BROKEN, [{"status": 429, "headers": {"retry-after": "1"}}] * SCRIPT_LENGTH)
    _script(standins, HEALTHY, [{"delay_s": HEALTHY_DELAY_S}] * SCRIPT_LENGTH)
    started_wall, started = clock.epoch_seconds(), time.perf_counter()
    seconds: list[float] = []
    drawn_by: dict[str, int] = {}
    while time.perf_counter() - started < window_s:
        took, _, outcome = _one(deps, [BROKEN, HEALTHY], profiles)
        seconds.append(took)
        drawn_by[outcome] = drawn_by.get(outcome, 0) + 1
    calls = [round(at - started_wall, 2) for at in _creations(standins, BROKEN)]
    return {
        "window_s": window_s,
        "requests": len(seconds),
        "drawn_by": drawn_by,
        "broken_provider_calls": len(calls),
        "broken_provider_called_at_s": calls,
        "first_request_s": round(seconds[0], 3),
        "later_requests_median_s": round(statistics.median(seconds[1:]), 3)
        if len(seconds) > 1
        else None,
    }


def run(
    *, requests: int = 10, hang_deadline_s: float = 5.0, rate_window_s: float = 10.0
) -> dict[str, Any]:
    # Each provider's production profile, with a rate limit these back-to-back requests never
    # reach: what is measured is the failover, not our own throttle.
    profiles = {
        name: replace(DEFAULT_PROFILES[name], rate_limit=UNTHROTTLED) for name in (BROKEN, HEALTHY)
    }
    # The adapters log and emit metrics on stdout, as on Lambda; the figures are the output.
    with _world() as (standins, deps), contextlib.redirect_stdout(io.StringIO()):
        figures = {
            "unavailable": _unavailable(standins, deps, profiles, requests),
            "hang": [
                _hang(standins, deps, profiles, kind=kind, deadline_s=deadline, requests=4)
                for kind in ("no_answer", "stalled")
                for deadline in sorted(
                    {profiles[BROKEN].first_byte_deadline_s, hang_deadline_s}, reverse=True
                )
            ],
            "rate_limited": _rate_limited(standins, deps, profiles, rate_window_s),
        }
    return {
        "setup": {
            "broken": f"{BROKEN} (real adapter + SDK -> stand-in), tried first",
            "healthy": f"{HEALTHY} (real adapter + boto3 -> stand-in, {HEALTHY_DELAY_S} s delay)",
            "breaker": "production policy: 3 failures in a row open, 30 s cool-down",
            "stores": "DynamoDB providers table on moto",
            "rate_limits": "raised to 1000/s for both, so our own throttle never skips a call",
        },
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--hang-deadline", type=float, default=5.0)
    parser.add_argument("--rate-window", type=float, default=10.0)
    arguments = parser.parse_args()
    figures = run(
        requests=arguments.requests,
        hang_deadline_s=arguments.hang_deadline,
        rate_window_s=arguments.rate_window,
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
