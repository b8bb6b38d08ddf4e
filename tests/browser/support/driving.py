"""Driving the reference page in Debian's Chromium: shared by the browser suite and
`make screenshots` (tests/browser/screenshots.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Playwright

from local.stack import StackProcess

CHROMIUM = Path("/usr/bin/chromium")
# A quiet, headless Chromium: no sandbox (root in CI), no GPU, nothing fetched on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STANDINS = ("replicate", "openai", "bedrock")
AXE_SCRIPT = Path(__file__).parent / "axe-core" / "axe.min.js"
# Long enough for a stand-in job through the queue; a test that waits this long has failed.
JOB_TIMEOUT_MS = 60_000


def launch(playwright: Playwright) -> Browser:
    """Debian's chromium; Playwright never downloads a browser here (`make chromium`)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_page(page: Page, stack: StackProcess) -> None:
    page.goto(stack.api_url + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=JOB_TIMEOUT_MS)


def standin_url(stack: StackProcess, name: str) -> str:
    return str(stack.state["standins"][name])


def reset_standins(stack: StackProcess) -> None:
    for name in STANDINS:
        httpx.post(f"{standin_url(stack, name)}/_control/reset", timeout=10).raise_for_status()


def script(stack: StackProcess, name: str, outcomes: list[dict[str, Any]]) -> None:
    """What the stand-in answers to the next generation requests (local/standins/control.py)."""
    response = httpx.post(f"{standin_url(stack, name)}/_control/script", json=outcomes, timeout=10)
    response.raise_for_status()


def draw_strokes(page: Page) -> None:
    """Two strokes with the mouse, as a person draws them."""
    box = page.get_by_role("img", name="Drawing canvas").bounding_box()
    assert box is not None
    for (x1, y1), (x2, y2) in (((0.2, 0.2), (0.8, 0.7)), ((0.3, 0.8), (0.7, 0.3))):
        page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + x2 * box["width"], box["y"] + y2 * box["height"], steps=12)
        page.mouse.up()


def unique_prompt(words: str) -> str:
    """Never answered from the result cache: each job really runs."""
    return f"{words}, take {uuid.uuid4().hex[:8]}"


def generate(page: Page, provider: str, prompt: str) -> None:
    page.get_by_label("Provider", exact=True).select_option(provider)
    page.get_by_label("Prompt", exact=True).fill(unique_prompt(prompt))
    page.get_by_role("button", name="Generate", exact=True).click()


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core run in the page (vendored in support/axe-core); what it flags at `impacts`."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in impacts
    ]
