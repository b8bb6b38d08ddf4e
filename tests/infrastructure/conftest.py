"""Fixtures for reading template.yaml, the docs and the pins the way CloudFormation would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

FUNCTION_TYPE = "AWS::Serverless::Function"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml as a plain mapping; short tags (!Ref, !Sub, ...) become their long forms."""
    decoded, problems = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not problems, f"template.yaml does not parse: {problems}"
    assert decoded is not None
    return dict(decoded)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(template["Resources"])


@pytest.fixture(scope="session")
def functions(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == FUNCTION_TYPE}


@pytest.fixture(scope="session")
def function_globals(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template.get("Globals", {}).get("Function", {}))
