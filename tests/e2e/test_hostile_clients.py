"""Issue 12's reproductions against the local stack: each gets its documented answer, no 5xx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.stack import StackProcess
from tests.support.fakes import sketch_data_url

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(stack: StackProcess) -> Any:
    with httpx.Client(
        base_url=stack.api_url,
        headers={"authorization": f"Bearer {stack.dev_token}"},
        timeout=30,
    ) as client:
        yield client


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.parametrize("path", ["/generations", "/estimates"])
@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"[" * 100_000, "application/json", "invalid_body"),
        (
            b'{"sketch": "x", "prompt": "p", "params": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "application/json",
            "invalid_body",
        ),
        (b'{"prompt": "\xff\xfe\xfd"}', "application/json", "invalid_body"),
        (b"\xff\xfe\xfd\x00\x80", None, "invalid_body"),
        (b"\xff\xfe\xfd\x00\x80", "application/octet-stream", "invalid_body"),
        (b"prompt=a+turtle", "application/x-www-form-urlencoded", "invalid_body"),
    ],
    ids=["100000-brackets", "field-5000-deep", "non-utf8-json", "non-utf8-bare", "binary", "form"],
)
def test_a_hostile_body_is_a_400_not_a_500(
    api: httpx.Client, path: str, body: bytes, content_type: str | None, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = api.post(path, content=body, headers=headers)
    assert _code(response) == (400, code), response.text


def test_an_idempotency_key_of_4000_characters_is_a_400(api: httpx.Client) -> None:
    response = api.post(
        "/generations",
        json={"sketch": sketch_data_url(), "prompt": "a turtle"},
        headers={"idempotency-key": "k" * 4000},
    )
    assert _code(response) == (400, "invalid_header")


def test_a_job_id_over_2kb_is_a_404(api: httpx.Client) -> None:
    assert _code(api.get(f"/generations/{'a' * 2100}")) == (404, "not_found")


def test_a_png_with_a_bad_ihdr_crc_is_corrupt_image(api: httpx.Client) -> None:
    import base64

    png = bytearray(base64.b64decode(sketch_data_url().split(",", 1)[1]))
    png[29] ^= 0xFF
    sketch = "data:image/png;base64," + base64.b64encode(bytes(png)).decode()
    response = api.post("/generations", json={"sketch": sketch, "prompt": "a turtle"})
    assert _code(response) == (400, "corrupt_image")


def test_a_prompt_of_zero_width_characters_is_invalid_prompt(api: httpx.Client) -> None:
    response = api.post(
        "/generations", json={"sketch": sketch_data_url(), "prompt": "\u200b\u200c\u200d\ufeff"}
    )
    assert _code(response) == (400, "invalid_prompt")


def test_a_browser_may_send_idempotency_key(stack: StackProcess) -> None:
    response = httpx.options(
        f"{stack.api_url}/generations",
        headers={
            "origin": "http://canvas.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,idempotency-key",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert "idempotency-key" in response.headers["access-control-allow-headers"].lower()


def test_the_page_config_is_not_handed_to_another_origin(stack: StackProcess) -> None:
    response = httpx.get(
        f"{stack.api_url}/_local/config", headers={"origin": "http://evil.example"}, timeout=10
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert stack.dev_token not in response.text


def test_lambda_invoke_is_on_its_own_port_not_the_apis(stack: StackProcess) -> None:
    on_api = httpx.post(
        f"{stack.api_url}/2015-03-31/functions/HealthFunction/invocations", json={}, timeout=30
    )
    assert on_api.status_code == 404
    assert stack.lambda_url != stack.api_url


def test_a_websocket_ticket_opens_one_connection_and_follows_a_job(
    api: httpx.Client, stack: StackProcess
) -> None:
    job = api.post(
        "/generations",
        json={"sketch": sketch_data_url(), "prompt": "a turtle", "cache": "bypass"},
    ).json()
    ticket = api.post("/ws-tickets")
    assert ticket.status_code == 201
    address = f"{stack.ws_url}?ticket={ticket.json()['ticket']}"
    with connect(address, open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job["id"]}))
        first = json.loads(socket.recv(timeout=30))
        assert first["job_id"] == job["id"]
    with pytest.raises(InvalidStatus, match=r"HTTP 401"), connect(address, open_timeout=10):
        pass
