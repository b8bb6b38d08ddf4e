"""The reference page as a person uses it, in a real browser against the local stack."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from local.stack import StackProcess
from sketchbridge import cli
from tests.browser.support.driving import (
    JOB_TIMEOUT_MS,
    axe_violations,
    draw_strokes,
    generate,
    open_page,
    script,
)

pytestmark = pytest.mark.browser


def _quote(page: Page) -> str:
    return page.locator("#provider-hint").inner_text()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2)


# Every text the progress line shows, kept in the page as it changes.
_RECORD_PROGRESS = """() => {
  window.progressShown = [];
  const line = document.getElementById("progress-text");
  new MutationObserver(() => window.progressShown.push(line.textContent))
    .observe(line, { childList: true, characterData: true, subtree: true });
}"""


def test_strokes_drawn_with_the_mouse_render_with_progress_and_a_result(page: Page) -> None:
    draw_strokes(page)
    page.evaluate(_RECORD_PROGRESS)
    generate(page, "replicate", "a kite over the sea")

    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#progress-text")).to_contain_text("succeeded on replicate")
    shown = page.evaluate("() => window.progressShown")
    # The steps as they came, before the end: "40% · step 8 of 20 · running on replicate".
    midway = [text for text in shown if re.search(r"step (\d+) of (?!\1\b)\d+ · running", text)]
    assert midway, shown
    facts = page.locator("#result-facts").inner_text()
    assert "replicate" in facts and "flux" in facts  # provider and model
    assert re.search(r"Seed\s+\d+", facts) and re.search(r"Cost\s+\$\d", facts), facts
    assert re.search(r"Time\s+\d+\.\d s", facts), facts
    image = page.locator("#result-image")
    expect(image).to_have_attribute("alt", re.compile("a kite over the sea"))
    assert page.evaluate("() => document.getElementById('result-image').naturalWidth") > 0


def test_choosing_a_provider_moves_the_sliders_into_its_ranges_and_changes_the_cost(
    page: Page,
) -> None:
    steps = page.get_by_label("Steps", exact=True)
    provider = page.get_by_label("Provider", exact=True)

    provider.select_option("local")
    expect(steps).to_have_attribute("max", "100")
    expect(page.locator("#provider-hint")).to_contain_text("This request: $0.0000")
    local_quote = _quote(page)

    provider.select_option("replicate")
    expect(steps).to_have_attribute("max", "50")
    expect(steps).to_be_enabled()
    expect(page.locator("#provider-hint")).to_contain_text("This request: $0.0")
    assert _quote(page) != local_quote

    provider.select_option("openai")
    # OpenAI takes none of the knobs, the seed included: the panel says so.
    expect(steps).to_be_disabled()
    expect(page.locator("#steps-hint")).to_contain_text("openai ignores steps")
    expect(page.get_by_label("Seed", exact=True)).to_be_disabled()
    expect(page.locator("#seed-hint")).to_contain_text("openai ignores the seed")

    # Every option carries its price and ETA; none is hidden.
    labels = provider.locator("option").all_inner_texts()
    assert [label.split(" ")[0] for label in labels] == [
        "auto",
        "local",
        "replicate",
        "openai",
        "bedrock",
    ], labels
    assert all("$" in label for label in labels[1:]), labels


def test_more_steps_on_a_per_step_price_changes_the_quote(page: Page) -> None:
    page.get_by_label("Provider", exact=True).select_option("replicate")
    hint = page.locator("#provider-hint")
    expect(hint).to_contain_text("This request:")
    before = _quote(page)

    page.get_by_label("Steps", exact=True).fill("50")

    expect(hint).not_to_have_text(before, timeout=10_000)
    expect(page.locator("#quote-status")).to_contain_text("50 steps")


def test_settings_come_back_after_a_reload_and_reset_clears_them(
    page: Page, browser_stack: StackProcess
) -> None:
    page.get_by_label("Provider", exact=True).select_option("bedrock")
    page.get_by_label("Policy").select_option("cheapest")
    page.get_by_label("Max cost (USD)").fill("0.5")
    page.get_by_label("Max cost (USD)").dispatch_event("change")
    page.get_by_label("Strength", exact=True).fill("0.4")
    page.wait_for_timeout(600)  # the page saves a moment after the last change

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_label("Provider", exact=True)).to_have_value("bedrock")
    expect(page.get_by_label("Policy")).to_have_value("cheapest")
    expect(page.get_by_label("Max cost (USD)")).to_have_value("0.5")
    expect(page.get_by_label("Strength", exact=True)).to_have_value("0.4")

    page.get_by_role("button", name="Reset settings").click()
    expect(page.get_by_label("Provider", exact=True)).to_have_value("auto")
    expect(page.get_by_label("Strength", exact=True)).to_have_value("0.75")
    open_page(page, browser_stack)
    expect(page.get_by_label("Provider", exact=True)).to_have_value("auto")
    expect(page.get_by_label("Policy")).to_have_value("balanced")
    expect(page.get_by_label("Max cost (USD)")).to_have_value("")


def test_a_safety_refusal_shows_suggestions_and_retries_on_another_provider(
    page: Page, browser_stack: StackProcess
) -> None:
    script(browser_stack, "openai", [{"outcome": "moderation"}])
    draw_strokes(page)
    generate(page, "openai", "a stormy harbour")

    error = page.get_by_role("alert")
    expect(error).to_contain_text("content_policy", timeout=JOB_TIMEOUT_MS)
    assert error.locator("li").count() >= 1, error.inner_text()
    retry = error.get_by_role("button", name="Try replicate instead")
    expect(retry).to_be_visible()
    assert error.get_by_role("button", name="Try openai instead").count() == 0

    retry.click()

    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_label("Provider", exact=True)).to_have_value("replicate")
    assert "replicate" in page.locator("#result-facts").inner_text()
    expect(error).to_be_hidden()


def _admin(stack: StackProcess, *arguments: str) -> None:
    """`sketchbridge admin ...` against the stack (SigV4 with its dummy admin key)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["admin", *arguments, "--stack-file", str(stack.state_file)], stdout=out, stderr=err
    )
    assert code == cli.EXIT_OK, err.getvalue()


