"""Property: any failure a stand-in can be scripted to produce is exactly one documented code.

Through the real SDKs (Replicate, OpenAI) against their stand-ins: whatever status, headers,
body or refusal the stand-in answers with, the adapter raises a SketchbridgeError (never a raw
SDK or HTTP exception), its code is one the error tree in ``domain/errors.py`` documents, and
whether it is retried and failed over is what that tree says for the code. (Bedrock's stand-in
is reached through boto3 environment variables; its scripted failures are covered one by one
in test_bedrock_provider.py.)

Lives with the contract tests, not in tests/property: it needs the stand-ins' sockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.server import BackgroundServer
from local.standins import openai as openai_standin
from local.standins import replicate as replicate_standin
from local.standins.control import StandinControl
from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from tests.contract.conftest import base_url_of, start_server
from tests.contract.test_openai_provider import request as openai_request
from tests.contract.test_replicate_provider import sketch_request as replicate_request

OPENAI_KEY = "sk-property-test-key"
REPLICATE_TOKEN = "r8_property_test_token"

# The taxonomy of domain/errors.py, written out: for each code a provider failure may carry,
# (retryable, failover). Stated here, not read from the classes, so that a class or an
# adapter drifting from the documented tree fails this test.
DOCUMENTED: dict[str, tuple[bool, bool]] = {
    "content_policy": (False, False),
    "rate_limited": (True, True),
    "quota_exhausted": (False, True),
    "auth_failed": (False, True),
    "provider_unavailable": (True, True),
    "timeout": (True, True),
    # The provider said the request itself is wrong: no other provider is tried for it.
    "invalid_params": (False, False),
    "invalid_input": (False, False),
    # HTTP 413 from Replicate: the sketch is too large for it, an input error like the above
    # (found by this property in a full run: it was missing from this table, not the tree).
    "image_too_large": (False, False),
}


class Standins:
    def __init__(self) -> None:
        self.control = StandinControl()
        self.servers: list[BackgroundServer] = []

    def serve(self, app: Any) -> str:
        server = start_server(app)
        self.servers.append(server)
        return base_url_of(server)


@pytest.fixture(scope="module")
def standins() -> Iterator[tuple[StandinControl, dict[str, ImageProvider]]]:
    running = Standins()
    openai_url = running.serve(openai_standin.create_app(running.control, api_key=OPENAI_KEY))
    replicate_url = running.serve(
        replicate_standin.create_app(running.control, seconds_per_step=0.005)
    )
    # One attempt each: the property is about how one answer is read, not about retrying it.
    openai = OpenAIProvider(
        OpenAIConfig(base_url=f"{openai_url}/v1", retry_backoff_s=0.01, max_attempts=1),
        api_key=lambda: OPENAI_KEY,
    )
    replicate = ReplicateProvider(
        lambda: REPLICATE_TOKEN, ReplicateConfig(base_url=replicate_url, poll_interval_s=0.05)
    )
    try:
        yield running.control, {"openai": openai, "replicate": replicate}
    finally:
        openai.close()
        for server in running.servers:
            server.stop()


_OPENAI_ERROR_CODES = [
    None,
    "rate_limit_exceeded",
    "insufficient_quota",
    "invalid_api_key",
    "content_policy_violation",
    "moderation_blocked",
    "model_not_found",
    "server_error",
]
_REPLICATE_DETAILS = [
    "You have insufficient credit to run this model. Go to "
    "https://replicate.com/account/billing#billing to purchase credit.",
    "Request was throttled.",
    "Invalid token.",
    "Internal server error",
]


@st.composite
def scripted_failures(draw: st.DrawFn) -> dict[str, Any]:
    """One outcome the control API accepts that is not a success."""
    kind = draw(st.sampled_from(["status", "moderation", "aborted"]))
    if kind != "status":
        return {"outcome": kind}
    status = draw(
        st.one_of(
            st.sampled_from([400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503, 504]),
            st.integers(400, 599),
        )
    )
    outcome: dict[str, Any] = {"status": status}
    if draw(st.booleans()):
        outcome["headers"] = {"retry-after": str(draw(st.integers(0, 600)))}
    body = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda code, message: {
                    "error": {"message": message, "type": "error", "param": None, "code": code}
                },
                st.sampled_from(_OPENAI_ERROR_CODES),
                st.text(max_size=40),
            ),
            st.builds(
                lambda detail: {"detail": detail, "status": status},
                st.sampled_from(_REPLICATE_DETAILS),
            ),
        )
    )
    if body is not None:
        outcome["body"] = body
    return outcome


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(provider_name=st.sampled_from(["openai", "replicate"]), outcome=scripted_failures())
def test_every_scripted_provider_failure_is_one_documented_code_with_its_failover_decision(
    standins: tuple[StandinControl, dict[str, ImageProvider]],
    provider_name: str,
    outcome: dict[str, Any],
) -> None:
    control, providers = standins
    control.reset()
    control.set_script([outcome])
    request = openai_request() if provider_name == "openai" else replicate_request()

    with pytest.raises(SketchbridgeError) as caught:
        providers[provider_name].generate(request, lambda _update: None)

    error = caught.value
    assert error.code in DOCUMENTED, (provider_name, outcome, error.code, error.message)
    assert (error.retryable, error.failover_helps) == DOCUMENTED[error.code], (
        provider_name,
        outcome,
        error.code,
    )
    # One class, one code: the instance says what its class in the tree says.
    assert error.code == type(error).code
    assert error.message
