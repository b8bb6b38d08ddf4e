"""Replicate-style webhooks: which frames become deliveries, and how a delivery goes out."""

from __future__ import annotations

import json

import pytest
from replicate.webhook import Webhooks, WebhookSigningSecret

from sketchbridge.domain.api_keys import new_webhook_secret
from sketchbridge.domain.models import (
    GenerationRequest,
    JobEventMessage,
    JobResponse,
    JobStatus,
    ResultInfo,
)
from sketchbridge.services import webhooks
from sketchbridge.services.job_events import publish
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakePusher, fake_dependencies, sketch_data_url

SECRET = new_webhook_secret()


class FakeWebhookStore:
    def __init__(self) -> None:
        self.records: dict[str, webhooks.WebhookRecord] = {}

    def put_webhook(self, record: webhooks.WebhookRecord) -> None:
        self.records[record.job_id] = record

    def webhook(self, job_id: str) -> webhooks.WebhookRecord | None:
        return self.records.get(job_id)

    def claim_completed(self, job_id: str, *, delivery_id: str) -> bool:
        record = self.records.get(job_id)
        if record is None or record.completed_by not in (None, delivery_id):
            return False
        self.records[job_id] = record.model_copy(update={"completed_by": delivery_id})
        return True


class FakeWebhookQueue:
    def __init__(self) -> None:
        self.messages: list[webhooks.WebhookMessage] = []

    def send(self, message: webhooks.WebhookMessage) -> None:
        self.messages.append(message)


class FakeSecrets:
    def __init__(self) -> None:
        self.secrets = {"k" * 24: SECRET}

    def webhook_secret(self, key_id: str) -> str | None:
        return self.secrets.get(key_id)


class FakeSender:
    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        assert timeout_s <= 5
        self.sent.append((url, body, headers))
        return self.status


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies()


def _queued_job(deps: Dependencies) -> JobResponse:
    return submit_generation(
        GenerationRequest(sketch=sketch_data_url(), prompt="a sea turtle"),
        user_id="ada",
        deps=deps,
    )


def _register(
    deps: Dependencies, job: JobResponse, events: list[webhooks.WebhookEvent] | None = None
) -> tuple[FakeWebhookStore, FakeWebhookQueue]:
    store, queue = FakeWebhookStore(), FakeWebhookQueue()
    webhooks.register(
        job,
        url="https://example.com/hook",
        events=events,
        key_id="k" * 24,
        user_id="ada",
        model="sketchbridge/auto",
        base_url="https://api.example",
        deps=deps,
        store=store,
        queue=queue,
    )
    return store, queue


def _frame(job_id: str, kind: str, status: JobStatus, seq: int = 1) -> JobEventMessage:
    return JobEventMessage.model_validate(
        {"type": kind, "job_id": job_id, "seq": seq, "status": status, "progress": 0.5}
    )


def test_a_jobs_frames_reach_its_webhook_queue_and_websocket_clients_as_before(
    deps: Dependencies,
) -> None:
    job = _queued_job(deps)
    _, registered = _register(deps, job, ["start", "logs", "completed"])
    assert registered.messages == []  # queued: nothing has happened yet
    queue, inner = FakeWebhookQueue(), FakePusher()
    deps.connections.add_connection("browser", "ada", expires_at=2_000_000_000)
    deps.connections.subscribe("browser", job.id, client_job_id=job.id, expires_at=2_000_000_000)

    for kind, status in (
        ("status", JobStatus.RUNNING),
        ("progress", JobStatus.RUNNING),
        ("result", JobStatus.SUCCEEDED),
    ):
        publish(
            _frame(job.id, kind, status),
            connections=deps.connections,
            pusher=webhooks.WebhookPusher(inner, queue),
        )

    assert [message.event for message in queue.messages] == ["start", "logs", "completed"]
    assert len(inner.frames["browser"]) == 3
    assert "webhook#" + job.id not in inner.frames


def test_a_webhook_frame_that_cannot_be_queued_never_fails_the_job() -> None:
    class BrokenQueue:
        def send(self, message: webhooks.WebhookMessage) -> None:
            from sketchbridge.domain.errors import InternalError

            raise InternalError("down")

    pusher = webhooks.WebhookPusher(FakePusher(), BrokenQueue())

    assert pusher.push(
        "webhook#j", _frame("j", "result", JobStatus.SUCCEEDED).model_dump_json().encode()
    )
    assert pusher.push("webhook#j", b"not a frame")


