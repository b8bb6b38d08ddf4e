"""`make screenshots`: the reference page's main states, as README shows them.

    python -m tests.browser.screenshots [--out docs/screenshots]

Starts the local stack with the provider stand-ins, drives the page in Debian's Chromium as
the browser suite does, and writes dialog.png, rendering.png, result.png, error.png and
mobile.png.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from local.stack import StackProcess
from tests.browser.support.driving import (
    JOB_TIMEOUT_MS,
    generate,
    launch,
    open_page,
    reset_standins,
    script,
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PROMPT = "a cosy cottage under a bright sun, watercolour"


def _shoot(page: Page, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"{name}.png"), full_page=True, animations="disabled")
    print(f"wrote {out / name}.png")


def _sample(page: Page) -> None:
    page.get_by_role("button", name="Draw a sample").click()
    page.locator("#providers-at-a-glance summary").click()


def take(stack: StackProcess, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport=DESKTOP).new_page()
        open_page(page, stack)
        _sample(page)
        page.get_by_label("Provider", exact=True).select_option("replicate")
        page.get_by_label("Prompt", exact=True).fill(PROMPT)
        page.wait_for_timeout(800)  # the quotes refresh a moment after the last change
        _shoot(page, out, "dialog")

        # A job that takes its time, caught while it renders.
        script(stack, "replicate", [{"outcome": "slow", "s_per_step": 0.4}])
        generate(page, "replicate", PROMPT)
        expect(page.locator("#progress-text")).to_contain_text(
            re.compile(r"step ([4-9]|1\d) of \d+ · running"), timeout=JOB_TIMEOUT_MS
        )
        _shoot(page, out, "rendering")
        expect(page.get_by_role("region", name="Result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        page.wait_for_timeout(500)
        _shoot(page, out, "result")

        script(stack, "openai", [{"outcome": "moderation"}])
        generate(page, "openai", "a stormy harbour at night")
        expect(page.get_by_role("alert")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        _shoot(page, out, "error")

        phone = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
        open_page(phone, stack)
        _sample(phone)
        phone.get_by_label("Prompt", exact=True).fill(PROMPT)
        phone.wait_for_timeout(800)
        _shoot(phone, out, "mobile")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state_file = Path(folder) / "stack.json"
        with StackProcess(state_file=state_file, standins=True) as stack:
            reset_standins(stack)
            take(stack, arguments.out)


if __name__ == "__main__":
    main()
