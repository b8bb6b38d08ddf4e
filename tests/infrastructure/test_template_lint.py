"""template.yaml passes the same checks CloudFormation and SAM would apply before a deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infrastructure

REPO_ROOT = Path(__file__).resolve().parents[2]
# cfn-lint and SAM run offline; a hung subprocess should fail the test, not the run.
SUBPROCESS_TIMEOUT_SECONDS = 240


def _offline_env() -> dict[str, str]:
    """The caller's environment, minus anything that would make the tools phone home."""
    env = dict(os.environ)
    env["SAM_CLI_TELEMETRY"] = "0"
    # No instance-metadata probing for credentials that lint never needs.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=_offline_env(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )


def _cfn_lint_command() -> list[str]:
    console_script = Path(sys.executable).parent / "cfn-lint"
    if console_script.exists():
        return [str(console_script)]
    return [sys.executable, "-c", "import sys, cfnlint.runner; sys.exit(cfnlint.runner.main())"]


def _sam_binary() -> Path:
    sam = Path(os.environ.get("SAM_BIN") or REPO_ROOT / ".venv-sam" / "bin" / "sam")
    if not sam.exists():
        pytest.skip(f"SAM CLI not found at {sam}; run `make install-sam` or set SAM_BIN")
    return sam


def test_template_has_no_cfn_lint_errors_or_warnings() -> None:
    result = _run([*_cfn_lint_command(), "--", "template.yaml"])

    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = _run([str(_sam_binary()), "validate", "--lint", "--region", "us-east-1"])

    assert result.returncode == 0, result.stdout + result.stderr
