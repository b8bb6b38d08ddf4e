"""Race a budget: many concurrent submits from one user whose hard budget fits a few quotes.

    .venv/bin/python -m bench.budget_race [--submits 50] [--fits 10] [--provider bedrock]

Through the local stack with the providers' stand-ins (moto server, gateway, pollers):
the user's daily hard budget is set, in the budgets table, to exactly ``fits`` times the
quote of one request; then ``submits`` distinct requests for one provider's stand-in are
released at once. It reports how many were admitted (202) and refused (402
``budget_exceeded``), waits for the admitted jobs to end, and reads back what the budget
spent and still holds. Admitted quotes can never pass the limit: each submit reserves its
quote with one conditional DynamoDB transaction before anything is queued.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx

from local.provision import physical_name
from local.stack import DEV_USER, StackProcess
from local.template import REGION
from sketchbridge.aws.dynamo_budgets import DynamoBudgetStore
from sketchbridge.domain.budgets import BudgetScope, period_key, to_usd, validated_limit
from sketchbridge.domain.clock import utc_now

SKETCH = Path(__file__).resolve().parents[2] / "shared" / "sketches" / "turtle.png"


def _body(sketch: str, index: int, provider: str) -> dict[str, Any]:
    return {
        "sketch": sketch,
        "prompt": f"a sea turtle, watercolor, take {index}",
        "provider": provider,
        "allow_failover": False,
        "params": {"width": 1024, "height": 1024, "steps": 4},
        "cache": "bypass",
    }


def _wait_for_the_end(client: httpx.Client, api_url: str, job_ids: list[str]) -> Counter[str]:
    deadline = time.monotonic() + 300
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for job_id in job_ids:
            if statuses.get(job_id) in ("succeeded", "failed", "canceled"):
                continue
            statuses[job_id] = client.get(f"{api_url}/generations/{job_id}").json()["status"]
        if all(s in ("succeeded", "failed", "canceled") for s in statuses.values()):
            break
        time.sleep(0.5)
    return Counter(statuses.values())


def run(*, submits: int = 50, fits: int = 10, provider: str = "bedrock") -> dict[str, Any]:
    sketch = "data:image/png;base64," + base64.b64encode(SKETCH.read_bytes()).decode()
    with (
        tempfile.TemporaryDirectory() as scratch,
        StackProcess(state_file=Path(scratch) / "stack.json", standins=True) as stack,
    ):
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=120)
        estimate = client.post(f"{stack.api_url}/estimates", json=_body(sketch, 0, provider))
        estimate.raise_for_status()
        [quote] = [e["cost_usd"] for e in estimate.json()["estimates"] if e["provider"] == provider]
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=stack.aws_endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        budgets = DynamoBudgetStore(dynamodb, physical_name("BudgetsTable"))
        user = BudgetScope(DEV_USER)
        limit_usd = round(fits * quote, 6)
        budgets.put_limit(user, "day", validated_limit(None, limit_usd))

        start = threading.Barrier(submits)

        def submit(index: int) -> httpx.Response:
            start.wait()
            return client.post(f"{stack.api_url}/generations", json=_body(sketch, index, provider))

        started = time.perf_counter()
        with ThreadPoolExecutor(submits) as pool:
            responses = list(pool.map(submit, range(submits)))
        answered_s = time.perf_counter() - started
        codes = Counter(response.status_code for response in responses)
        admitted = [r.json()["id"] for r in responses if r.status_code == 202]
        refused = [r.json()["error"] for r in responses if r.status_code == 402]
        ended = _wait_for_the_end(client, stack.api_url, admitted)
        costs = [
            client.get(f"{stack.api_url}/generations/{job_id}").json().get("cost_usd") or 0.0
            for job_id in admitted
        ]
        day = period_key("day", utc_now())
        counter = budgets.counters([(user, "day", day)])[(user, "day")]
        slots = budgets.jobs_in_flight(DEV_USER)
    return {
        "submits": submits,
        "provider": provider,
        "quote_usd": quote,
        "hard_limit_usd": limit_usd,
        "admitted_202": codes.get(202, 0),
        "refused_402": codes.get(402, 0),
        "other_statuses": {str(k): v for k, v in codes.items() if k not in (202, 402)},
        "refusals_all_budget_exceeded": all(e["code"] == "budget_exceeded" for e in refused),
        "admitted_jobs_ended": dict(ended),
        "jobs_cost_usd": round(sum(costs), 6),
        "spent_usd": to_usd(counter.spent),
        "reserved_usd_after": to_usd(counter.reserved),
        "job_slots_after": slots,
        "spent_within_limit": to_usd(counter.spent) <= limit_usd,
        "all_answered_s": round(answered_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=50)
    parser.add_argument("--fits", type=int, default=10)
    parser.add_argument("--provider", default="bedrock", choices=["bedrock", "replicate", "openai"])
    arguments = parser.parse_args()
    figures = run(submits=arguments.submits, fits=arguments.fits, provider=arguments.provider)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