def test_a_prediction_that_ended_before_its_webhook_was_registered_is_still_delivered(
    deps: Dependencies,
) -> None:
    job = _queued_job(deps)
    record = deps.jobs.get(job.id)
    assert record is not None
    deps.jobs.records[job.id] = record.model_copy(update={"status": JobStatus.SUCCEEDED})  # type: ignore[attr-defined]

    _, queue = _register(deps, job)

    assert [message.event for message in queue.messages] == ["completed"]


def _succeeded(deps: Dependencies, job: JobResponse) -> None:
    record = deps.jobs.get(job.id)
    assert record is not None
    deps.jobs.records[job.id] = record.model_copy(  # type: ignore[attr-defined]
        update={"status": JobStatus.SUCCEEDED, "progress": 1.0, "result_key": "results/x.png"}
    )


def _render(job: JobResponse, record: webhooks.WebhookRecord) -> bytes:
    return json.dumps({"id": job.id, "status": job.status.value}).encode()


def _deliver(
    deps: Dependencies,
    store: FakeWebhookStore,
    message: webhooks.WebhookMessage,
    *,
    sender: FakeSender,
    delivery_id: str = "m1",
    secrets: FakeSecrets | None = None,
) -> int | None:
    return webhooks.deliver(
        message,
        delivery_id=delivery_id,
        deps=deps,
        store=store,
        secrets=secrets or FakeSecrets(),
        sender=sender,
        render=_render,
    )


def test_the_final_delivery_is_signed_as_replicate_signs_and_sent_once(deps: Dependencies) -> None:
    job = _queued_job(deps)
    store, _ = _register(deps, job)
    _succeeded(deps, job)
    sender = FakeSender()
    completed = webhooks.WebhookMessage(job_id=job.id, event="completed", seq=3)

    assert _deliver(deps, store, completed, sender=sender) == 204
    assert _deliver(deps, store, completed, sender=sender, delivery_id="m2") is None

    [(url, body, headers)] = sender.sent
    assert url == "https://example.com/hook"
    assert json.loads(body) == {"id": job.id, "status": "succeeded"}
    assert headers["webhook-id"] == f"{job.id}-completed"
    Webhooks.validate(headers=headers, body=body.decode(), secret=WebhookSigningSecret(key=SECRET))


def test_events_outside_the_filter_are_not_sent(deps: Dependencies) -> None:
    job = _queued_job(deps)
    store, _ = _register(deps, job)  # Replicate's default: output and completed
    sender = FakeSender()

    for event in ("start", "logs"):
        message = webhooks.WebhookMessage(job_id=job.id, event=event)  # type: ignore[arg-type]
        assert _deliver(deps, store, message, sender=sender) is None

    assert sender.sent == []


def test_a_receiver_that_refuses_gets_the_delivery_again_and_a_revoked_key_gets_none(
    deps: Dependencies,
) -> None:
    job = _queued_job(deps)
    store, _ = _register(deps, job)
    _succeeded(deps, job)
    completed = webhooks.WebhookMessage(job_id=job.id, event="completed")

    with pytest.raises(webhooks.WebhookDeliveryError):
        _deliver(deps, store, completed, sender=FakeSender(status=500))
    # The queue's retry of the same message may send it; the key revoked meanwhile: it may not.
    revoked = FakeSecrets()
    revoked.secrets.clear()
    sender = FakeSender()
    assert _deliver(deps, store, completed, sender=sender, secrets=revoked) is None
    assert sender.sent == []


def test_a_prediction_webhook_body_says_what_its_result_is(deps: Dependencies) -> None:
    from sketchbridge.api.replicate_compat import prediction

    job = _queued_job(deps).model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "result": ResultInfo(
                url="https://r/x.png", width=1, height=1, provider="local", model="m"
            ),
        }
    )

    body = json.loads(
        prediction(job, model="sketchbridge/auto", given_input={}, base_url="https://a").body()
    )

    assert (body["status"], body["output"]) == ("succeeded", "https://r/x.png")
