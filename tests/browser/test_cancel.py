"""Canceling a job from the page (POST /generations/{id}/cancel)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from local.stack import StackProcess
from tests.browser.support.driving import (
    JOB_TIMEOUT_MS,
    draw_strokes,
    generate,
    script,
)

pytestmark = pytest.mark.browser


def _api(stack: StackProcess, method: str, path: str) -> httpx.Response:
    return httpx.request(
        method,
        stack.api_url + path,
        headers={"authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )


def test_a_slow_job_is_canceled_from_the_page(page: Page, browser_stack: StackProcess) -> None:
    script(browser_stack, "replicate", [{"outcome": "slow", "s_per_step": 2}])
    draw_strokes(page)
    generate(page, "replicate", "a slow sunrise")
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text("step 1 of", timeout=JOB_TIMEOUT_MS)

    cancel.click()

    expect(page.locator("#progress-detail")).to_contain_text("Canceled", timeout=JOB_TIMEOUT_MS)
    expect(cancel).to_be_hidden()
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_enabled()
    expect(page.get_by_role("region", name="Result")).to_be_hidden()
    # The event log names the job: "Job <id> submitted."
    job_id = re.search(r"Job (\w+) submitted", page.locator("#log").text_content() or "").group(1)
    assert _api(browser_stack, "GET", f"/generations/{job_id}").json()["status"] == "canceled"
