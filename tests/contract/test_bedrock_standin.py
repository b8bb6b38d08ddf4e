"""The Bedrock stand-in answers as bedrock-runtime does, checked with a real boto3 client.

The contracts: botocore 1.44.8's ``bedrock-runtime`` service model (error codes and their HTTP
statuses; botocore must raise the modelled exception class for each), the AWS Bedrock user
guide's Stability AI Image Services request and response bodies, and Stability's Control
Sketch request fields (``../shared/providers/stability.md``), written out as JSON Schemas below.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator
from PIL import Image, ImageDraw

from local.standins.bedrock import DEFAULT_ERRORS, create_app
from local.standins.control import StandinControl
from sketchbridge.providers.base import ProviderRequest
from sketchbridge.providers.bedrock import BedrockConfig, request_body
from tests.contract.conftest import Serve

MODEL_ID = BedrockConfig().model_id
CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

# AWS Bedrock user guide, "Stability AI Image Services" > Request and response.
SUCCESS_RESPONSE = {
    "type": "object",
    "required": ["seeds", "finish_reasons", "images"],
    "additionalProperties": False,
    "properties": {
        "seeds": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}},
        "finish_reasons": {"type": "array", "minItems": 1, "items": {"type": "null"}},
        "images": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$"},
        },
    },
}
FILTERED_RESPONSE = {
    "type": "object",
    "required": ["finish_reasons"],
    "additionalProperties": False,
    "properties": {
        "finish_reasons": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": [
                    "Filter reason: prompt",
                    "Filter reason: output image",
                    "Filter reason: input image",
                    "Inference error",
                ]
            },
        }
    },
}
# bedrock-runtime's error shapes all carry one member, "message".
ERROR_BODY = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "minLength": 1}},
}
# Stability's Control Sketch fields (stability.md), as Bedrock takes them: JSON, base64 image.
SKETCH_REQUEST = {
    "type": "object",
    "required": ["prompt", "image"],
    "additionalProperties": False,
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 10000},
        "image": {"type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$"},
        "negative_prompt": {"type": "string", "maxLength": 10000},
        "control_strength": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"type": "integer", "minimum": 0, "maximum": 4294967294},
        "output_format": {"enum": ["png", "jpeg", "webp"]},
    },
}


def conforms(instance: Any, schema: dict[str, Any]) -> list[str]:
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


@pytest.fixture(scope="module")
def control() -> StandinControl:
    return StandinControl()


@pytest.fixture(scope="module")
def standin_url(serve_for_module: Serve, control: StandinControl) -> str:
    return serve_for_module(create_app(control))


@pytest.fixture(autouse=True)
def _fresh(control: StandinControl) -> Iterator[None]:
    control.reset()
    yield


def client(url: str, **config: Any) -> Any:
    return boto3.session.Session(
        aws_access_key_id="AKIASTANDIN000000000",
        aws_secret_access_key="stand-in-secret",
        region_name="us-west-2",
    ).client(
        "bedrock-runtime",
        endpoint_url=url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def sketch_b64(size: tuple[int, int] = (320, 240), fmt: str = "PNG") -> str:
    image = Image.new("RGB", size, "white")
    margin = min(size) // 5
    box = (margin, margin, size[0] - margin, size[1] - margin)
    ImageDraw.Draw(image).rectangle(box, outline="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def body(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "a lighthouse at dusk", "image": sketch_b64(), "seed": 9, **overrides}


def invoke(url: str, payload: dict[str, Any], model_id: str = MODEL_ID) -> Any:
    return client(url).invoke_model(
        modelId=model_id,
        body=json.dumps(payload),
        contentType="application/json",
        accept="application/json",
    )


def invoke_error(url: str, payload: dict[str, Any], model_id: str = MODEL_ID) -> ClientError:
    with pytest.raises(ClientError) as caught:
        invoke(url, payload, model_id)
    return caught.value


def invoke_model_errors() -> dict[str, int]:
    """Error code -> HTTP status, from botocore's own bedrock-runtime service model."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    operation = model.operation_model("InvokeModel")
    return {
        shape.name: shape.metadata["error"]["httpStatusCode"] for shape in operation.error_shapes
    }


MODELLED = [
    ("AccessDeniedException", 403),
    ("ResourceNotFoundException", 404),
    ("ThrottlingException", 429),
    ("ModelTimeoutException", 408),
    ("InternalServerException", 500),
    ("ServiceUnavailableException", 503),
    ("ValidationException", 400),
    ("ServiceQuotaExceededException", 400),
    ("ModelNotReadyException", 429),
    ("ModelErrorException", 424),
]


def test_the_scripted_errors_cover_every_error_invoke_model_declares() -> None:
    assert dict(MODELLED) == invoke_model_errors()
    for status, (code, _) in DEFAULT_ERRORS.items():
        assert invoke_model_errors()[code] == status


