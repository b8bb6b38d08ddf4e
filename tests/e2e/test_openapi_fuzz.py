"""Schemathesis against the local stack: no input answers a 5xx or breaks the OpenAPI document.

Every operation of ``/openapi.json`` is run through Schemathesis's phases (examples,
coverage, fuzzing, stateful) with a bounded number of examples; `make bench` runs the same
for longer (``bench/api_fuzz.py``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from local.api_fuzz import fuzz
from local.stack import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Bounded for `make test` (about a minute on two cores); the bench runs 200.
MAX_EXAMPLES = 10


def test_no_input_answers_a_server_error_or_breaks_the_schema(
    stack: StackProcess, tmp_path: Path
) -> None:
    outcome = fuzz(stack.api_url, stack.dev_token, max_examples=MAX_EXAMPLES, report_dir=tmp_path)
    print(outcome.summary())
    assert outcome.passed, outcome.output[-8000:]
    # Every warning is one understood. POST /generations refuses nearly every drawn body as
    # invalid_sketch (no schema can say "a picture that decodes"), so whether one of its few
    # fuzzing cases carries the example sketch shifts with any field the request gains, and
    # Schemathesis may say it "mostly rejected generated data". And a cancel reaches a job
    # (through the submit's link) only while it is queued or running: the local renderer
    # often ends it first, so every try may answer 409 job_finished or, with a random id,
    # 404, which Schemathesis calls "missing test data". Nothing else may warn.
    assert outcome.report, "Schemathesis wrote no JSON report"
    raised = {kind: labels for kind, labels in outcome.report["warnings"].items() if labels}
    understood = {
        "validation_mismatch": ["POST /generations"],
        "low_valid_rate": ["POST /generations"],
        "missing_test_data": ["POST /generations/{id}/cancel"],
    }
    assert all(understood.get(kind) == labels for kind, labels in raised.items()), raised


def test_the_document_describes_every_route_with_its_models(stack: StackProcess) -> None:
    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": stack.api_url}]
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert {("POST", "/generations"), ("GET", "/generations/{id}"), ("POST", "/ws-tickets")} <= (
        operations
    )
    created = document["paths"]["/generations"]["post"]
    assert created["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GenerationRequest"
    }
    assert {"200", "202", "400", "409", "413", "415"} <= set(created["responses"])
