"""`python -m local.stack` as a subprocess: the state file other tools and tests read."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from local.stack import StackProcess


@pytest.mark.e2e
def test_the_stack_process_publishes_its_urls_and_removes_them_when_stopped(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "stack.json"

    with StackProcess(state_file=state_file) as stack:
        config = httpx.get(f"{stack.api_url}/_local/config", timeout=30).json()
        jwks = httpx.get(f"{stack.state['issuer']}/.well-known/jwks.json", timeout=30).json()
        unauthorized = httpx.get(f"{stack.api_url}/providers", timeout=30)

        assert stack.ws_url == stack.api_url.replace("http://", "ws://") + "/ws"
        assert stack.aws_endpoint_url.startswith("http://127.0.0.1:")
        assert stack.state["standins"] == {}
        assert config == {
            "api_url": stack.api_url,
            "ws_url": stack.ws_url,
            "dev_token": stack.dev_token,
        }
        assert jwks["keys"]
        assert unauthorized.status_code == 401

    assert not state_file.exists()