@pytest.mark.parametrize(("code", "status"), MODELLED)
def test_botocore_raises_the_modelled_exception_for_each_error(
    standin_url: str, control: StandinControl, code: str, status: int
) -> None:
    control.set_script(
        [{"status": status, "headers": {"x-amzn-ErrorType": f"{code}{CORAL}"}, "body": None}]
    )
    bedrock = client(standin_url)

    # Each client has its own exception classes: raise and catch with the same one.
    with pytest.raises(getattr(bedrock.exceptions, code)) as caught:
        bedrock.invoke_model(modelId=MODEL_ID, body=json.dumps(body()))

    response = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert not conforms({"message": response["Error"]["Message"]}, ERROR_BODY)


@pytest.mark.parametrize("status", sorted(DEFAULT_ERRORS))
def test_a_bare_scripted_status_gets_the_code_bedrock_sends_with_it(
    standin_url: str, control: StandinControl, status: int
) -> None:
    control.set_script([{"status": status}])

    error = invoke_error(standin_url, body())

    assert error.response["Error"]["Code"] == DEFAULT_ERRORS[status][0]


def test_a_scripted_body_and_headers_come_back_exactly(
    standin_url: str, control: StandinControl
) -> None:
    control.set_script(
        [
            {
                "status": 429,
                "headers": {"x-amzn-ErrorType": f"ThrottlingException{CORAL}", "retry-after": "2"},
                "body": {"message": "Slow down."},
            }
        ]
    )

    error = invoke_error(standin_url, body())

    assert error.response["Error"] == {"Code": "ThrottlingException", "Message": "Slow down."}
    assert error.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "2"


def test_a_drawing_matches_the_documented_response(standin_url: str) -> None:
    response = invoke(standin_url, body(output_format="jpeg"))

    payload = json.loads(response["body"].read())
    assert response["contentType"] == "application/json"
    assert response["ResponseMetadata"]["RequestId"]
    assert not conforms(payload, SUCCESS_RESPONSE)
    assert payload["seeds"] == [9]
    picture = Image.open(io.BytesIO(base64.b64decode(payload["images"][0])))
    assert (picture.format, picture.size) == ("JPEG", (320, 240))


@pytest.mark.parametrize("reason", ["prompt", "output image"])
def test_a_moderated_request_matches_the_documented_filtered_response(
    standin_url: str, control: StandinControl, reason: str
) -> None:
    control.set_script([{"outcome": "moderation", "reason": reason}])

    payload = json.loads(invoke(standin_url, body())["body"].read())

    assert not conforms(payload, FILTERED_RESPONSE)
    assert payload["finish_reasons"] == [f"Filter reason: {reason}"]


def test_an_aborted_generation_is_an_internal_server_exception(
    standin_url: str, control: StandinControl
) -> None:
    control.set_script([{"outcome": "aborted"}])

    assert invoke_error(standin_url, body()).response["Error"]["Code"] == "InternalServerException"


def test_an_unsigned_request_is_refused_as_aws_refuses_it(standin_url: str) -> None:
    raw = httpx.post(f"{standin_url}/model/{MODEL_ID}/invoke", json=body())

    assert raw.status_code == 403
    assert raw.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert not conforms(raw.json(), ERROR_BODY)
    with pytest.raises(ClientError) as caught:
        client(standin_url, signature_version=UNSIGNED).invoke_model(
            modelId=MODEL_ID, body=json.dumps(body())
        )
    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (body(aspect_ratio="16:9"), "extraneous key [aspect_ratio] is not permitted"),
        ({"image": sketch_b64()}, "required key [prompt] not found"),
        (body(control_strength=1.5), "#/control_strength"),
        (body(seed=-1), "#/seed"),
        (body(image=sketch_b64((40, 200))), "at least 64 pixels"),
        (body(image=sketch_b64((700, 200))), "aspect ratio"),
        (body(image="not an image"), "#/image"),
    ],
)
def test_a_malformed_body_is_a_validation_exception(
    standin_url: str, payload: dict[str, Any], complaint: str
) -> None:
    error = invoke_error(standin_url, payload)

    assert error.response["Error"]["Code"] == "ValidationException"
    assert complaint in error.response["Error"]["Message"]


def test_an_unknown_model_is_a_validation_exception(standin_url: str) -> None:
    error = invoke_error(standin_url, body(), model_id="stability.no-such-model-v9:0")

    assert error.response["Error"] == {
        "Code": "ValidationException",
        "Message": "The provided model identifier is invalid.",
    }


def test_only_a_request_that_would_draw_uses_a_scripted_outcome(
    standin_url: str, control: StandinControl
) -> None:
    control.set_script([{"status": 429}])

    invoke_error(standin_url, body(seed=-1))
    error = invoke_error(standin_url, body())

    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert [(r["method"], r["path"], r["model"]) for r in control.requests] == [
        ("POST", f"/model/{MODEL_ID}/invoke", MODEL_ID)
    ] * 2


def test_the_adapters_request_body_is_what_the_model_documents() -> None:
    image = Image.new("RGB", (300, 200), "white")
    request = ProviderRequest(
        sketch=image,
        prompt="a cat",
        negative_prompt="dogs",
        seed=2**32 - 1,
        steps=1,
        strength=0.3,
        guidance_scale=7.0,
        width=600,
        height=400,
    )

    sent = request_body(request)

    assert not conforms(sent, SKETCH_REQUEST)
    assert Image.open(io.BytesIO(base64.b64decode(sent["image"]))).size == (600, 400)
