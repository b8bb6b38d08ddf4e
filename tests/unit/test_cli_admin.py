"""`sketchbridge admin ...`: what the options ask for, and what it signs with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sketchbridge import cli
from sketchbridge.cli import UsageError, build_parser
from sketchbridge.cli.admin import provider_change
from sketchbridge.cli.admin_client import resolve_admin_endpoint

KEY = {"access_key_id": "AKIALOCAL1", "secret_access_key": "s3cret", "region": "us-east-1"}


def stack_file(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps({"api_url": "http://127.0.0.1:3000", **extra}))
    return path


def change(*arguments: str) -> dict[str, object]:
    return provider_change(build_parser().parse_args(["admin", "providers", *arguments]))


def test_provider_options_become_the_put_body() -> None:
    assert change("replicate", "--disable") == {"enabled": False}
    assert change("openai", "--enable", "--weight", "2", "--rate-limit", "5/0.5") == {
        "enabled": True,
        "weight": 2.0,
        "rate_limit": {"capacity": 5.0, "refill_per_s": 0.5},
    }
    assert change("bedrock", "--reset", "price", "--reset", "model") == {
        "price": None,
        "model": None,
    }
    assert change("replicate") == {}


@pytest.mark.parametrize(
    "arguments",
    [
        ["replicate", "--enable", "--disable"],
        ["replicate", "--rate-limit", "fast"],
        ["replicate", "--price-json", "[1]"],
        ["replicate", "--reset", "colour"],
    ],
)
def test_bad_provider_options_are_usage_errors(arguments: list[str]) -> None:
    assert cli.main(["admin", "providers", *arguments]) == cli.EXIT_USAGE


def test_the_local_stack_is_signed_with_its_admin_key(tmp_path: Path) -> None:
    path = stack_file(tmp_path, admin_credentials=KEY)

    endpoint = resolve_admin_endpoint(
        api=None, region=None, stack_file=str(path), environ={}, cwd=tmp_path
    )

    assert (endpoint.api_url, endpoint.access_key_id, endpoint.region) == (
        "http://127.0.0.1:3000",
        "AKIALOCAL1",
        "us-east-1",
    )


def test_a_stack_file_without_an_admin_key_says_to_restart_the_stack(tmp_path: Path) -> None:
    path = stack_file(tmp_path)

    with pytest.raises(UsageError, match="admin_credentials"):
        resolve_admin_endpoint(
            api=None, region=None, stack_file=str(path), environ={}, cwd=tmp_path
        )


def test_a_deployed_api_is_signed_with_the_aws_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = stack_file(tmp_path, admin_credentials=KEY)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAFROMCHAIN",
        "AWS_SECRET_ACCESS_KEY": "chain-secret",
        "AWS_SESSION_TOKEN": "chain-token",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(name, value)

    endpoint = resolve_admin_endpoint(
        api="https://abc.execute-api.eu-west-1.amazonaws.com",
        region="eu-west-1",
        stack_file=str(path),
        environ={},
        cwd=tmp_path,
    )

    assert (endpoint.access_key_id, endpoint.session_token, endpoint.region) == (
        "AKIAFROMCHAIN",
        "chain-token",
        "eu-west-1",
    )
