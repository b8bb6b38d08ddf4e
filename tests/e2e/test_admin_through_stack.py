"""The admin API through the local stack: SigV4 at the gateway, the CLI, and a change that
reaches the users' very next request.

One `python -m local.stack --standins` serves the module (so replicate is deployed).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import StackProcess
from sketchbridge import cli
from sketchbridge.cli_admin import AdminEndpoint, signed_headers
from tests.support.fakes import sketch_data_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


def admin_cli(stack: StackProcess, *arguments: str) -> tuple[int, Any]:
    """`sketchbridge admin ...` against the stack; its exit code and the JSON it printed."""
    out, err = io.StringIO(), io.StringIO()
    state_file = str(stack.state_file)
    code = cli.main(["admin", *arguments, "--stack-file", state_file], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else err.getvalue()


def signed_get(stack: StackProcess, path: str, *, secret: str | None = None) -> httpx.Response:
    key = stack.state["admin_credentials"]
    endpoint = AdminEndpoint(
        stack.api_url,
        key["access_key_id"],
        secret or key["secret_access_key"],
        key["region"],
    )
    url = stack.api_url + path
    return httpx.get(url, headers=signed_headers(endpoint, "GET", url, b"", {}), timeout=30)


def providers(stack: StackProcess) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        f"{stack.api_url}/providers",
        headers={"Authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )
    response.raise_for_status()
    return {provider["name"]: provider for provider in response.json()["providers"]}


def test_an_unsigned_usage_request_is_403_and_a_signed_one_200(stack: StackProcess) -> None:
    response = httpx.get(f"{stack.api_url}/admin/usage", timeout=30)

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    signed = signed_get(stack, "/admin/usage?group_by=provider")
    assert signed.status_code == 200
    assert signed.json()["group_by"] == "provider"


def test_a_users_token_does_not_open_the_admin_api(stack: StackProcess) -> None:
    response = httpx.get(
        f"{stack.api_url}/admin/health",
        headers={"Authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )

    assert response.status_code == 403


def test_a_request_signed_with_a_wrong_secret_is_403(stack: StackProcess) -> None:
    assert signed_get(stack, "/admin/health", secret="not-the-secret").status_code == 403


def test_a_signed_health_request_reports_every_provider_and_queue(stack: StackProcess) -> None:
    response = signed_get(stack, "/admin/health")

    assert response.status_code == 200
    body = response.json()
    assert {p["name"] for p in body["providers"]} == {"local", "replicate", "openai", "bedrock"}
    assert {q["name"] for q in body["queues"]} == {"interactive", "batch"}


def test_disabling_replicate_through_the_cli_changes_the_next_providers_request(
    stack: StackProcess,
) -> None:
    assert providers(stack)["replicate"]["status"] != "down"

    code, answer = admin_cli(stack, "providers", "replicate", "--disable")
    try:
        assert code == cli.EXIT_OK, answer
        assert answer["override"] == {"enabled": False}
        replicate = providers(stack)["replicate"]
        assert (replicate["status"], replicate["reason"]) == ("down", "disabled by an admin")
    finally:
        admin_cli(stack, "providers", "replicate", "--reset", "enabled")
    assert providers(stack)["replicate"]["status"] != "down"


def test_the_cli_reports_a_bad_change_without_changing_anything(stack: StackProcess) -> None:
    code, message = admin_cli(stack, "providers", "openai", "--weight", "-3")

    assert code == cli.EXIT_FAILED
    assert "weight" in message
    assert admin_cli(stack, "providers", "openai")[1]["override"] == {}


def test_a_model_chosen_by_an_admin_runs_the_next_replicate_job(stack: StackProcess) -> None:
    chosen = "jagilley/controlnet-scribble"  # the catalog's other model
    replicate = str(stack.state["standins"]["replicate"])
    prompt = f"a lighthouse at dusk {uuid.uuid4().hex[:8]}"
    before = _finished(stack, _submit_replicate(stack, prompt).json()["id"])
    assert before["status"] == "succeeded" and before["result"]["model"] != chosen
    code, answer = admin_cli(stack, "providers", "replicate", "--model", chosen)
    try:
        assert code == cli.EXIT_OK, answer
        assert providers(stack)["replicate"]["model"] == chosen

        # The same request again: not the earlier model's picture from the cache.
        again = _submit_replicate(stack, prompt)

        assert again.status_code == 202, again.json()
        final = _finished(stack, again.json()["id"])
        assert (final["status"], final["result"]["model"]) == ("succeeded", chosen), final
        received = httpx.get(f"{replicate}/_control/requests", timeout=10).json()
        # A community model runs by version: /v1/predictions, logged with its model.
        assert any(r["path"] == "/v1/predictions" and r["model"] == chosen for r in received)
    finally:
        admin_cli(stack, "providers", "replicate", "--reset", "model")
    assert providers(stack)["replicate"]["model"] != chosen


def _submit_replicate(stack: StackProcess, prompt: str) -> httpx.Response:
    return httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch": sketch_data_url("turtle.png"),
            "prompt": prompt,
            "provider": "replicate",
            "params": {"steps": 4, "width": 256, "seed": 7},
            "allow_failover": False,
        },
        headers={"Authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )


def test_a_model_the_provider_cannot_name_is_refused(stack: StackProcess) -> None:
    code, message = admin_cli(stack, "providers", "replicate", "--model", "no-owner-here")

    assert code == cli.EXIT_FAILED
    assert "owner/name" in message
    code, message = admin_cli(stack, "providers", "local", "--model", "any")
    assert code == cli.EXIT_FAILED


def _finished(stack: StackProcess, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = httpx.get(
            f"{stack.api_url}/generations/{job_id}",
            headers={"Authorization": f"Bearer {stack.dev_token}"},
            timeout=10,
        ).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in 60 s")


def test_budgets_and_quotas_are_set_and_removed_through_the_cli(stack: StackProcess) -> None:
    code, budget = admin_cli(
        stack, "budgets", "set", "user:dev-user", "--period", "day", "--soft", "0.5", "--hard", "1"
    )
    try:
        assert code == cli.EXIT_OK, budget
        assert budget["scope"] == "user:dev-user"
        day = {b["period"]: b for b in budget["budgets"]}["day"]
        assert (day["soft_usd"], day["hard_usd"], day["source"]) == (0.5, 1, "admin")
    finally:
        code, removed = admin_cli(stack, "budgets", "delete", "user:dev-user", "--period", "day")
    assert code == cli.EXIT_OK
    assert {b["period"]: b for b in removed["budgets"]}["day"]["source"] == "default"

    code, quota = admin_cli(stack, "quotas", "set", "dev-user", "--rpm", "12", "--in-flight", "3")
    assert code == cli.EXIT_OK, quota
    assert (quota["requests_per_minute"], quota["jobs_in_flight"]) == (12, 3)
    code, reset = admin_cli(stack, "quotas", "reset", "dev-user")
    assert (code, reset["source"]) == (cli.EXIT_OK, "default")


def test_usage_for_everyone_through_the_cli(stack: StackProcess) -> None:
    code, usage = admin_cli(stack, "usage", "--group-by", "provider")

    assert code == cli.EXIT_OK, usage
    assert usage["group_by"] == "provider"
    assert usage["total_cost_usd"] == pytest.approx(sum(g["cost_usd"] for g in usage["groups"]))


def test_a_daily_budget_set_by_an_admin_admits_exactly_four_of_ten_concurrent_jobs(
    stack: StackProcess,
) -> None:
    """The issue's "done when": four Replicate quotes of room, ten distinct requests at once."""
    user = {"Authorization": f"Bearer {stack.dev_token}"}
    params = {"steps": 4, "width": 256}
    estimates = httpx.post(
        f"{stack.api_url}/estimates",
        json={"prompt": "a quote", "provider": "replicate", "params": params},
        headers=user,
        timeout=30,
    ).json()["estimates"]
    [quote] = [e["cost_usd"] for e in estimates if e["provider"] == "replicate"]
    code, before = admin_cli(stack, "budgets", "get", "user:dev-user")
    day = {b["period"]: b for b in before["budgets"]}["day"]
    already = day["spent_usd"] + day["reserved_usd"]
    usage_before = _usage_today(stack)
    # Room for four quotes and half of a fifth: the fifth does not fit, whatever the rounding.
    room = round(already + 4.5 * quote, 6)
    code, _ = admin_cli(
        stack, "budgets", "set", "user:dev-user", "--period", "day", "--hard", str(room)
    )
    assert code == cli.EXIT_OK
    try:

        def submit(index: int) -> httpx.Response:
            return httpx.post(
                f"{stack.api_url}/generations",
                json={
                    "sketch": sketch_data_url("turtle.png"),
                    "prompt": f"a lighthouse, take {index} {uuid.uuid4().hex[:8]}",
                    "provider": "replicate",
                    "params": params,
                    "allow_failover": False,
                },
                headers=user,
                timeout=60,
            )

        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(submit, range(10)))
        admitted = [a.json() for a in answers if a.status_code == 202]
        refused = [a.json() for a in answers if a.status_code == 402]
        assert (len(admitted), len(refused)) == (4, 6), [a.status_code for a in answers]
        assert all(r["error"]["code"] == "budget_exceeded" for r in refused)
        finished = [_finished(stack, job["id"]) for job in admitted]
        assert all(job["status"] == "succeeded" for job in finished), finished
        spent = sum(job["cost_usd"] for job in finished)
        assert _usage_today(stack) - usage_before == pytest.approx(spent, abs=1e-6)
    finally:
        admin_cli(stack, "budgets", "delete", "user:dev-user", "--period", "day")


def _usage_today(stack: StackProcess) -> float:
    response = httpx.get(
        f"{stack.api_url}/usage?group_by=day",
        headers={"Authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )
    response.raise_for_status()
    return float(response.json()["total_cost_usd"])
