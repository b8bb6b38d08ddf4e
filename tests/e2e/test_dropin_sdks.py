"""Issue 15, as a user of the official SDKs sees it: an unmodified ``openai`` and
``replicate`` client, pointed at the local stack (with the provider stand-ins) by a base URL
and a Sketchbridge API key, get pictures of the turtle sketch; failover, keys and ownership
hold for them as for the JWT API.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import replicate
from PIL import Image
from replicate.exceptions import ReplicateError

from local.stack import StackProcess
from tests.support.fakes import SKETCHES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STANDINS = ("replicate", "openai", "bedrock")
TURTLE = SKETCHES / "turtle.png"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, standins=True) as running:
        yield running


@pytest.fixture(autouse=True)
def standins_reset(stack: StackProcess) -> Iterator[None]:
    for name in STANDINS:
        _control(stack, name, "reset")
    yield
    for name in STANDINS:
        _control(stack, name, "reset")


def _control(stack: StackProcess, name: str, action: str, body: Any = None) -> None:
    url = f"{stack.state['standins'][name]}/_control/{action}"
    httpx.post(url, json=body, timeout=10).raise_for_status()


def _token(stack: StackProcess, sub: str) -> str:
    response = httpx.post(f"{stack.api_url}/dev-issuer/token", json={"sub": sub}, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


def _jwt_headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _new_key(stack: StackProcess, token: str, name: str = "sdk tests") -> dict[str, Any]:
    response = httpx.post(
        f"{stack.api_url}/keys", json={"name": name}, headers=_jwt_headers(token), timeout=10
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def key(stack: StackProcess) -> str:
    return str(_new_key(stack, stack.dev_token)["key"])


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    """Every SDK client a test made, closed after it (no socket left to the GC)."""
    made: list[Any] = []
    yield made
    for client in made:
        if isinstance(client, replicate.Client):
            client._client.close()
        else:
            client.close()


def _openai(stack: StackProcess, key: str, clients: list[Any]) -> openai.OpenAI:
    """The unmodified SDK; only the base URL and the key are Sketchbridge's."""
    client = openai.OpenAI(api_key=key, base_url=f"{stack.api_url}/openai/v1", max_retries=0)
    clients.append(client)
    return client


def _replicate(stack: StackProcess, key: str, clients: list[Any]) -> replicate.Client:
    client = replicate.Client(api_token=key, base_url=f"{stack.api_url}/replicate")
    clients.append(client)
    return client


def _prompt() -> str:
    # Unique, so no answer comes from the result cache without a provider call.
    return f"a sea turtle, watercolor, take {uuid.uuid4().hex[:8]}"


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


def test_a_key_is_shown_once_and_listed_without_its_secret(stack: StackProcess) -> None:
    created = _new_key(stack, stack.dev_token, name="listing")
    assert created["key"].startswith("sb_")

    listed = httpx.get(
        f"{stack.api_url}/keys", headers=_jwt_headers(stack.dev_token), timeout=10
    ).json()["items"]

    mine = next(item for item in listed if item["id"] == created["id"])
    assert mine["name"] == "listing"
    assert "key" not in mine
    assert (
        created["key"]
        not in httpx.get(
            f"{stack.api_url}/keys", headers=_jwt_headers(stack.dev_token), timeout=10
        ).text
    )


def _images_delivered(stack: StackProcess) -> int:
    """What the key's owner sees in their own usage (GET /usage, from the ledger)."""
    usage = httpx.get(
        f"{stack.api_url}/usage", headers=_jwt_headers(stack.dev_token), timeout=10
    ).json()
    return int(usage["images"])


