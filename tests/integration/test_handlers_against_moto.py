"""The Lambda handlers, fed the canonical events in events/, with every real AWS adapter.

Each handler builds its dependencies from the environment template.yaml gives it, so these
tests also check that the template, the settings and the adapters agree on every name.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from local.dev_jwt import DevIssuer
from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_connections import DynamoConnectionStore
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.s3_objects import S3ObjectStore
from sketchbridge.aws.sqs_queue import SqsJobQueue
from sketchbridge.domain import clock
from sketchbridge.domain.models import JobMessage, JobStatus
from tests.support.handlers import FakeLambdaContext, load_function

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

EVENTS = Path(__file__).resolve().parents[2] / "events"
# The canonical events' signed-in user (the JWT authorizer's `sub`).
OWNER = json.loads((EVENTS / "http_post_generation.json").read_text())["requestContext"][
    "authorizer"
]["jwt"]["claims"]["sub"]
SIZE = (128, 96)


def canonical(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def signed_in_as(event: dict[str, Any], user: str) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user
    return event


def post_generation_event(
    user: str = OWNER, *, cache: str = "bypass", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The canonical submit; by default past the cache, so every call makes a job that runs."""
    event = canonical("http_post_generation")
    body = json.loads(event["body"])
    body["params"] |= {"width": SIZE[0], "height": SIZE[1]}
    body["cache"] = cache
    event["body"] = json.dumps(body)
    event["headers"] |= headers or {}
    return signed_in_as(event, user)


def get_generation_event(job_id: str, user: str = OWNER) -> dict[str, Any]:
    event = canonical("http_get_generation")
    path = f"/generations/{job_id}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": job_id}
    return signed_in_as(event, user)


