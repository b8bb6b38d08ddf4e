"""POST /uploads and sketch_upload_id through the submit handler, with boto3's presigned POST
against moto: the form's signed conditions, the upload itself, and who may use it."""

from __future__ import annotations

import base64
import copy
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.s3_objects import S3ObjectStore
from sketchbridge.preprocessing.decode import MAX_SKETCH_BYTES
from tests.integration.test_handlers_against_moto import OWNER, call, canonical, signed_in_as
from tests.support.fakes import SKETCHES
from tests.support.handlers import load_function

if TYPE_CHECKING:
    from types import ModuleType

    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

TURTLE = (SKETCHES / "turtle.png").read_bytes()


@pytest.fixture
def submit(cold_start: None) -> ModuleType:
    return load_function("submit")


def _event(path: str, body: dict[str, Any], user: str) -> dict[str, Any]:
    event = copy.deepcopy(canonical("http_post_generation"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    event["body"] = json.dumps(body)
    return signed_in_as(event, user)


def _form(submit: ModuleType, user: str = OWNER, content_type: str = "image/png") -> Any:
    response = call(submit, _event("/uploads", {"content_type": content_type}, user))
    assert response["statusCode"] == 201, response["body"]
    return json.loads(response["body"])


def _upload(form: dict[str, Any], data: bytes = TURTLE) -> httpx.Response:
    return httpx.post(
        form["url"], data=form["fields"], files={"file": ("sketch.png", data, "image/png")}
    )


def _generate(submit: ModuleType, upload_id: str, user: str = OWNER) -> dict[str, Any]:
    body = {"sketch_upload_id": upload_id, "prompt": "a sea turtle", "cache": "bypass"}
    return call(submit, _event("/generations", body, user))


def test_the_form_signs_one_key_one_type_a_size_range_and_a_short_expiry(
    submit: ModuleType, aws: EmulatedAws
) -> None:
    form = _form(submit, content_type="image/jpeg")

    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    conditions = policy["conditions"]
    key = form["fields"]["key"]
    assert key.startswith("uploads/") and key.endswith("/" + form["upload_id"])
    assert ["eq", "$key", key] in conditions
    assert ["eq", "$Content-Type", "image/jpeg"] in conditions
    assert ["content-length-range", 1, MAX_SKETCH_BYTES] in conditions
    assert {"bucket": aws.bucket} in conditions
    assert form["fields"]["Content-Type"] == "image/jpeg"
    assert form["expires_in"] <= 300 and form["max_bytes"] == MAX_SKETCH_BYTES
    assert "X-Amz-Signature" in form["fields"] or "x-amz-signature" in form["fields"]


def test_each_user_gets_forms_under_their_own_prefix(submit: ModuleType) -> None:
    mine, theirs = _form(submit), _form(submit, user="someone-else")
    assert mine["fields"]["key"].split("/")[1] != theirs["fields"]["key"].split("/")[1]


def test_an_uploaded_sketch_becomes_a_queued_job_with_the_canonical_sketch(
    submit: ModuleType, aws: EmulatedAws, jobs: DynamoJobStore, objects: S3ObjectStore
) -> None:
    form = _form(submit)
    assert _upload(form).status_code in (200, 201, 204)

    response = _generate(submit, form["upload_id"])

    assert response["statusCode"] == 202, response["body"]
    record = jobs.get(json.loads(response["body"])["id"])
    assert record is not None and record.user_id == OWNER
    assert objects.get(record.sketch_key).startswith(b"\x89PNG")
    aws.receive_messages()  # leave the queue as we found it


def test_another_users_upload_id_is_a_404_and_their_sketch_is_never_read(
    submit: ModuleType, aws: EmulatedAws, objects: S3ObjectStore
) -> None:
    form = _form(submit)
    _upload(form)

    response = _generate(submit, form["upload_id"], user="someone-else")

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    assert objects.get(form["fields"]["key"]) == TURTLE  # still there, for its owner only
    assert aws.receive_messages() == []


def test_an_upload_id_with_nothing_uploaded_is_a_404(submit: ModuleType) -> None:
    response = _generate(submit, _form(submit)["upload_id"])
    assert response["statusCode"] == 404


def test_a_sketch_and_an_upload_id_together_are_a_400(submit: ModuleType) -> None:
    body = {
        "sketch": "data:image/png;base64," + base64.b64encode(TURTLE).decode(),
        "sketch_upload_id": "a" * 32,
        "prompt": "a sea turtle",
    }
    response = call(submit, _event("/generations", body, OWNER))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_sketch"


def test_a_form_for_a_type_that_is_not_a_sketch_is_a_400(submit: ModuleType) -> None:
    response = call(submit, _event("/uploads", {"content_type": "text/html"}, OWNER))
    assert response["statusCode"] == 400
