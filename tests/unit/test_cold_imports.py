"""Each Lambda function loads only what its own path needs (issue 13, cold starts).

Every handler shares one composition root, and it used to import every adapter, numpy,
Pillow and the provider SDKs for every function: the query handler's cold start paid for
rendering it never does. These tests import a handler in a fresh interpreter, as a new
Lambda container does, then build its dependencies as its first request would, and look
at what got loaded. (How long that takes is measured by bench/cold_start.py, not here.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Settings the wiring reads; nothing is called, so nothing needs to listen there.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "JOBS_TABLE": "jobs",
    "CONNECTIONS_TABLE": "connections",
    "CACHE_TABLE": "cache",
    "PROVIDERS_TABLE": "providers",
    "LEDGER_TABLE": "ledger",
    "BUDGETS_TABLE": "budgets",
    "PREFERENCES_TABLE": "preferences",
    "ARTIFACTS_BUCKET": "artifacts",
    "JOBS_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
    "WEBSOCKET_MANAGEMENT_URL": "http://127.0.0.1:9",
    "ENABLED_PROVIDERS": "local,openai,replicate,bedrock",
    "OCR_FUNCTION_NAME": "ocr",
}

RENDERING = ["numpy", "PIL"]
PROVIDER_SDKS = ["openai", "replicate", "httpx", "sketchbridge.providers.catalog"]
TOKEN_CHECKS = ["jwt", "cryptography"]

PROBE = """
import json, os, sys
sys.path[:0] = [{shared!r}, {function!r}]
os.environ.update({environment!r})
import app
imported = set(sys.modules)
from sketchbridge.bootstrap import dependencies
dependencies()
print(json.dumps({{"import": sorted(imported), "wired": sorted(sys.modules)}}))
"""


def loaded_by(function: str) -> dict[str, set[str]]:
    """The modules loaded by importing the function's handler, then by its wiring."""
    code = PROBE.format(
        shared=str(ROOT / "shared"),
        function=str(ROOT / "functions" / function),
        environment=ENVIRONMENT,
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    modules = json.loads(completed.stdout.strip().splitlines()[-1])
    return {stage: set(names) for stage, names in modules.items()}


@pytest.mark.parametrize("function", ["query", "websocket", "sweep", "deadletter", "health"])
def test_a_function_that_never_renders_loads_neither_numpy_pillow_nor_a_provider_sdk(
    function: str,
) -> None:
    loaded = loaded_by(function)

    unwanted = set(RENDERING + PROVIDER_SDKS)
    assert unwanted & loaded["import"] == set()
    assert unwanted & loaded["wired"] == set()


@pytest.mark.parametrize("function", ["query", "sweep", "deadletter", "submit", "processor"])
def test_only_the_websocket_function_loads_the_token_checks(function: str) -> None:
    assert set(TOKEN_CHECKS) & loaded_by(function)["wired"] == set()


@pytest.mark.parametrize("function", ["submit", "processor"])
def test_no_provider_sdk_is_loaded_before_a_provider_is_called(function: str) -> None:
    loaded = loaded_by(function)

    assert set(PROVIDER_SDKS) & loaded["wired"] == set()


def test_the_processor_decodes_sketches_without_loading_numpy() -> None:
    # The local renderer loads it when it runs; an AI provider's job never does.
    assert "numpy" not in loaded_by("processor")["wired"]


def test_the_websocket_events_never_load_the_http_routing() -> None:
    # Only POST /ws-tickets needs it; $connect, subscribe and $disconnect are most calls.
    assert "aws_lambda_powertools.event_handler" not in loaded_by("websocket")["wired"]
