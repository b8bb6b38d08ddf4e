"""A provider that is down stays in the list, disabled, with the reason; auto moves on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from local.stack import StackProcess
from tests.browser.support.driving import open_page, standin_url

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """A stack of its own: the breaker this module opens must not leak into other tests."""
    state_file = Path(tmp_path_factory.mktemp("down-stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


def _probe_providers(stack: StackProcess) -> None:
    """What the EventBridge schedule does every five minutes, now (the Lambda Invoke API)."""
    response = httpx.post(
        f"{stack.lambda_url}/2015-03-31/functions/HealthFunction/invocations", json={}, timeout=60
    )
    response.raise_for_status()


def test_a_provider_that_is_down_is_listed_disabled_with_its_reason(
    page: Page, browser_stack: StackProcess
) -> None:
    httpx.post(
        f"{standin_url(browser_stack, 'bedrock')}/_control/mode", json={"mode": "down"}, timeout=10
    ).raise_for_status()
    for _ in range(3):  # the breaker opens after three failed probes in a row
        _probe_providers(browser_stack)

    open_page(page, browser_stack)

    option = page.locator("#provider option[value=bedrock]")
    expect(option).to_be_disabled()
    expect(option).to_contain_text("unavailable (down:")
    row = page.locator("#provider-status-rows tr[data-provider=bedrock]")
    expect(row).to_contain_text("down")
    expect(page.locator("#provider option[value=replicate]")).to_be_enabled()
