"""Provider keys from moto's Secrets Manager: present, missing, malformed and rotated."""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.secrets import (
    CACHE_SECONDS,
    RETRY_AFTER_FAILURE_SECONDS,
    ProviderKeys,
)
from sketchbridge.domain.errors import AuthFailedError

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])
REPLICATE_KEY = "r8_first-key-never-logged"


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secretsmanager(aws: EmulatedAws) -> Any:
    """Secrets Manager of the package's moto server (never mock_aws: it resets moto's state,
    the server's tables and queues included)."""
    return client("secretsmanager")


@pytest.fixture
def secret() -> str:
    return f"sketchbridge/provider-keys-{uuid.uuid4().hex}"


def _keys(
    secretsmanager: Any, secret: str, clock: Ticking | None = None, **environ: str
) -> ProviderKeys:
    return ProviderKeys(secretsmanager, secret, environ=environ, clock=clock or Ticking())


def test_a_present_key_is_read_from_the_secret(secretsmanager: Any, secret: str) -> None:
    secretsmanager.create_secret(Name=secret, SecretString=json.dumps({"replicate": REPLICATE_KEY}))
    keys = _keys(secretsmanager, secret, REPLICATE_API_TOKEN="from-the-environment")
    assert keys.key("replicate") == REPLICATE_KEY
    assert REPLICATE_KEY not in repr(keys)


def test_a_provider_missing_from_the_secret_falls_back_to_its_environment_variable(
    secretsmanager: Any,
    secret: str,
) -> None:
    secretsmanager.create_secret(Name=secret, SecretString=json.dumps({"replicate": REPLICATE_KEY}))
    keys = _keys(secretsmanager, secret, OPENAI_API_KEY="sk-local")
    assert keys.key("openai") == "sk-local"
    assert _keys(secretsmanager, secret).key("openai") is None


def test_a_missing_secret_is_auth_failed_naming_the_secret_and_logged(
    secretsmanager: Any, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = _keys(
        secretsmanager, secret, REPLICATE_API_TOKEN="ignored-when-the-secret-is-configured"
    )
    with caplog.at_level(logging.ERROR), pytest.raises(AuthFailedError) as failed:
        keys.key("replicate")
    assert failed.value.code == "auth_failed"
    assert secret in failed.value.message
    assert "ResourceNotFoundException" in failed.value.message
    assert any(
        record.name.endswith("sketchbridge.aws.secrets") and secret in str(record.__dict__)
        for record in caplog.records
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"replicate": "r8_half-a-key', "not JSON"),
        ('["r8_in-a-list"]', "not an object"),
        ('"r8_a-bare-string"', "not an object"),
    ],
    ids=["truncated-json", "array", "string"],
)
def test_a_malformed_secret_is_auth_failed_and_its_value_is_never_logged(
    value: str, reason: str, secretsmanager: Any, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    secretsmanager.create_secret(Name=secret, SecretString=value)
    keys = _keys(secretsmanager, secret)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailedError) as failed:
        keys.key("replicate")
    assert reason in failed.value.message and secret in failed.value.message
    assert "r8_" not in failed.value.message
    # Ours: botocore's own DEBUG lines print response bodies, and it is never at DEBUG on AWS.
    logged = " ".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if record.name.endswith("sketchbridge.aws.secrets")
    )
    assert "unreadable" in logged
    assert "r8_" not in logged


def test_a_binary_secret_is_auth_failed(secretsmanager: Any, secret: str) -> None:
    secretsmanager.create_secret(Name=secret, SecretBinary=b"\x00r8_binary")
    with pytest.raises(AuthFailedError, match="binary"):
        _keys(secretsmanager, secret).key("replicate")


def test_a_rotated_key_is_served_once_the_cache_expires(secretsmanager: Any, secret: str) -> None:
    secretsmanager.create_secret(Name=secret, SecretString=json.dumps({"replicate": REPLICATE_KEY}))
    clock = Ticking()
    keys = _keys(secretsmanager, secret, clock)
    assert keys.key("replicate") == REPLICATE_KEY

    secretsmanager.put_secret_value(
        SecretId=secret, SecretString=json.dumps({"replicate": "r8_rotated"})
    )
    assert keys.key("replicate") == REPLICATE_KEY  # cached for a while
    clock.now += CACHE_SECONDS + 1
    assert keys.key("replicate") == "r8_rotated"


def test_a_secret_broken_after_a_good_read_keeps_serving_the_last_good_keys(
    secretsmanager: Any,
    secret: str,
) -> None:
    secretsmanager.create_secret(Name=secret, SecretString=json.dumps({"replicate": REPLICATE_KEY}))
    clock = Ticking()
    keys = _keys(secretsmanager, secret, clock)
    assert keys.key("replicate") == REPLICATE_KEY
    secretsmanager.put_secret_value(SecretId=secret, SecretString="{broken")
    clock.now += CACHE_SECONDS + 1
    assert keys.key("replicate") == REPLICATE_KEY


def test_a_failed_read_is_not_retried_on_every_call(secretsmanager: Any, secret: str) -> None:
    calls: list[str] = []
    real = secretsmanager.get_secret_value

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["SecretId"])
        return real(**kwargs)

    secretsmanager.get_secret_value = counting
    clock = Ticking()
    keys = _keys(secretsmanager, secret, clock)
    for _ in range(5):
        with pytest.raises(AuthFailedError):
            keys.key("replicate")
    assert len(calls) == 1
    secretsmanager.create_secret(Name=secret, SecretString=json.dumps({"replicate": REPLICATE_KEY}))
    clock.now += RETRY_AFTER_FAILURE_SECONDS + 1
    assert keys.key("replicate") == REPLICATE_KEY
