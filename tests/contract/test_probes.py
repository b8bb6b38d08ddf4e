"""Each adapter's health probe through its real SDK against its stand-in: a lookup that draws
nothing and bills nothing, one attempt, and the same error codes a real call would give."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openai.types import Model

from local.standins import bedrock, openai, replicate
from local.standins.control import StandinControl
from sketchbridge.domain.clock import pinned
from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.providers.base import ProbeableProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from tests.contract.conftest import Serve
from tests.contract.test_replicate_standin import openapi_3_0_to_json_schema

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "providers"
REPLICATE_TOKEN = "r8_probe_test_token"
OPENAI_KEY = "sk-probe-test-key"
SKETCH_MODEL_ID = BedrockConfig().model_id


def _failure(provider: ProbeableProvider) -> SketchbridgeError:
    with pytest.raises(SketchbridgeError) as raised:
        provider.probe(timeout_s=5.0)
    return raised.value


def _paths(control: StandinControl) -> list[tuple[str, str]]:
    return [(request["method"], request["path"]) for request in control.requests]


def test_every_adapter_can_be_probed() -> None:
    adapters = [
        LocalProvider(),
        ReplicateProvider(lambda: None),
        OpenAIProvider(api_key=lambda: None),
        BedrockProvider(BedrockConfig(region="us-west-2")),
    ]
    assert all(isinstance(adapter, ProbeableProvider) for adapter in adapters)
    LocalProvider().probe()  # runs in the function itself: always there


# ---------------------------------------------------------------- Replicate


@pytest.fixture(scope="module")
def replicate_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def replicate_url(serve_for_module: Serve, replicate_control: StandinControl) -> str:
    return serve_for_module(replicate.create_app(replicate_control, api_token=REPLICATE_TOKEN))


@pytest.fixture
def replicate_standin(replicate_control: StandinControl) -> Iterator[StandinControl]:
    replicate_control.reset()
    yield replicate_control


def _replicate(url: str, token: str | None = REPLICATE_TOKEN) -> ReplicateProvider:
    return ReplicateProvider(lambda: token, ReplicateConfig(base_url=url))


def test_replicate_probe_looks_the_model_up_and_starts_no_prediction(
    replicate_url: str, replicate_standin: StandinControl
) -> None:
    _replicate(replicate_url).probe(timeout_s=5.0)

    assert _paths(replicate_standin) == [("GET", "/v1/models/black-forest-labs/flux-canny-dev")]


def test_replicate_stand_in_answers_the_model_as_the_spec_shapes_it(replicate_url: str) -> None:
    spec = json.loads((CONTRACTS / "replicate-openapi.json").read_text())
    schema = openapi_3_0_to_json_schema(
        copy.deepcopy(spec["components"]["schemas"]["schemas_model_response"])
    )
    answer = httpx.get(
        f"{replicate_url}/v1/models/black-forest-labs/flux-canny-dev",
        headers={"Authorization": f"Bearer {REPLICATE_TOKEN}"},
        timeout=10,
    )

    assert answer.status_code == 200
    model = answer.json()
    jsonschema.validate(model, schema)
    assert (model["owner"], model["name"]) == ("black-forest-labs", "flux-canny-dev")


def test_replicate_down_is_unavailable_after_one_attempt(
    replicate_url: str, replicate_standin: StandinControl
) -> None:
    replicate_standin.set_mode("down")

    error = _failure(_replicate(replicate_url))

    assert error.code == "provider_unavailable"
    assert len(replicate_standin.requests) == 1  # a probe is never retried


def test_replicate_probe_with_a_refused_key_fails_auth(
    replicate_url: str, replicate_standin: StandinControl
) -> None:
    assert _failure(_replicate(replicate_url, token="r8_someone_else")).code == "auth_failed"


def test_replicate_probe_without_a_key_fails_auth_without_a_call(
    replicate_url: str, replicate_standin: StandinControl
) -> None:
    assert _failure(_replicate(replicate_url, token=None)).code == "auth_failed"
    assert replicate_standin.requests == []


def test_replicate_probe_does_not_use_up_a_scripted_outcome(
    replicate_url: str, replicate_standin: StandinControl
) -> None:
    replicate_standin.set_script([{"status": 429}])

    _replicate(replicate_url).probe(timeout_s=5.0)

    assert len(replicate_standin.script) == 1


# ---------------------------------------------------------------- OpenAI


@pytest.fixture(scope="module")
def openai_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def openai_url(serve_for_module: Serve, openai_control: StandinControl) -> str:
    return serve_for_module(openai.create_app(openai_control, api_key=OPENAI_KEY))


@pytest.fixture
def openai_standin(openai_control: StandinControl) -> Iterator[StandinControl]:
    openai_control.reset()
    yield openai_control


@pytest.fixture
def openai_providers() -> Iterator[list[OpenAIProvider]]:
    made: list[OpenAIProvider] = []
    yield made
    for provider in made:
        provider.close()


def _openai(
    made: list[OpenAIProvider], url: str, key: str = OPENAI_KEY, model: str = "gpt-image-2"
) -> OpenAIProvider:
    provider = OpenAIProvider(OpenAIConfig(base_url=f"{url}/v1", model=model), api_key=lambda: key)
    made.append(provider)
    return provider


def test_openai_probe_retrieves_the_configured_model(
    openai_url: str, openai_standin: StandinControl, openai_providers: list[OpenAIProvider]
) -> None:
    _openai(openai_providers, openai_url).probe(timeout_s=5.0)

    assert _paths(openai_standin) == [("GET", "/v1/models/gpt-image-2")]


def test_openai_stand_in_answers_a_model_the_sdk_reads(openai_url: str) -> None:
    # A day when gpt-image-1.5 still answered, its shutdown announced.
    with pinned(datetime(2026, 11, 25, tzinfo=UTC)):
        answer = httpx.get(
            f"{openai_url}/v1/models/gpt-image-1.5",
            headers={"Authorization": f"Bearer {OPENAI_KEY}"},
            timeout=10,
        )

    model = Model.model_validate(answer.json())
    assert (model.id, model.object) == ("gpt-image-1.5", "model")
    assert answer.json()["shutdown_date"] == "2026-12-01"


def test_openai_probe_of_a_retired_model_says_it_was_retired(
    openai_url: str, openai_standin: StandinControl, openai_providers: list[OpenAIProvider]
) -> None:
    error = _failure(_openai(openai_providers, openai_url, model="dall-e-2"))

    assert error.code == "provider_unavailable"
    assert "retired on 2026-05-12" in error.message


def test_openai_down_is_unavailable_after_one_attempt(
    openai_url: str, openai_standin: StandinControl, openai_providers: list[OpenAIProvider]
) -> None:
    openai_standin.set_mode("down")

    assert _failure(_openai(openai_providers, openai_url)).code == "provider_unavailable"
    assert len(openai_standin.requests) == 1


def test_openai_probe_with_a_refused_key_fails_auth(
    openai_url: str, openai_standin: StandinControl, openai_providers: list[OpenAIProvider]
) -> None:
    provider = _openai(openai_providers, openai_url, key="sk-someone-else")

    assert _failure(provider).code == "auth_failed"


# ---------------------------------------------------------------- Bedrock


@pytest.fixture(scope="module")
def bedrock_control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def bedrock_url(serve_for_module: Serve, bedrock_control: StandinControl) -> str:
    return serve_for_module(bedrock.create_app(bedrock_control))


@pytest.fixture
def bedrock_standin(
    monkeypatch: pytest.MonkeyPatch,
    bedrock_url: str,
    bedrock_control: StandinControl,
    tmp_path: Path,
) -> Iterator[StandinControl]:
    bedrock_control.reset()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    # The probe asks the control plane (bedrock), not the runtime (bedrock-runtime).
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", bedrock_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield bedrock_control


def _bedrock(**config: Any) -> BedrockProvider:
    return BedrockProvider(BedrockConfig(region="us-west-2", **config))


def test_bedrock_probe_gets_the_foundation_model_through_boto3(
    bedrock_standin: StandinControl,
) -> None:
    _bedrock().probe(timeout_s=5.0)

    assert _paths(bedrock_standin) == [("GET", f"/foundation-models/{SKETCH_MODEL_ID}")]


def test_bedrock_stand_in_answers_what_botocore_parses(bedrock_standin: StandinControl) -> None:
    import boto3

    client = boto3.session.Session(region_name="eu-central-1").client("bedrock")

    details = client.get_foundation_model(modelIdentifier=SKETCH_MODEL_ID)["modelDetails"]

    assert details["modelId"] == SKETCH_MODEL_ID
    assert details["modelArn"].startswith("arn:aws:bedrock:eu-central-1::foundation-model/")
    assert details["modelLifecycle"]["status"] == "ACTIVE"


def test_bedrock_probe_of_a_model_it_does_not_offer_is_unavailable(
    bedrock_standin: StandinControl,
) -> None:
    error = _failure(_bedrock(model_id="stability.no-such-model-v1:0"))

    assert error.code == "provider_unavailable"


def test_bedrock_down_is_unavailable_after_one_attempt(bedrock_standin: StandinControl) -> None:
    bedrock_standin.set_mode("down")

    assert _failure(_bedrock()).code == "provider_unavailable"
    assert len(bedrock_standin.requests) == 1


def test_bedrock_probe_without_credentials_is_an_admin_problem(
    monkeypatch: pytest.MonkeyPatch, bedrock_standin: StandinControl
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    assert _failure(_bedrock()).code == "auth_failed"
    assert bedrock_standin.requests == []