def test_the_openai_sdk_edits_the_turtle_into_an_image_billed_to_the_keys_owner(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    before = _images_delivered(stack)
    with TURTLE.open("rb") as sketch:
        answer = _openai(stack, key, clients).images.edit(
            image=sketch, prompt=_prompt(), model="auto", size="256x256"
        )

    assert answer.data is not None and answer.data[0].b64_json
    picture = _png(base64.b64decode(answer.data[0].b64_json))
    assert picture.size == (256, 256)
    assert _images_delivered(stack) == before + 1


def test_the_openai_sdk_streams_a_partial_then_the_completed_image(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    with TURTLE.open("rb") as sketch:
        stream = _openai(stack, key, clients).images.edit(
            image=sketch,
            prompt=_prompt(),
            model="auto",
            size="256x256",
            stream=True,
            partial_images=1,
        )
        events = list(stream)

    assert [event.type for event in events] == [
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    assert _png(base64.b64decode(events[-1].b64_json)).size == (256, 256)


def test_the_openai_sdk_gets_an_image_when_the_named_provider_answers_503(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    _control(stack, "replicate", "script", [{"status": 503}])

    with TURTLE.open("rb") as sketch:
        answer = _openai(stack, key, clients).images.edit(
            image=sketch, prompt=_prompt(), model="replicate", size="256x256"
        )

    assert answer.data is not None and answer.data[0].b64_json
    _png(base64.b64decode(answer.data[0].b64_json))


def test_the_replicate_sdk_runs_a_prediction_with_an_uploaded_file(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    with TURTLE.open("rb") as sketch:
        output = _replicate(stack, key, clients).run(
            "sketchbridge/auto",
            input={"prompt": _prompt(), "image": sketch, "width": 256, "height": 256},
        )

    # The local stack serves http:// URLs, which the SDK hands back as plain strings.
    assert isinstance(output, str)
    _png(httpx.get(output, timeout=10).content)


def test_a_prediction_created_then_waited_for_is_the_owners_job(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    client = _replicate(stack, key, clients)
    with TURTLE.open("rb") as sketch:
        sketch_uri = "data:image/png;base64," + base64.b64encode(sketch.read()).decode()
    prediction = client.predictions.create(
        model="sketchbridge/auto",
        input={"prompt": _prompt(), "image": sketch_uri, "num_inference_steps": 4},
    )

    prediction.wait()

    assert prediction.status == "succeeded", prediction.error
    assert isinstance(prediction.output, str)
    assert prediction.progress is not None and prediction.progress.percentage == 1.0
    job = httpx.get(
        f"{stack.api_url}/generations/{prediction.id}",
        headers=_jwt_headers(stack.dev_token),
        timeout=10,
    ).json()
    assert job["status"] == "succeeded" and job["params"]["steps"] == 4


def test_the_replicate_sdk_gets_an_image_when_the_named_provider_answers_503(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    _control(stack, "replicate", "script", [{"status": 503}])

    with TURTLE.open("rb") as sketch:
        output = _replicate(stack, key, clients).run(
            "sketchbridge/replicate",
            input={"prompt": _prompt(), "image": sketch, "width": 256, "height": 256},
        )

    assert isinstance(output, str)
    _png(httpx.get(output, timeout=10).content)


def test_another_users_prediction_id_is_not_found(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    with TURTLE.open("rb") as sketch:
        mine = _replicate(stack, key, clients).predictions.create(
            model="sketchbridge/auto", input={"prompt": _prompt(), "image": sketch}
        )
    someone_else = str(_new_key(stack, _token(stack, "someone-else"))["key"])

    with pytest.raises(ReplicateError) as refused:
        _replicate(stack, someone_else, clients).predictions.get(mine.id)

    assert refused.value.status == 404


def test_a_revoked_key_is_refused(stack: StackProcess, clients: list[Any]) -> None:
    created = _new_key(stack, stack.dev_token, name="to revoke")
    client = _openai(stack, created["key"], clients)
    with TURTLE.open("rb") as sketch:
        assert client.images.edit(image=sketch, prompt=_prompt(), size="256x256").data

    revoked = httpx.delete(
        f"{stack.api_url}/keys/{created['id']}",
        headers=_jwt_headers(stack.dev_token),
        timeout=10,
    )

    assert revoked.status_code == 204
    with TURTLE.open("rb") as sketch, pytest.raises(openai.PermissionDeniedError):
        client.images.edit(image=sketch, prompt=_prompt(), size="256x256")
    with pytest.raises(ReplicateError) as refused:
        _replicate(stack, created["key"], clients).predictions.get("0" * 32)
    assert refused.value.status == 403


class _Receiver:
    """A webhook receiver on 127.0.0.1: what a Replicate user runs behind their URL."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append((dict(self.headers.items()), body.decode()))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> _Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_webhook_gets_the_finished_prediction_signed_with_the_keys_secret(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    client = _replicate(stack, key, clients)
    with _Receiver() as receiver, TURTLE.open("rb") as sketch:
        created = client.predictions.create(
            model="sketchbridge/auto",
            input={"prompt": _prompt(), "image": sketch},
            webhook=receiver.url,
            webhook_events_filter=["completed"],
        )
        assert receiver.arrived.wait(timeout=60), "no webhook arrived"

    headers, body = receiver.received[0]
    # Replicate's own check, with the secret the SDK fetches for this key.
    client.webhooks.validate(headers=headers, body=body, secret=client.webhooks.default.secret())
    delivered = json.loads(body)
    assert delivered["id"] == created.id
    assert delivered["status"] == "succeeded"
    assert delivered["output"].startswith("http")


def test_the_replicate_sdk_runs_a_prediction_on_an_image_url(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    sketch = TURTLE.read_bytes()

    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(sketch)))
            self.end_headers()
            self.wfile.write(sketch)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        output = _replicate(stack, key, clients).run(
            "sketchbridge/auto",
            input={
                "prompt": _prompt(),
                "image": f"http://127.0.0.1:{server.server_address[1]}/turtle.png",
            },
        )
    finally:
        server.shutdown()
        server.server_close()

    assert isinstance(output, str)
    _png(httpx.get(output, timeout=10).content)


def test_the_replicate_sdk_cancels_a_running_prediction(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    # Bedrock's stand-in holds its one call a few seconds: long enough to cancel mid-run.
    _control(stack, "bedrock", "script", [{"delay_s": 4.0}])
    client = _replicate(stack, key, clients)
    with TURTLE.open("rb") as sketch:
        prediction = client.predictions.create(
            model="sketchbridge/bedrock", input={"prompt": _prompt(), "image": sketch}
        )

    prediction.cancel()

    assert prediction.status == "canceled"
    prediction.reload()
    assert prediction.status == "canceled" and prediction.output is None
    job = httpx.get(
        f"{stack.api_url}/generations/{prediction.id}",
        headers=_jwt_headers(stack.dev_token),
        timeout=10,
    ).json()
    assert job["status"] == "canceled"


def test_canceling_a_finished_prediction_answers_it_as_it_is(
    stack: StackProcess, key: str, clients: list[Any]
) -> None:
    client = _replicate(stack, key, clients)
    with TURTLE.open("rb") as sketch:
        prediction = client.models.predictions.create(
            model="sketchbridge/auto", input={"prompt": _prompt(), "image": sketch}, wait=True
        )
    prediction.wait()

    prediction.cancel()

    assert prediction.status == "succeeded" and isinstance(prediction.output, str)
