"""`make bench`: every benchmark, one after the other.

First the figures issue 13 sets targets for, each printed beside its target (to stderr,
as they come); then every benchmark's figures as JSON on stdout.

    .venv/bin/python -m bench              # everything (~15 min)
    .venv/bin/python -m bench --only perf  # issue 13's figures only (~5 min)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from bench import (
    api_fuzz,
    aws_calls,
    budget_race,
    cache,
    cold_start,
    failover,
    hit_latency,
    journey,
    redelivery,
)


def _in_own_process(module: str, *arguments: str) -> dict[str, Any]:
    """A benchmark that runs the stack in its process: moto's state is per process and one
    in-process stack at a time is what it supports (local/moto_server.py)."""
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *arguments],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def _line(figure: str, measured: object, target: str, met: bool | None) -> None:
    verdict = "" if met is None else ("  met" if met else "  NOT met")
    print(f"  {figure:<58} {measured!s:>12}   target {target}{verdict}", file=sys.stderr)


def perf_figures() -> dict[str, Any]:
    """Issue 13's figures, each printed beside its target."""
    print("Issue 13: figure, measured, target", file=sys.stderr)
    cold = cold_start.run()
    for name, handler in cold["handlers"].items():
        target = handler["target_ratio"]
        _line(
            f"cold init, {name}: import / bare boto3 import",
            f"{handler['import_ratio']}x",
            f"<= {target}x" if target else "none",
            handler["meets_target"],
        )
    calls = _in_own_process("aws_calls")
    miss, hit = calls["miss_watched"], calls["hit"]
    pushes = miss["calls"].get("apigateway.PostToConnection", 0)
    _line(
        "AWS calls, 20-step miss watched (moto side, pushes apart)",
        miss["total"] - pushes,
        f"<= {aws_calls.TARGET_MISS}",
        miss["total"] - pushes <= aws_calls.TARGET_MISS,
    )
    _line("  + PostToConnection pushes (one per frame)", pushes, "-", None)
    _line("AWS calls, cache hit", hit["total"], f"<= {aws_calls.TARGET_HIT}", hit["total"] <= 3)
    hits = hit_latency.run()
    _line(
        "cache hit p50 through the gateway (ms)",
        hits["hit_p50_ms"],
        "<= 50",
        hits["hit_p50_ms"] <= 50,
    )
    _line(
        "cache hit p50 / GET /generations/{id} p50",
        f"{hits['hit_over_get']}x",
        "<= 2x",
        hits["hit_over_get"] <= 2,
    )
    push = _in_own_process("push_latency")
    _line(
        "push latency p50, adapter step -> client (ms)",
        push["p50_ms"],
        "<= 25",
        push["p50_ms"] <= 25,
    )
    flow = _in_own_process("throughput")
    _line(
        "throughput, jobs finished per s (60 s at 5/s offered)",
        flow["finished_per_s"],
        ">= 5",
        flow["finished_per_s"] >= 5,
    )
    _line("  lost or stuck", flow["lost_or_stuck"], "0", flow["lost_or_stuck"] == 0)
    _line(
        "  submit -> result p50 / p99 (s)",
        f"{flow['submit_to_result_p50_s']} / {flow['submit_to_result_p99_s']}",
        "-",
        None,
    )
    orchestration = flow["our_share_of_the_jobs"]
    _line(
        "  our orchestration's share of the jobs' CPU",
        orchestration,
        "<= 0.25",
        orchestration <= 0.25,
    )
    return {
        "cold_start": cold,
        "aws_calls": calls,
        "hit_latency": hits,
        "push_latency": push,
        "throughput": flow,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["perf"], help="issue 13's figures only")
    arguments = parser.parse_args()
    figures: dict[str, Any] = {"perf": perf_figures()}
    if arguments.only is None:
        figures.update(
            {
                "journey": journey.run(),
                "cache": cache.run(),
                "redelivery": redelivery.run(),
                "failover": failover.run(),
                "budget_race": budget_race.run(),
                "api_fuzz": api_fuzz.run(),
            }
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
