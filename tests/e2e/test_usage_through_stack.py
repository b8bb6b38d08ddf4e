"""GET /usage through the local stack with the provider stand-ins: what a user reads is what
the providers billed for that user's jobs, and each job's ``cost_usd`` adds up to it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import StackProcess
from sketchbridge.domain.clock import today
from sketchbridge.domain.ledger import usd_to_micros
from tests.support.fakes import sketch_data_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


def _headers(stack: StackProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.dev_token}"}


def _finished_job(stack: StackProcess, provider: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch": sketch_data_url("turtle.png"),
            "prompt": f"a sea turtle, take {uuid.uuid4().hex[:8]}",
            "provider": provider,
            "allow_failover": False,
            "params": {"steps": 2, "seed": 5, "width": 256, "height": 256},
        },
        headers=_headers(stack),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = httpx.get(
            f"{stack.api_url}/generations/{job_id}", headers=_headers(stack), timeout=10
        ).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _usage(stack: StackProcess, **query: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}/usage", params=query, headers=_headers(stack), timeout=10)


def test_usage_shows_exactly_what_the_providers_billed(stack: StackProcess) -> None:
    jobs = [_finished_job(stack, "replicate"), _finished_job(stack, "bedrock")]
    assert all(job["status"] == "succeeded" and job["cost_usd"] > 0 for job in jobs), jobs
    # A window around today, so a run that crosses midnight UTC still sees every job.
    day = today()
    response = _usage(
        stack,
        **{
            "from": (day - timedelta(days=1)).isoformat(),
            "to": (day + timedelta(days=1)).isoformat(),
            "group_by": "provider",
        },
    )

    assert response.status_code == 200, response.text
    usage = response.json()
    billed = sum(
        usd_to_micros(call["usd"])
        for name in ("replicate", "bedrock")
        for call in httpx.get(
            f"{stack.state['standins'][name]}/_control/billing", timeout=10
        ).json()["calls"]
    )
    assert usd_to_micros(usage["total_cost_usd"]) == billed
    assert billed == sum(usd_to_micros(job["cost_usd"]) for job in jobs)
    assert {group["key"] for group in usage["groups"]} == {"replicate", "bedrock"}
    assert usage["images"] == 2 and usage["cache_hits"] == 0


def test_a_bad_usage_query_answers_400(stack: StackProcess) -> None:
    response = _usage(stack, **{"from": "2026-02-30"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_params"