def test_a_refused_budget_says_when_it_resets(page: Page, browser_stack: StackProcess) -> None:
    _admin(browser_stack, "budgets", "set", "user:dev-user", "--period", "day", "--hard", "0.01")
    try:
        draw_strokes(page)
        generate(page, "replicate", "a lighthouse")

        error = page.get_by_role("alert")
        expect(error).to_contain_text("budget_exceeded", timeout=JOB_TIMEOUT_MS)
        # The pinned calendar's next UTC midnight, as the API's resets_at names it.
        expect(error).to_contain_text("daily budget resets at")
        expect(error).to_contain_text("T00:00:00")
    finally:
        _admin(browser_stack, "budgets", "delete", "user:dev-user", "--period", "day")


def test_the_page_works_from_the_keyboard_alone(page: Page) -> None:
    page.get_by_role("button", name="Draw a sample").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Provider", exact=True).focus()
    page.keyboard.press("Tab")  # on to the next control: focus moves, nothing is trapped
    page.get_by_role("button", name="Generate", exact=True).focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement, ':focus-visible').outlineStyle"
    )
    assert outline != "none"


def test_axe_finds_no_serious_or_critical_violations(
    page: Page, browser_stack: StackProcess
) -> None:
    assert axe_violations(page) == [], "on load"

    script(browser_stack, "openai", [{"outcome": "moderation"}])
    draw_strokes(page)
    generate(page, "openai", "a lighthouse")
    expect(page.get_by_role("alert")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    page.get_by_role("button", name="Try replicate instead").click()
    expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)

    violations = axe_violations(page)
    assert violations == [], _json(violations)


def test_at_390_pixels_wide_nothing_scrolls_sideways(
    page: Page, browser_stack: StackProcess
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, browser_stack)

    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    generate = page.get_by_role("button", name="Generate", exact=True).bounding_box()
    assert generate is not None and generate["x"] + generate["width"] <= 390
    assert axe_violations(page) == []


def test_a_parameter_the_provider_ignores_is_disabled_and_says_so(page: Page) -> None:
    page.get_by_label("Provider", exact=True).select_option("replicate")

    # FLUX canny-dev has no strength setting: the drawing's lines always lead.
    expect(page.get_by_label("Strength", exact=True)).to_be_disabled()
    expect(page.locator("#strength-hint")).to_contain_text("replicate ignores strength")
    expect(page.get_by_label("Guidance", exact=True)).to_be_enabled()
