"""Cold init of each Lambda handler, as a ratio to a bare ``import boto3`` in the same run.

    .venv/bin/python -m bench.cold_start [--rounds 7]

Each measurement is a fresh interpreter (as a new Lambda container) that times, inside
itself, ``import app`` of one function (its directory and ``shared/`` on the path, as the
layers put them). Rounds interleave the handlers and boto3 so that the machine's load
falls on all of them alike; the figure is each one's median over the rounds.

Two figures per handler: ``import`` (the issue's target: the module Lambda loads in its
init phase) and ``import + wiring`` (the import, then ``bootstrap.dependencies()`` as the
first request builds it, no AWS call made), so that nothing moved out of the import into
the first request goes unseen. The processor's wiring stops before its first provider
call: the provider adapters are built then.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The targets (import ÷ boto3); None: no target set, reported only.
TARGETS: dict[str, float | None] = {
    "query": 1.3,
    "websocket": 1.3,
    "sweep": 1.3,
    "deadletter": 1.3,
    "health": None,
    "admin": None,
    "submit": 1.6,
    "processor": 2.0,
}

# Modules a function must not load at import unless its path needs them.
HEAVY = ("numpy", "PIL", "openai", "replicate", "httpx", "jwt", "sketchbridge.providers.catalog")

_PROBE = """
import json, os, sys, time
sys.path[:0] = {paths!r}
os.environ.update({env!r})
started = time.perf_counter()
{statement}
imported = time.perf_counter()
if {wire!r}:
    from sketchbridge.bootstrap import dependencies
    dependencies()
wired = time.perf_counter()
print(json.dumps({{
    "import_s": imported - started,
    "wired_s": wired - started,
    "heavy": [name for name in {heavy!r} if name in sys.modules],
}}))
"""

# Settings the wiring reads; no request is made, so nothing needs to listen there.
_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "JOBS_TABLE": "jobs",
    "CONNECTIONS_TABLE": "connections",
    "CACHE_TABLE": "cache",
    "PROVIDERS_TABLE": "providers",
    "LEDGER_TABLE": "ledger",
    "BUDGETS_TABLE": "budgets",
    "PREFERENCES_TABLE": "preferences",
    "ARTIFACTS_BUCKET": "artifacts",
    "JOBS_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
    "WEBSOCKET_MANAGEMENT_URL": "http://127.0.0.1:9",
    "POWERTOOLS_METRICS_NAMESPACE": "Sketchbridge",
}


def _probe(function: str | None, *, wire: bool, root: Path = ROOT) -> dict[str, Any]:
    if function is None:
        paths, statement = [], "import boto3"
    else:
        paths = [str(root / "shared"), str(root / "functions" / function)]
        statement = "import app"
    code = _PROBE.format(paths=paths, env=_ENV, statement=statement, wire=wire, heavy=HEAVY)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(*, rounds: int = 7, root: Path = ROOT) -> dict[str, Any]:
    """``root``: another checkout of the project (e.g. an older commit) to measure."""
    imports: dict[str, list[float]] = {name: [] for name in ["boto3", *TARGETS]}
    wired: dict[str, list[float]] = {name: [] for name in TARGETS}
    heavy: dict[str, list[str]] = {}
    for _ in range(rounds):
        imports["boto3"].append(_probe(None, wire=False)["import_s"])
        for function in TARGETS:
            probe = _probe(function, wire=True, root=root)
            imports[function].append(probe["import_s"])
            wired[function].append(probe["wired_s"])
            heavy[function] = probe["heavy"]
    boto3_s = statistics.median(imports["boto3"])
    handlers = {}
    for function, target in TARGETS.items():
        import_s = statistics.median(imports[function])
        handlers[function] = {
            "import_ms": round(import_s * 1000, 1),
            "import_ratio": round(import_s / boto3_s, 2),
            "target_ratio": target,
            "meets_target": None if target is None else import_s / boto3_s <= target,
            "import_and_wiring_ms": round(statistics.median(wired[function]) * 1000, 1),
            "import_and_wiring_ratio": round(statistics.median(wired[function]) / boto3_s, 2),
            "heavy_modules_after_import_and_wiring": heavy[function],
        }
    return {"rounds": rounds, "boto3_import_ms": round(boto3_s * 1000, 1), "handlers": handlers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure")
    arguments = parser.parse_args()
    print(json.dumps(run(rounds=arguments.rounds, root=arguments.root), indent=2))


if __name__ == "__main__":
    main()
