"""The Replicate stand-in answers as Replicate does: the spec's schemas, the recorded bodies,
and the shapes the SDK's own models require."""

from __future__ import annotations

import base64
import copy
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from PIL import Image, ImageDraw
from replicate.file import File
from replicate.prediction import Prediction

from local.standins.control import StandinControl
from local.standins.replicate import create_app
from tests.contract.conftest import Serve

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "providers"
AUTH = {"Authorization": "Bearer r8_standin_test"}
MODEL_PATH = "/v1/models/black-forest-labs/flux-canny-dev/predictions"


def openapi_3_0_to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` becomes JSON Schema's ``type: [..., "null"]``."""
    if isinstance(schema, list):
        return [openapi_3_0_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: openapi_3_0_to_json_schema(value) for key, value in schema.items()}
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    spec = json.loads((CONTRACTS / "replicate-openapi.json").read_text())
    components = spec["components"]["schemas"]
    return {
        name: openapi_3_0_to_json_schema(copy.deepcopy(components[name]))
        for name in ("schemas_prediction_response", "schemas_file_response")
    }


def recorded(name: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads((CONTRACTS / "replicate-examples" / name).read_text())
    return example


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def client(serve_for_module: Serve, control: StandinControl) -> Iterator[httpx.Client]:
    base_url = serve_for_module(create_app(control, seconds_per_step=0.005))
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as http:
        yield http


@pytest.fixture(autouse=True)
def fresh_standin(control: StandinControl) -> None:
    control.reset()


def sketch_data_url() -> str:
    sketch = Image.new("RGB", (256, 192), "white")
    ImageDraw.Draw(sketch).rectangle((40, 40, 200, 150), outline="black", width=4)
    buffer = io.BytesIO()
    sketch.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def model_input(**overrides: Any) -> dict[str, Any]:
    return {
        "prompt": "a blue house",
        "control_image": sketch_data_url(),
        "num_inference_steps": 8,
        "seed": 5,
        "megapixels": "match_input",
        "output_format": "png",
        **overrides,
    }


def wait_until_final(client: httpx.Client, prediction_id: str) -> dict[str, Any]:
    for _ in range(400):
        body: dict[str, Any] = client.get(f"/v1/predictions/{prediction_id}").json()
        if body["status"] in ("succeeded", "failed", "canceled", "aborted"):
            return body
        time.sleep(0.02)
    raise AssertionError("the prediction never ended")


def assert_is_prediction(schemas: dict[str, Any], body: dict[str, Any]) -> None:
    jsonschema.validate(body, schemas["schemas_prediction_response"])
    if body["status"] != "aborted":  # replicate 1.0.7 cannot parse "aborted"; nor can Replicate's
        Prediction(**body)


def test_every_prediction_answer_matches_the_spec_and_the_sdk_model(
    client: httpx.Client, schemas: dict[str, Any]
) -> None:
    created = client.post(MODEL_PATH, json={"input": model_input()})
    final = wait_until_final(client, created.json()["id"])
    canceled_id = client.post(MODEL_PATH, json={"input": model_input(num_inference_steps=50)})
    canceled = client.post(f"/v1/predictions/{canceled_id.json()['id']}/cancel")

    assert created.status_code == 201
    assert created.json()["status"] == "starting"
    assert final["status"] == "succeeded"
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    for body in (created.json(), final, canceled.json()):
        assert_is_prediction(schemas, body)


def test_a_held_answer_is_processing_with_a_data_url_output_as_recorded(
    client: httpx.Client, schemas: dict[str, Any]
) -> None:
    answer = client.post(MODEL_PATH, json={"input": model_input()}, headers={"Prefer": "wait=10"})

    body = answer.json()
    shape = recorded("02-create-prefer-wait-201-processing-dataurl.json")["response"]
    assert answer.status_code == shape["status"] == 201
    assert answer.headers["Preference-Applied"] == "wait=10"
    assert body["status"] == shape["body"]["status"] == "processing"
    assert body["output"][0].startswith("data:image/png;base64,")
    assert_is_prediction(schemas, body)


def test_logs_grow_with_tqdm_lines_the_sdk_reads_as_progress(client: httpx.Client) -> None:
    created = client.post(MODEL_PATH, json={"input": model_input(num_inference_steps=8)})
    final = wait_until_final(client, created.json()["id"])

    progress = Prediction(**final).progress
    assert progress is not None
    assert (progress.current, progress.total, progress.percentage) == (8, 8, 1.0)
    assert "| 4/8 [" in final["logs"]


def test_the_output_url_serves_the_picture_to_an_authorised_client(client: httpx.Client) -> None:
    created = client.post(MODEL_PATH, json={"input": model_input()})
    final = wait_until_final(client, created.json()["id"])

    picture = client.get(final["output"][0])
    anonymous = httpx.get(final["output"][0])

    with Image.open(io.BytesIO(picture.content)) as image:
        assert (image.format, image.size) == ("PNG", (256, 192))
    assert anonymous.status_code == 401


def test_an_uploaded_file_matches_the_spec_and_the_sdk_model_and_can_be_an_input(
    client: httpx.Client, schemas: dict[str, Any]
) -> None:
    png = base64.b64decode(sketch_data_url().partition(",")[2])
    uploaded = client.post(
        "/v1/files", files={"content": ("sketch.png", png, "image/png")}, data={"metadata": "{}"}
    )
    file_url = uploaded.json()["urls"]["get"]
    created = client.post(MODEL_PATH, json={"input": model_input(control_image=file_url)})

    assert uploaded.status_code == 201
    jsonschema.validate(uploaded.json(), schemas["schemas_file_response"])
    assert File(**uploaded.json()).name == "sketch.png"
    assert wait_until_final(client, created.json()["id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    ("outcome", "recording"),
    [
        ({"status": 401}, "07-error-401-problem-json.json"),
        ({"status": 422}, "10-error-422-invalid-version.json"),
        ({"status": 429}, "11-error-429-throttled-retry_after.json"),
    ],
)
def test_scripted_errors_answer_the_recorded_problem_bodies(
    client: httpx.Client, control: StandinControl, outcome: dict[str, Any], recording: str
) -> None:
    control.set_script([outcome])

    answer = client.post(MODEL_PATH, json={"input": model_input()})

    assert answer.status_code == outcome["status"]
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == recorded(recording)["response"]["body"]


def test_no_token_is_answered_401_exactly_as_recorded(client: httpx.Client) -> None:
    answer = httpx.post(f"{client.base_url}{MODEL_PATH}", json={"input": model_input()})

    assert answer.status_code == 401
    assert answer.json() == recorded("07-error-401-problem-json.json")["response"]["body"]


def test_an_unknown_prediction_is_a_404_problem(client: httpx.Client) -> None:
    answer = client.get("/v1/predictions/doesnotexist")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.json()) >= {"detail", "status"}


def test_input_the_model_refuses_is_a_422_naming_the_field(client: httpx.Client) -> None:
    answer = client.post(MODEL_PATH, json={"input": model_input(num_inference_steps=51)})

    assert answer.status_code == 422
    assert "num_inference_steps" in answer.json()["detail"]


def test_moderation_fails_the_prediction_with_an_nsfw_error(
    client: httpx.Client, control: StandinControl, schemas: dict[str, Any]
) -> None:
    control.set_script([{"outcome": "moderation"}])

    created = client.post(MODEL_PATH, json={"input": model_input()})
    final = wait_until_final(client, created.json()["id"])

    assert final["status"] == "failed"
    assert "NSFW" in final["error"]
    assert_is_prediction(schemas, final)


def test_aborted_is_a_spec_status_the_sdk_model_rejects(
    client: httpx.Client, control: StandinControl, schemas: dict[str, Any]
) -> None:
    control.set_script([{"outcome": "aborted"}])

    created = client.post(MODEL_PATH, json={"input": model_input()})
    final = wait_until_final(client, created.json()["id"])

    assert final["status"] == "aborted"
    assert_is_prediction(schemas, final)
    with pytest.raises(ValueError, match="status"):
        Prediction(**final)


def test_cancel_after_cancels_a_prediction_that_runs_too_long(
    client: httpx.Client, control: StandinControl
) -> None:
    control.set_script([{"outcome": "slow_start", "s": 30}])

    created = client.post(MODEL_PATH, json={"input": model_input()}, headers={"Cancel-After": "5s"})

    assert created.json()["status"] == "starting"
    assert "deadline" in created.json()


def test_the_control_log_names_the_model_of_each_create(
    client: httpx.Client, control: StandinControl
) -> None:
    client.post(MODEL_PATH, json={"input": model_input()})

    assert control.requests[0]["model"] == "black-forest-labs/flux-canny-dev"
