"""Issue 11's lifecycle over real HTTP against the local stack: refine a finished job, page
through 25 jobs ten at a time, preferences that follow the user to a new token, deletion,
and another user who finds none of it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from local.stack import StackProcess
from tests.support.fakes import sketch_data_url

pytestmark = pytest.mark.e2e


def _token(stack: StackProcess, user: str) -> dict[str, str]:
    response = httpx.post(f"{stack.api_url}/dev-issuer/token", json={"sub": user}, timeout=10)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


def _submit(stack: StackProcess, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {
        "sketch": sketch_data_url("turtle.png"),
        "prompt": f"a sea turtle, take {uuid.uuid4().hex[:8]}",
        "provider": "local",
        **body,
    }
    response = httpx.post(f"{stack.api_url}/generations", json=payload, headers=auth, timeout=30)
    assert response.status_code == 202, response.text
    return dict(response.json())


def _finished(stack: StackProcess, auth: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = httpx.get(f"{stack.api_url}/generations/{job_id}", headers=auth, timeout=10).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_refine_a_finished_job_into_a_new_one_with_its_lineage(stack: StackProcess) -> None:
    ada, bob = _token(stack, f"ada-{uuid.uuid4().hex[:6]}"), _token(stack, "bob-lifecycle")
    small = {"params": {"steps": 2, "width": 128, "height": 128}}
    parent = _finished(stack, ada, _submit(stack, ada, **small)["id"])
    assert parent["status"] == "succeeded", parent

    refined = httpx.post(
        f"{stack.api_url}/generations/{parent['id']}/refine",
        json={"prompt": "a sea turtle at dusk", "params": {"strength": 0.4}},
        headers=ada,
        timeout=30,
    )

    assert refined.status_code == 202, refined.text
    child = refined.json()
    assert (child["parent_id"], child["root_id"], child["depth"]) == (parent["id"], parent["id"], 1)
    done = _finished(stack, ada, child["id"])
    assert done["status"] == "succeeded" and done["result"]["url"], done
    assert done["result"]["url"] != parent["result"]["url"]
    assert done["parent_id"] == parent["id"]
    lineage = httpx.get(
        f"{stack.api_url}/generations/{child['id']}/lineage", headers=ada, timeout=10
    )
    assert [job["id"] for job in lineage.json()["items"]] == [parent["id"], child["id"]]

    # Another user: none of it exists.
    for method, path in (
        ("GET", f"/generations/{parent['id']}"),
        ("GET", f"/generations/{child['id']}/lineage"),
        ("POST", f"/generations/{parent['id']}/refine"),
        ("DELETE", f"/generations/{parent['id']}"),
    ):
        response = httpx.request(
            method,
            f"{stack.api_url}{path}",
            json={} if method == "POST" else None,
            headers=bob,
            timeout=30,
        )
        assert response.status_code == 404, (method, path, response.text)
    theirs = httpx.get(f"{stack.api_url}/generations", headers=bob, timeout=10).json()
    assert {parent["id"], child["id"]}.isdisjoint(job["id"] for job in theirs["items"])

    deleted = httpx.delete(f"{stack.api_url}/generations/{parent['id']}", headers=ada, timeout=30)
    assert deleted.status_code == 204, deleted.text
    assert (
        httpx.get(
            f"{stack.api_url}/generations/{parent['id']}", headers=ada, timeout=10
        ).status_code
        == 404
    )
    listed = httpx.get(f"{stack.api_url}/generations", headers=ada, timeout=10).json()
    assert [job["id"] for job in listed["items"]] == [child["id"]]


def test_pages_through_25_jobs_ten_at_a_time(stack: StackProcess) -> None:
    auth = _token(stack, f"pager-{uuid.uuid4().hex[:6]}")
    submitted = [
        _submit(stack, auth, params={"steps": 1, "width": 64, "height": 64})["id"]
        for _ in range(25)
    ]

    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{stack.api_url}/generations", params=query, headers=auth, timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([job["id"] for job in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [job_id for page in pages for job_id in page] == list(reversed(submitted))
    tampered = httpx.get(
        f"{stack.api_url}/generations",
        params={"cursor": "not-a-cursor"},
        headers=auth,
        timeout=10,
    )
    assert tampered.status_code == 400


def test_preferences_survive_a_new_token_and_reset_with_delete(stack: StackProcess) -> None:
    user = f"prefs-{uuid.uuid4().hex[:6]}"
    laptop = _token(stack, user)
    saved = httpx.put(
        f"{stack.api_url}/preferences",
        json={"params": {"steps": 3, "strength": 0.3}, "policy": "cheapest"},
        headers=laptop,
        timeout=10,
    )
    assert saved.status_code == 200, saved.text

    phone = _token(stack, user)  # another device: a new token for the same sub
    assert phone != laptop
    shown = httpx.get(f"{stack.api_url}/preferences", headers=phone, timeout=10).json()
    assert (shown["params"]["steps"], shown["params"]["strength"], shown["policy"]) == (
        3,
        0.3,
        "cheapest",
    )
    job = _submit(stack, phone, params={"width": 64, "height": 64})
    assert (job["params"]["steps"], job["params"]["strength"]) == (3, 0.3)
    stranger = httpx.get(
        f"{stack.api_url}/preferences", headers=_token(stack, "someone-else"), timeout=10
    ).json()
    assert stranger["policy"] == "balanced"

    reset = httpx.delete(f"{stack.api_url}/preferences", headers=phone, timeout=10)
    assert reset.status_code == 200 and reset.json()["updated_at"] is None
    again = httpx.get(f"{stack.api_url}/preferences", headers=laptop, timeout=10).json()
    assert (again["params"]["steps"], again["policy"]) == (
        None,
        "balanced",
    )  # each provider's own default
