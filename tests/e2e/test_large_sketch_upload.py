"""A sketch bigger than a synchronous Lambda payload goes through POST /uploads and renders."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from local.stack import StackProcess
from sketchbridge.preprocessing.decode import MAX_PIXELS, MAX_SIDE_PIXELS, MAX_SKETCH_BYTES

pytestmark = pytest.mark.e2e

# What AWS lets through to a synchronous Lambda, request event included.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024


def _noisy_png() -> bytes:
    """An ~8 MB PNG of seeded noise (noise does not compress) within the pixel caps."""
    side = 1620
    pixels = np.random.default_rng(12).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _headers(stack: StackProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.dev_token}"}


def _until_final(stack: StackProcess, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(
            f"{stack.api_url}/generations/{job_id}", headers=_headers(stack), timeout=30
        ).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish")


def test_an_8_mb_sketch_too_big_for_a_lambda_payload_uploads_and_renders(
    stack: StackProcess,
) -> None:
    sketch = _noisy_png()
    assert len(base64.b64encode(sketch)) > LAMBDA_PAYLOAD_LIMIT
    assert len(sketch) <= MAX_SKETCH_BYTES
    with Image.open(io.BytesIO(sketch)) as image:
        assert max(image.size) <= MAX_SIDE_PIXELS and image.width * image.height <= MAX_PIXELS

    answered = httpx.post(
        f"{stack.api_url}/uploads",
        json={"content_type": "image/png"},
        headers=_headers(stack),
        timeout=30,
    )
    assert answered.status_code == 201, answered.text
    form = answered.json()
    uploaded = httpx.post(
        form["url"],
        data=form["fields"],
        files={"file": ("sketch.png", sketch, "image/png")},
        timeout=60,
    )
    assert uploaded.status_code in (200, 201, 204), uploaded.text

    submitted = httpx.post(
        f"{stack.api_url}/generations",
        json={
            "sketch_upload_id": form["upload_id"],
            "prompt": "a field of static, oil painting",
            "params": {"steps": 4, "width": 256, "height": 256},
            "cache": "bypass",
        },
        headers=_headers(stack),
        timeout=60,
    )
    assert submitted.status_code == 202, submitted.text
    job = _until_final(stack, submitted.json()["id"])

    assert job["status"] == "succeeded", job
    rendered = httpx.get(job["result"]["url"], timeout=30)
    with Image.open(io.BytesIO(rendered.content)) as image:
        assert (image.format, image.size) == ("PNG", (256, 256))


def test_a_web_page_cannot_post_a_form_to_the_emulated_bucket(stack: StackProcess) -> None:
    # moto checks no signature: a page could forge a form and write any key. The web page
    # sends data URLs; on the local stack only non-browser clients use the upload form.
    form = httpx.post(
        f"{stack.api_url}/uploads",
        json={"content_type": "image/png"},
        headers=_headers(stack),
        timeout=30,
    ).json()
    refused = httpx.post(
        form["url"],
        data=form["fields"],
        files={"file": ("sketch.png", b"\x89PNG", "image/png")},
        headers={"origin": "http://evil.example"},
        timeout=30,
    )
    assert refused.status_code == 403
