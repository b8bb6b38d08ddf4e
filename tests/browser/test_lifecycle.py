"""Refine, history and preferences from the page (issue 11's routes)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from local.stack import StackProcess
from tests.browser.support.driving import (
    JOB_TIMEOUT_MS,
    draw_strokes,
    generate,
    open_page,
)

pytestmark = pytest.mark.browser


def _api(stack: StackProcess, method: str, path: str) -> httpx.Response:
    return httpx.request(
        method,
        stack.api_url + path,
        headers={"authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    )


def test_a_result_is_refined_with_a_new_prompt(page: Page, browser_stack: StackProcess) -> None:
    draw_strokes(page)
    generate(page, "local", "a green hill")
    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    first = _api(browser_stack, "GET", "/generations?limit=1").json()["items"][0]

    page.get_by_label("New prompt (optional)").fill("a green hill at night")
    page.get_by_label("How much to change it").fill("0.3")
    page.get_by_role("button", name="Refine", exact=True).click()

    expect(page.locator("#result-hops")).to_contain_text("Refined from", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#result-image")).to_have_attribute(
        "alt", "Generated image for: a green hill at night"
    )
    refined = _api(browser_stack, "GET", "/generations?limit=1").json()["items"][0]
    assert refined["parent_id"] == first["id"] and refined["depth"] == 1


def test_the_history_strip_reopens_an_earlier_image(
    page: Page, browser_stack: StackProcess
) -> None:
    draw_strokes(page)
    generate(page, "local", "a red boat")
    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    first_alt = page.locator("#result-image").get_attribute("alt")
    generate(page, "local", "a blue boat")
    expect(page.locator("#result-image")).not_to_have_attribute(
        "alt", first_alt or "", timeout=JOB_TIMEOUT_MS
    )
    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)

    history = page.get_by_role("region", name="Recent images")
    expect(history.get_by_role("button")).not_to_have_count(0)
    history.get_by_role("button", name="a red boat").first.click()

    expect(page.locator("#result-image")).to_have_attribute("alt", first_alt or "")


def test_settings_are_kept_by_the_api_for_another_browser(
    page: Page, browser: Browser, browser_stack: StackProcess
) -> None:
    page.get_by_label("Provider", exact=True).select_option("bedrock")
    page.get_by_label("Policy").select_option("fastest")
    page.wait_for_timeout(800)  # the page saves a moment after the last change

    saved = _api(browser_stack, "GET", "/preferences").json()
    assert saved["provider"] == "bedrock" and saved["policy"] == "fastest"
    elsewhere = browser.new_context().new_page()  # no localStorage: only the API remembers
    try:
        open_page(elsewhere, browser_stack)
        expect(elsewhere.get_by_label("Provider", exact=True)).to_have_value("bedrock")
        expect(elsewhere.get_by_label("Policy")).to_have_value("fastest")
    finally:
        elsewhere.context.close()

    page.get_by_role("button", name="Reset settings").click()
    page.wait_for_timeout(300)
    assert _api(browser_stack, "GET", "/preferences").json()["updated_at"] is None