def sqs_batch_event(messages: list[dict[str, Any]], *, queue_arn: str) -> dict[str, Any]:
    """The canonical SQS event, its records replaced by messages really received."""
    shape = canonical("sqs_job_batch")["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(shape)
        record |= {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "md5OfBody": message["MD5OfBody"],
            "eventSourceARN": queue_arn,
        }
        record["attributes"] |= {
            name: value
            for name, value in message["Attributes"].items()
            if name in shape["attributes"]
        }
        records.append(record)
    return {"Records": records}


def websocket_event(
    name: str, connection_id: str, *, token: str | None = None, body: Any = None
) -> dict[str, Any]:
    event = canonical(name)
    event["requestContext"]["connectionId"] = connection_id
    if name == "ws_connect":
        event["queryStringParameters"] = None if token is None else {"token": token}
        event["multiValueQueryStringParameters"] = None if token is None else {"token": [token]}
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def call(module: Any, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext())
    return response


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


@pytest.fixture
def handlers(cold_start: None) -> SimpleNamespace:
    """Each function freshly imported and cold, as Lambda would start it in this environment."""
    return SimpleNamespace(
        submit=load_function("submit"),
        query=load_function("query"),
        processor=load_function("processor"),
        websocket=load_function("websocket"),
    )


def submit(handlers: SimpleNamespace, user: str = OWNER) -> str:
    response = call(handlers.submit, post_generation_event(user))
    assert response["statusCode"] == 202, response["body"]
    job_id: str = json.loads(response["body"])["id"]
    return job_id


def queued_messages(aws: EmulatedAws, *job_ids: str) -> list[dict[str, Any]]:
    """The queue's messages for these jobs, in that order; exactly one each."""
    received = aws.receive_messages()
    by_job: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
    for message in received:
        job_id = JobMessage.model_validate_json(message["Body"]).job_id
        if job_id in by_job:
            by_job[job_id].append(message)
    assert all(len(messages) == 1 for messages in by_job.values()), by_job
    return [messages[0] for messages in by_job.values()]


def messages_by_job(aws: EmulatedAws) -> dict[str, list[dict[str, Any]]]:
    """Every message now on the queue, by the job it carries."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for message in aws.receive_messages():
        job_id = JobMessage.model_validate_json(message["Body"]).job_id
        grouped.setdefault(job_id, []).append(message)
    return grouped


def process(handlers: SimpleNamespace, aws: EmulatedAws, messages: list[dict[str, Any]]) -> Any:
    event = sqs_batch_event(messages, queue_arn=aws.queue_arn)
    return call(handlers.processor, event)["batchItemFailures"]


# -- HTTP and the processor ------------------------------------------------------------------


def test_a_submitted_sketch_is_queued_rendered_and_downloadable_by_its_owner(
    handlers: SimpleNamespace,
    aws: EmulatedAws,
    jobs: DynamoJobStore,
    objects: S3ObjectStore,
) -> None:
    response = call(handlers.submit, post_generation_event())

    assert response["statusCode"] == 202
    accepted = json.loads(response["body"])
    assert (accepted["status"], accepted["result"]) == ("queued", None)
    assert (accepted["params"]["width"], accepted["params"]["height"]) == SIZE
    job_id = accepted["id"]
    record = jobs.get(job_id)
    assert record is not None
    assert (record.status, record.user_id) == (JobStatus.QUEUED, OWNER)
    # What is stored is the canonical preprocessed sketch, sized for the provider;
    # the 64x64 square drawing stays square.
    stored_width, stored_height = png_size(objects.get(record.sketch_key))
    assert stored_width == stored_height >= 64
    [message] = queued_messages(aws, job_id)

    assert process(handlers, aws, [message]) == []

    finished = jobs.get(job_id)
    assert finished is not None and finished.status is JobStatus.SUCCEEDED
    assert finished.result_key is not None
    assert png_size(objects.get(finished.result_key)) == SIZE

    response = call(handlers.query, get_generation_event(job_id))
    assert response["statusCode"] == 200
    shown = json.loads(response["body"])
    assert (shown["status"], shown["progress"]) == ("succeeded", 1.0)
    assert (shown["result"]["width"], shown["result"]["height"]) == SIZE
    download = httpx.get(shown["result"]["url"])
    assert download.status_code == 200
    assert png_size(download.content) == SIZE


def test_another_users_generation_does_not_exist_for_them(
    handlers: SimpleNamespace, aws: EmulatedAws
) -> None:
    job_id = submit(handlers)

    response = call(handlers.query, get_generation_event(job_id, user="someone-else"))

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    queued_messages(aws, job_id)  # leave the queue as we found it


def test_a_message_for_a_job_that_does_not_exist_is_dropped_without_failing_the_batch(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    job_id = submit(handlers)
    missing_id = uuid.uuid4().hex
    SqsJobQueue(client("sqs"), aws.queue_url).send(JobMessage(job_id=missing_id))

    failures = process(handlers, aws, queued_messages(aws, missing_id, job_id))

    assert failures == []
    finished = jobs.get(job_id)
    assert finished is not None and finished.status is JobStatus.SUCCEEDED
    assert jobs.get(missing_id) is None


def test_only_the_message_of_a_job_held_by_another_delivery_is_retried(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    busy_id, free_id = submit(handlers), submit(handlers)
    busy_message, free_message = queued_messages(aws, busy_id, free_id)
    held = jobs.claim(busy_id, now=int(clock.epoch_seconds()), lease_seconds=3600)
    assert held is not None

    failures = process(handlers, aws, [busy_message, free_message])

    assert failures == [{"itemIdentifier": busy_message["MessageId"]}]
    assert jobs.get(busy_id) == held  # the other delivery still holds it, untouched
    free = jobs.get(free_id)
    assert free is not None and free.status is JobStatus.SUCCEEDED


# -- the WebSocket API -----------------------------------------------------------------------


def connect(handlers: SimpleNamespace, token: str | None) -> tuple[str, dict[str, Any]]:
    connection_id = uuid.uuid4().hex
    return connection_id, call(
        handlers.websocket, websocket_event("ws_connect", connection_id, token=token)
    )


def subscribe(handlers: SimpleNamespace, connection_id: str, job_id: str) -> dict[str, Any]:
    body = json.loads(canonical("ws_subscribe")["body"]) | {"id": job_id}
    return call(handlers.websocket, websocket_event("ws_subscribe", connection_id, body=body))


@pytest.mark.parametrize("token_use", ["id", "access"])
def test_a_valid_token_opens_a_connection_for_its_user(
    handlers: SimpleNamespace,
    aws: EmulatedAws,
    connections: DynamoConnectionStore,
    token_use: str,
) -> None:
    connection_id, response = connect(handlers, aws.issuer.mint("grace", token_use=token_use))

    assert response["statusCode"] == 200
    assert connections.connection_user(connection_id) == "grace"


INVALID_TOKENS = {
    "no token": lambda issuer: None,
    "not signed by the issuer": lambda issuer: canonical("ws_connect")["queryStringParameters"][
        "token"
    ],
    "signed by another key": lambda issuer: DevIssuer(issuer.issuer).mint("grace"),
    "expired": lambda issuer: issuer.mint("grace", lifetime_seconds=-120),
    "for another application": lambda issuer: issuer.mint(
        "grace", extra_claims={"aud": "another-app"}
    ),
    "from another issuer": lambda issuer: issuer.mint(
        "grace", extra_claims={"iss": "http://127.0.0.1:9/elsewhere"}
    ),
}


@pytest.mark.parametrize("case", INVALID_TOKENS)
def test_connect_without_a_valid_token_is_refused_with_401(
    handlers: SimpleNamespace,
    aws: EmulatedAws,
    connections: DynamoConnectionStore,
    case: str,
) -> None:
    connection_id, response = connect(handlers, INVALID_TOKENS[case](aws.issuer))

    assert response["statusCode"] == 401
    assert connections.connection_user(connection_id) is None


def test_a_subscriber_hears_the_job_from_its_current_state_to_its_result(
    handlers: SimpleNamespace, aws: EmulatedAws, connections: DynamoConnectionStore
) -> None:
    job_id = submit(handlers)
    connection_id, _ = connect(handlers, aws.issuer.mint(OWNER))

    assert subscribe(handlers, connection_id, job_id)["statusCode"] == 200
    [first] = aws.frames.received_by(connection_id)
    assert (first["type"], first["job_id"], first["status"], first["message"]) == (
        "status",
        job_id,
        "queued",
        "queued on local",
    )
    assert process(handlers, aws, queued_messages(aws, job_id)) == []

    frames = aws.frames.received_by(connection_id)
    progress = [frame["progress"] for frame in frames if frame["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    # A client drops any frame whose seq is not above the last one it applied.
    seqs = [frame["seq"] for frame in frames]
    assert seqs == sorted(set(seqs))
    result = frames[-1]
    assert (result["type"], result["status"]) == ("result", "succeeded")
    assert png_size(httpx.get(result["result"]["url"]).content) == SIZE

    late_id, _ = connect(handlers, aws.issuer.mint(OWNER))
    subscribe(handlers, late_id, job_id)
    [late] = aws.frames.received_by(late_id)
    assert (late["type"], late["seq"], late["result"]["width"]) == ("result", seqs[-1], SIZE[0])

    assert call(handlers.websocket, websocket_event("ws_disconnect", connection_id)) == {
        "statusCode": 200
    }
    assert connections.connection_user(connection_id) is None
    assert connections.subscribers(job_id) == []  # nor did the late subscriber stay on


def test_subscribing_to_another_users_job_is_answered_not_found(
    handlers: SimpleNamespace, aws: EmulatedAws, connections: DynamoConnectionStore
) -> None:
    job_id = submit(handlers)
    connection_id, _ = connect(handlers, aws.issuer.mint("someone-else"))

    subscribe(handlers, connection_id, job_id)

    [frame] = aws.frames.received_by(connection_id)
    assert (frame["type"], frame["error"]["code"]) == ("error", "not_found")
    assert connections.subscribers(job_id) == []
    queued_messages(aws, job_id)  # leave the queue as we found it


def test_a_subscriber_that_has_gone_is_forgotten_and_the_job_still_finishes(
    handlers: SimpleNamespace,
    aws: EmulatedAws,
    jobs: DynamoJobStore,
    connections: DynamoConnectionStore,
) -> None:
    job_id = submit(handlers)
    connection_id, _ = connect(handlers, aws.issuer.mint(OWNER))
    subscribe(handlers, connection_id, job_id)
    aws.frames.gone.add(connection_id)  # the browser tab closed without a $disconnect

    assert process(handlers, aws, queued_messages(aws, job_id)) == []

    finished = jobs.get(job_id)
    assert finished is not None and finished.status is JobStatus.SUCCEEDED
    assert connections.connection_user(connection_id) is None
    assert connections.subscribers(job_id) == []


# ---------------------------------------------------------------- never pay twice


def test_the_same_request_again_is_a_200_cache_hit_without_the_queue(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    first = json.loads(call(handlers.submit, post_generation_event(cache="refresh"))["body"])
    [message] = queued_messages(aws, first["id"])
    assert process(handlers, aws, [message]) == []

    again = call(handlers.submit, post_generation_event(cache="use"))

    assert again["statusCode"] == 200
    hit = json.loads(again["body"])
    assert hit["cached"] is True and hit["status"] == "succeeded" and hit["id"] != first["id"]
    assert hit["id"] not in messages_by_job(aws)
    assert png_size(httpx.get(hit["result"]["url"], timeout=10).content) == SIZE


def test_an_identical_request_in_flight_is_followed_not_run_again(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    leader = json.loads(call(handlers.submit, post_generation_event(cache="refresh"))["body"])
    follower = json.loads(call(handlers.submit, post_generation_event(cache="refresh"))["body"])
    assert follower["status"] == "queued"
    queued = messages_by_job(aws)
    assert follower["id"] not in queued  # one provider call for both
    assert process(handlers, aws, queued[leader["id"]]) == []

    seen = json.loads(call(handlers.query, get_generation_event(follower["id"]))["body"])
    assert seen["status"] == "succeeded"
    assert png_size(httpx.get(seen["result"]["url"], timeout=10).content) == SIZE


def test_an_idempotency_key_returns_the_same_job_and_refuses_another_body(
    handlers: SimpleNamespace, aws: EmulatedAws
) -> None:
    key = {"idempotency-key": uuid.uuid4().hex}
    first = call(handlers.submit, post_generation_event(headers=key))
    again = call(handlers.submit, post_generation_event(headers=key))
    assert json.loads(first["body"])["id"] == json.loads(again["body"])["id"]
    assert len(messages_by_job(aws)[json.loads(first["body"])["id"]]) == 1

    other = call(handlers.submit, post_generation_event(headers=key, cache="use"))
    assert other["statusCode"] == 409
    assert json.loads(other["body"])["error"]["code"] == "idempotency_conflict"


def test_a_delimiter_in_user_and_key_does_not_collide_in_the_idempotency_table(
    handlers: SimpleNamespace,
) -> None:
    # Joined with "#" these were one DynamoDB item: the second got a 500, then a 409.
    suffix = uuid.uuid4().hex
    first = call(
        handlers.submit, post_generation_event(f"u{suffix}", headers={"idempotency-key": "x#k"})
    )
    other = call(
        handlers.submit,
        post_generation_event(f"u{suffix}#x", headers={"idempotency-key": "k"}, cache="use"),
    )
    assert first["statusCode"] == 202
    assert other["statusCode"] in (200, 202), other["body"]
    assert json.loads(other["body"])["id"] != json.loads(first["body"])["id"]


def test_an_idempotency_key_of_4000_characters_is_a_400_not_a_store_error(
    handlers: SimpleNamespace,
) -> None:
    answer = call(handlers.submit, post_generation_event(headers={"idempotency-key": "k" * 4000}))
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"]["code"] == "invalid_header"


def test_a_job_id_over_2kb_is_a_404_not_a_dynamodb_key_error(handlers: SimpleNamespace) -> None:
    answer = call(handlers.query, get_generation_event("a" * 2100))
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "not_found"


def test_replaying_variations_with_their_key_returns_the_group_from_dynamodb(
    handlers: SimpleNamespace,
) -> None:
    key = {"idempotency-key": uuid.uuid4().hex}
    event = post_generation_event(headers=key)
    body = json.loads(event["body"]) | {"variations": 3}
    event["body"] = json.dumps(body)
    first = json.loads(call(handlers.submit, event)["body"])
    again = json.loads(call(handlers.submit, event)["body"])
    assert len(first["group_job_ids"]) == 3
    assert (again["id"], again["group_id"], again["group_job_ids"]) == (
        first["id"],
        first["group_id"],
        first["group_job_ids"],
    )


def test_a_failed_s3_put_after_the_key_is_stored_does_not_poison_the_key(
    handlers: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sketchbridge.bootstrap import dependencies
    from sketchbridge.domain.errors import InternalError

    key = {"idempotency-key": uuid.uuid4().hex}
    deps = dependencies()

    def s3_down(*_: object, **__: object) -> None:
        raise InternalError("The object store is unavailable.")

    with monkeypatch.context() as patched:
        patched.setattr(deps.objects, "put", s3_down)
        failed = call(handlers.submit, post_generation_event(headers=key))
    assert failed["statusCode"] == 500

    retried = call(handlers.submit, post_generation_event(headers=key))
    assert retried["statusCode"] == 202, retried["body"]
    again = call(handlers.submit, post_generation_event(headers=key))
    assert json.loads(again["body"])["id"] == json.loads(retried["body"])["id"]


def test_a_cached_result_keeps_its_bytes_when_another_user_sends_the_same_with_cache_bypass(
    handlers: SimpleNamespace, aws: EmulatedAws, jobs: DynamoJobStore
) -> None:
    def seedless(user: str, cache: str) -> dict[str, Any]:
        # No seed: each run draws its own, so the two pictures differ and share a cache key.
        event = post_generation_event(user, cache=cache)
        body = json.loads(event["body"])
        body["params"].pop("seed", None)
        event["body"] = json.dumps(body)
        return event

    def picture_of(job_id: str, user: str) -> bytes:
        shown = json.loads(call(handlers.query, get_generation_event(job_id, user))["body"])
        assert shown["status"] == "succeeded", shown
        return httpx.get(shown["result"]["url"], timeout=10).content

    first = json.loads(call(handlers.submit, seedless(OWNER, "use"))["body"])
    assert process(handlers, aws, queued_messages(aws, first["id"])) == []
    ada_saw = picture_of(first["id"], OWNER)

    second = json.loads(call(handlers.submit, seedless("someone-else", "bypass"))["body"])
    assert process(handlers, aws, queued_messages(aws, second["id"])) == []

    assert picture_of(second["id"], "someone-else") != ada_saw  # really a new picture
    assert picture_of(first["id"], OWNER) == ada_saw
    # The cache still answers with the first picture: a bypass does not touch it.
    hit = json.loads(call(handlers.submit, seedless("a-third-user", "use"))["body"])
    assert hit["cached"] is True
    assert httpx.get(hit["result"]["url"], timeout=10).content == ada_saw
