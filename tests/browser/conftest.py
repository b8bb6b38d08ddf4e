"""The browser suite: the reference page in Debian's Chromium, driven by Playwright.

One local stack with the provider stand-ins (`make run STANDINS=1`) serves the page and the
API for the whole suite; every test gets a fresh browser context (empty localStorage) and
fresh stand-ins. Chromium comes from Debian (`/usr/bin/chromium`, installed by `make
chromium`, which `make test` runs); Playwright never downloads a browser of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from local.stack import StackProcess
from tests.browser.support.driving import CHROMIUM, launch, open_page, reset_standins


@pytest.fixture(scope="session")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_file = Path(tmp_path_factory.mktemp("browser-stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def fresh_standins(browser_stack: StackProcess) -> None:
    reset_standins(browser_stack)


@pytest.fixture
def page(browser: Browser, browser_stack: StackProcess) -> Iterator[Page]:
    """The page as a first-time visitor opens it: a fresh context, nothing stored."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    open_page(opened, browser_stack)
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"
