"""A stand-in for Replicate's HTTP API, close enough that the ``replicate`` SDK runs unchanged.

Point the SDK here with ``REPLICATE_BASE_URL=http://127.0.0.1:<port>`` (the host root: the
SDK's paths start with ``/v1``). It plays the models of ``replicate_models.py``, each with
its own input schema: FLUX.1 Canny [dev] (official, by name) and ControlNet scribble
(``jagilley/controlnet-scribble``, by version, also as ``owner/name:version``):

    POST /v1/models/{owner}/{name}/predictions   {"input": {...}}              201 prediction
    POST /v1/predictions                         {"version", "input": {...}}   201 prediction
         headers: ``Prefer: wait[=N]`` holds the answer up to N s (60 by default) for the
         result; ``Cancel-After: 30s`` cancels the prediction that long after creation
    GET  /v1/models/{owner}/{name}               200 model (what the health probe reads);
                                                 any owner/name is a model here
    GET  /v1/predictions/{id}                    200 prediction, its status and logs moving on
    POST /v1/predictions/{id}/cancel             200 prediction, ``canceled``
    POST /v1/files                               multipart ``content`` (+ ``filename``,
                                                 ``type``, ``metadata``)        201 file
    GET  /v1/files/{id}                          200 file
    GET  /v1/files/{id}/download                 the bytes (outputs are served here)

    4xx  ``application/problem+json`` {"title"?, "detail", "status"} as recorded
         (``../shared/providers/replicate-examples/``), 429s with ``retry_after`` in the body

The contract is ``../shared/providers/replicate.md``. A prediction is rendered by the local
renderer in a background thread, the model's steps (``num_inference_steps``,
``ddim_steps``), each adding a tqdm line to the logs as the model's would. A prediction
created with ``Prefer: wait`` that finishes while held is answered ``processing`` with
its output already a ``data:`` URL, as recorded (example 02); otherwise the output is a
URL on this stand-in (real outputs live on ``replicate.delivery``), which wants the same
``Authorization`` header.

Every request needs ``Authorization: Bearer <token>`` (or ``Token <token>``); any token passes
unless ``api_token`` is given. Scripted outcomes (``local/standins/control.py``), one per
create request:

    status      exactly that status, headers and body; a missing body becomes the body
                Replicate sends for that status (recorded where there is a recording)
    delay_s     the create answer waits that long
    slow_start  the prediction stays ``starting`` for ``s`` seconds, then runs
    moderation  the prediction runs, then fails with the safety checker's NSFW error
    aborted     the prediction ends ``aborted`` before it starts (the spec: "terminated
                before it started running"), which replicate 1.0.7's model cannot parse
    slow        the prediction runs, each step taking ``s_per_step`` seconds (a slow model:
                what a cancel test stops midway)

A cancel (``POST /v1/predictions/{id}/cancel``) shows in ``GET /_control/requests`` with the
prediction's model, and its bill (``GET /_control/billing``) says ``status: canceled``.

Run alone: ``python -m local.standins.replicate --port 4010``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.server import BackgroundServer, listen
from local.standins.control import StandinControl, control_routes
from local.standins.replicate_models import (
    COMMUNITY_MODELS,
    KNOWN_VERSIONS,
    InvalidInputError,
    ModelParams,
    params_for,
)
from sketchbridge.domain import clock
from sketchbridge.providers.local_renderer import render_sketch

PROBLEM_JSON = "application/problem+json"
# What Replicate answers for these statuses, as recorded or quoted (replicate-examples/).
RECORDED_PROBLEMS: dict[int, dict[str, Any]] = {
    401: {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    },
    402: {
        # [?] no recording; the wording users quote from Replicate's billing refusal.
        "title": "Insufficient credit",
        "detail": "You have insufficient credit to run this model. Go to "
        "https://replicate.com/account/billing#billing to purchase credit. Once you purchase "
        "credit, please wait a few minutes before trying again.",
        "status": 402,
    },
    404: {"detail": "The requested resource does not exist", "status": 404},
    422: {
        "title": "Invalid version or not permitted",
        "detail": "The specified version does not exist (or perhaps you don't have "
        "permission to use it?)",
        "status": 422,
    },
    429: {
        "detail": "Request was throttled. Your rate limit resets in ~10s.",
        "status": 429,
        "retry_after": 10,
    },
}
# cog-flux's error when the safety checker rejects every image.
NSFW_ERROR = (
    "All generated images contained NSFW content. Try running it again with a different prompt."
)
# An aborted prediction starts out "starting" this long before Replicate gives up on it.
ABORT_AFTER_S = 0.2
MAX_PREFER_WAIT_S = 60
PREFER_WAIT = re.compile(r"^wait(=([1-9]|[1-9][0-9]|60))?$")
CANCEL_AFTER = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")
MIN_CANCEL_AFTER_S = 5
FINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
TQDM_BAR_WIDTH = 10
TQDM_PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"
OUTPUT_MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}
PIL_FORMATS = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG"}


# The stand-in's own prices (../shared/providers/pricing.md), never Sketchbridge's table.
# Official models, per output image: pricing.md:43 "flux-depth-dev ... | image | $0.025" and
# :44 "flux-depth-pro | image | $0.05" stand for their canny siblings (pricing.md:45 [?]).
OFFICIAL_USD_PER_IMAGE = {
    "black-forest-labs/flux-canny-dev": 0.025,
    "black-forest-labs/flux-canny-pro": 0.05,
}
DEFAULT_OFFICIAL_USD_PER_IMAGE = 0.025
# Model versions (community models), per second of hardware: every version here "runs" on an
# L40S, pricing.md:36 "Nvidia L40S | second | $0.000975".
VERSION_HARDWARE = "gpu-l40s"
VERSION_HARDWARE_USD_PER_S = 0.000975


@dataclass
class StoredFile:
    id: str
    name: str
    content_type: str
    content: bytes
    metadata: dict[str, Any]
    created_at: datetime

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": len(self.content),
            "etag": hashlib.md5(self.content).hexdigest(),  # as recorded: the MD5
            "checksums": {
                "sha256": hashlib.sha256(self.content).hexdigest(),
                "md5": hashlib.md5(self.content).hexdigest(),
            },
            "metadata": self.metadata,
            "created_at": timestamp(self.created_at),
            "expires_at": timestamp(self.created_at + timedelta(hours=24)),
            "urls": {"get": f"{base_url}/v1/files/{self.id}"},
        }


@dataclass
class Prediction:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    base_url: str
    inline_output: bool
    created_at: datetime
    cancel_at: float | None  # monotonic
    # How Replicate bills it: an official model per output image, a version per second.
    billed_per: str = "image"
    on_finish: Any = None  # called with the prediction once it reaches a final status
    status: str = "starting"
    logs: str = ""
    output: list[str] | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def finish(self, status: str, *, error: str | None = None) -> None:
        if self.status in FINAL:
            return
        self.status, self.error = status, error
        self.completed_at = clock.utc_now()
        self.stop.set()
        self.finished.set()
        if self.on_finish is not None:
            self.on_finish(self)

    def predict_time(self) -> float | None:
        """metrics.predict_time: the seconds it ran (None if it never started running)."""
        if self.completed_at is None or self.started_at is None:
            return None
        return round((self.completed_at - self.started_at).total_seconds(), 6)

    def expire_if_due(self) -> None:
        """Cancel-After: past it, a running prediction is canceled, a waiting one aborted."""
        if self.cancel_at is not None and time.monotonic() >= self.cancel_at:
            self.finish("aborted" if self.status == "starting" else "canceled")

    def as_json(self, *, held_by_wait: bool = False) -> dict[str, Any]:
        status = self.status
        if held_by_wait and status == "succeeded":
            status = "processing"  # recorded: the held answer comes before the final status
        body: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "logs": self.logs,
            "output": self.output,
            "data_removed": False,
            "error": self.error,
            "status": status,
            "created_at": timestamp(self.created_at),
            "source": "api",
            "urls": {
                "cancel": f"{self.base_url}/v1/predictions/{self.id}/cancel",
                "get": f"{self.base_url}/v1/predictions/{self.id}",
                "web": f"{self.base_url}/p/{self.id}",
            },
        }
        if self.started_at is not None:
            body["started_at"] = timestamp(self.started_at)
        if self.completed_at is not None:
            body["completed_at"] = timestamp(self.completed_at)
            total = (self.completed_at - self.created_at).total_seconds()
            body["metrics"] = {"total_time": round(total, 6)}
            predict_time = self.predict_time()
            if predict_time is not None:  # [?] a prediction that never ran reports none
                body["metrics"]["predict_time"] = predict_time
        if self.cancel_at is not None:
            left = self.cancel_at - time.monotonic()
            body["deadline"] = timestamp(clock.utc_now() + timedelta(seconds=max(left, 0)))
        return body


def bill(control: StandinControl, prediction: Prediction) -> None:
    """What Replicate charges for a prediction that ended (replicate.com/docs/billing as
    pricing.md:39 and :48 quote it): an official model its price per output image, whatever
    the seconds; a model version its predict_time on its hardware, failed or canceled too."""
    outputs = len(prediction.output or []) if prediction.status == "succeeded" else 0
    if prediction.billed_per == "image":
        usd_each = OFFICIAL_USD_PER_IMAGE.get(prediction.model, DEFAULT_OFFICIAL_USD_PER_IMAGE)
        control.bill(
            prediction.id,
            model=prediction.model,
            usd=outputs * usd_each,
            basis="per_image",
            images=outputs,
            status=prediction.status,
        )
        return
    seconds = prediction.predict_time() or 0.0
    control.bill(
        prediction.id,
        model=prediction.model,
        usd=seconds * VERSION_HARDWARE_USD_PER_S,
        basis="predict_time",
        predict_time=seconds,
        hardware=VERSION_HARDWARE,
        status=prediction.status,
    )


class ReplicateStandin:
    """The stand-in's state: predictions and files, shared by the routes and the workers."""

    def __init__(self, control: StandinControl, *, api_token: str | None, seconds_per_step: float):
        self.control = control
        self.api_token = api_token
        self.seconds_per_step = seconds_per_step
        self.lock = threading.Lock()
        self.predictions: dict[str, Prediction] = {}
        self.files: dict[str, StoredFile] = {}

    def authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme not in ("Bearer", "Token") or not token.strip():
            return False
        return self.api_token is None or secrets.compare_digest(token.strip(), self.api_token)

    def store_file(
        self, content: bytes, *, name: str, content_type: str, metadata: dict[str, Any]
    ) -> StoredFile:
        stored = StoredFile(new_id(), name, content_type, content, metadata, clock.utc_now())
        with self.lock:
            self.files[stored.id] = stored
        return stored

    def file_content(self, file_id: str) -> bytes | None:
        stored = self.files.get(file_id)
        return stored.content if stored is not None else None

    def prediction(self, prediction_id: str) -> Prediction | None:
        with self.lock:
            prediction = self.predictions.get(prediction_id)
            if prediction is not None:
                prediction.expire_if_due()
            return prediction

    def snapshot(self, prediction: Prediction, *, held_by_wait: bool = False) -> dict[str, Any]:
        with self.lock:
            prediction.expire_if_due()
            return prediction.as_json(held_by_wait=held_by_wait)

    def start(self, prediction: Prediction, params: ModelParams, outcome: dict[str, Any]) -> None:
        with self.lock:
            self.predictions[prediction.id] = prediction
        worker = threading.Thread(
            target=self._run,
            args=(prediction, params, outcome),
            name=f"replicate-{prediction.id}",
            daemon=True,
        )
        worker.start()

    def _run(self, prediction: Prediction, params: ModelParams, outcome: dict[str, Any]) -> None:
        kind = outcome.get("outcome")
        if kind == "aborted":
            prediction.stop.wait(ABORT_AFTER_S)
            with self.lock:
                prediction.finish("aborted")
            return
        if kind == "slow_start" and prediction.stop.wait(float(outcome["s"])):
            return
        with self.lock:
            prediction.expire_if_due()
            if prediction.status in FINAL:
                return
            prediction.status, prediction.started_at = "processing", clock.utc_now()
            prediction.logs = f"Using seed: {params.seed}\n{tqdm_line(0, params.steps, 0.0)}\n"
        began = time.monotonic()

        seconds_per_step = float(outcome["s_per_step"]) if kind == "slow" else self.seconds_per_step

        def on_step(step: int, total: int) -> None:
            if seconds_per_step:
                prediction.stop.wait(seconds_per_step)  # a cancel ends the wait
            with self.lock:
                prediction.expire_if_due()
                if prediction.status in FINAL:
                    raise _Stopped
                prediction.logs += tqdm_line(step, total, time.monotonic() - began) + "\n"

        try:
            image = render_sketch(
                params.sketch,
                params.prompt,
                seed=params.seed,
                steps=params.steps,
                strength=1.0,
                width=params.size[0],
                height=params.size[1],
                on_step=on_step,
            )
        except _Stopped:
            return
        if kind == "moderation":
            with self.lock:
                prediction.finish("failed", error=NSFW_ERROR)
            return
        urls = [
            self._output_url(prediction, picture, params.output_format, index)
            for index, picture in enumerate((*params.leading_outputs, image))
        ]
        with self.lock:
            if prediction.status not in FINAL:
                prediction.output = urls
                prediction.finish("succeeded")

    def _output_url(
        self, prediction: Prediction, image: Image.Image, output_format: str, index: int
    ) -> str:
        encoded = encode_image(image, output_format)
        media_type = OUTPUT_MEDIA_TYPES[output_format]
        if prediction.inline_output:
            return f"data:{media_type};base64,{base64.b64encode(encoded).decode('ascii')}"
        name = f"out-{index}.{output_format}"
        stored = self.store_file(encoded, name=name, content_type=media_type, metadata={})
        return f"{prediction.base_url}/v1/files/{stored.id}/download"


class _Stopped(Exception):
    """The prediction was canceled while it ran."""


def create_app(
    control: StandinControl | None = None,
    *,
    api_token: str | None = None,
    seconds_per_step: float = 0.02,
) -> Starlette:
    """The stand-in as an ASGI app; ``control`` lets a test script it and read its log.

    ``api_token``: the only token accepted (any non-empty token when None).
    ``seconds_per_step``: how long each denoising step takes, so that logs grow over time.
    """
    standin = ReplicateStandin(
        control or StandinControl(), api_token=api_token, seconds_per_step=seconds_per_step
    )

    async def create_for_model(request: Request) -> Response:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        return await create_prediction(standin, request, model=model, versioned=False)

    async def create_for_version(request: Request) -> Response:
        return await create_prediction(standin, request, model=None, versioned=True)

    async def get_model(request: Request) -> Response:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        standin.control.record(request, model=model)
        if not standin.authorised(request):
            return problem(401)
        outcome = standin.control.probe_outcome()
        if "status" in outcome:
            return problem(int(outcome["status"]))
        return JSONResponse(model_json(model))

    async def get_prediction(request: Request) -> Response:
        standin.control.record(request)
        if not standin.authorised(request):
            return problem(401)
        prediction = standin.prediction(request.path_params["id"])
        if prediction is None:
            return problem(404, detail="Prediction not found")
        return JSONResponse(standin.snapshot(prediction))

    async def cancel_prediction(request: Request) -> Response:
        prediction = standin.prediction(request.path_params["id"])
        standin.control.record(request, model=prediction.model if prediction else None)
        if not standin.authorised(request):
            return problem(401)
        if prediction is None:
            return problem(404, detail="Prediction not found")
        with standin.lock:
            prediction.finish("canceled")
        return JSONResponse(standin.snapshot(prediction))

    async def create_file(request: Request) -> Response:
        standin.control.record(request)
        if not standin.authorised(request):
            return problem(401)
        try:
            parts = form_parts(request.headers.get("content-type", ""), await request.body())
            content_part = parts["content"]
        except (KeyError, ValueError):
            return problem(422, title="Invalid file", detail="The file content is required")
        metadata_text = parts.get("metadata", (None, None, b"{}"))[2] or b"{}"
        try:
            metadata = json.loads(metadata_text)
        except ValueError:
            return problem(422, title="Invalid metadata", detail="metadata must be JSON")
        filename_part, type_part = parts.get("filename"), parts.get("type")
        stored = standin.store_file(
            content_part[2],
            name=(filename_part[2].decode() if filename_part else content_part[0]) or "file",
            content_type=(type_part[2].decode() if type_part else content_part[1])
            or "application/octet-stream",
            metadata=metadata if isinstance(metadata, dict) else {},
        )
        return JSONResponse(stored.as_json(base_url_of(request)), status_code=201)

    async def get_file(request: Request) -> Response:
        standin.control.record(request)
        if not standin.authorised(request):
            return problem(401)
        stored = standin.files.get(request.path_params["id"])
        if stored is None:
            return problem(404, detail="File not found")
        return JSONResponse(stored.as_json(base_url_of(request)))

    async def download_file(request: Request) -> Response:
        standin.control.record(request)
        if not standin.authorised(request):
            return problem(401)
        stored = standin.files.get(request.path_params["id"])
        if stored is None:
            return problem(404, detail="File not found")
        return Response(stored.content, media_type=stored.content_type)

    routes = [
        Route("/v1/models/{owner}/{name}/predictions", create_for_model, methods=["POST"]),
        Route("/v1/models/{owner}/{name}", get_model, methods=["GET"]),
        Route("/v1/predictions", create_for_version, methods=["POST"]),
        Route("/v1/predictions/{id}", get_prediction, methods=["GET"]),
        Route("/v1/predictions/{id}/cancel", cancel_prediction, methods=["POST"]),
        Route("/v1/files", create_file, methods=["POST"]),
        Route("/v1/files/{id}", get_file, methods=["GET"]),
        Route("/v1/files/{id}/download", download_file, methods=["GET"]),
        *control_routes(standin.control),
    ]
    return Starlette(routes=routes)


async def create_prediction(
    standin: ReplicateStandin, request: Request, *, model: str | None, versioned: bool
) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    version = body.get("version") if isinstance(body, dict) else None
    version_id: str | None = None
    if versioned:
        model, version_id = model_of_version(version)
    standin.control.record(request, model=model)
    if not standin.authorised(request):
        return problem(401)
    outcome = standin.control.next_outcome()
    if "status" in outcome:
        return scripted_answer(outcome)
    if "delay_s" in outcome:
        await asyncio.sleep(float(outcome["delay_s"]))
    try:
        wait_s = prefer_wait_seconds(request.headers.get("prefer"))
        lifetime_s = cancel_after_seconds(request.headers.get("cancel-after"))
        model_input = request_input(body, versioned=versioned)
    except InvalidInputError as error:
        return problem(422, title="Input validation failed", detail=str(error))
    if model is None:
        return problem(422)  # recorded: "Invalid version or not permitted"
    try:
        params = params_for(model, model_input, standin.file_content)
    except InvalidInputError as error:
        return problem(422, title="Input validation failed", detail=str(error))
    prediction = Prediction(
        id=new_id(),
        model=model,
        version=version_id or official_version(model),
        input=model_input,
        base_url=base_url_of(request),
        inline_output=wait_s is not None,
        created_at=clock.utc_now(),
        cancel_at=None if lifetime_s is None else time.monotonic() + lifetime_s,
        # A community model's version bills its seconds; an official model its images.
        billed_per="second" if model in COMMUNITY_MODELS else "image",
        on_finish=lambda ended: bill(standin.control, ended),
    )
    if wait_s is None:
        # Answered as created, before the model picks it up (recorded: "starting").
        snapshot = prediction.as_json()
        standin.start(prediction, params, outcome)
        return JSONResponse(snapshot, status_code=201)
    standin.start(prediction, params, outcome)
    await hold(standin, prediction, wait_s)
    snapshot = standin.snapshot(prediction, held_by_wait=True)
    headers = {"Preference-Applied": request.headers["prefer"].strip()}
    return JSONResponse(snapshot, status_code=201, headers=headers)


async def hold(standin: ReplicateStandin, prediction: Prediction, seconds: float) -> None:
    """Prefer: wait: keep the answer until the prediction ends or the hold runs out."""
    until = time.monotonic() + seconds
    while not prediction.finished.is_set() and time.monotonic() < until:
        standin.prediction(prediction.id)  # applies Cancel-After
        await asyncio.sleep(0.01)


def model_of_version(version: Any) -> tuple[str | None, str | None]:
    """(model, version id) of a create's ``version``: ``owner/name:id``, ``owner/name`` (an
    official model) or a bare id this stand-in knows; (None, None) for one it does not."""
    if not isinstance(version, str) or not version:
        return None, None
    name, colon, version_id = version.partition(":")
    if colon:
        return (name, version_id) if "/" in name and version_id else (None, None)
    if "/" in version:
        return version, None
    model = KNOWN_VERSIONS.get(version)
    return (model, version) if model else (None, None)


def request_input(body: Any, *, versioned: bool) -> dict[str, Any]:
    allowed = {"input", "webhook", "webhook_events_filter", "stream"} | (
        {"version"} if versioned else set()
    )
    if not isinstance(body, dict):
        raise InvalidInputError("- body: must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInputError(f"- body: additional property {unknown[0]} is not allowed")
    model_input = body.get("input")
    if not isinstance(model_input, dict):
        raise InvalidInputError("- input: input is required")
    return model_input


def prefer_wait_seconds(header: str | None) -> int | None:
    if header is None:
        return None
    match = PREFER_WAIT.match(header.strip())
    if match is None:
        raise InvalidInputError("- Prefer: must be wait or wait=n with n from 1 to 60")
    return int(match.group(2)) if match.group(2) else MAX_PREFER_WAIT_S


def cancel_after_seconds(header: str | None) -> float | None:
    if header is None:
        return None
    match = CANCEL_AFTER.match(header.strip())
    if match is None or not header.strip():
        raise InvalidInputError("- Cancel-After: must be a duration such as 30, 30s, 5m, 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total < MIN_CANCEL_AFTER_S:
        raise InvalidInputError("- Cancel-After: must be at least 5 seconds")
    return float(total)


def scripted_answer(outcome: dict[str, Any]) -> Response:
    status = int(outcome["status"])
    body = outcome.get("body")
    if body is None:
        body = RECORDED_PROBLEMS.get(status) or {
            "detail": HTTPStatus(status).phrase,
            "status": status,
        }
    media_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(
        json.dumps(body), status_code=status, headers=outcome.get("headers"), media_type=media_type
    )


def problem(status: int, *, title: str | None = None, detail: str | None = None) -> Response:
    body = dict(RECORDED_PROBLEMS.get(status) or {"status": status})
    if title is not None:
        body["title"] = title
    if detail is not None:
        body["detail"] = detail
    body.setdefault("detail", HTTPStatus(status).phrase)
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON)


def form_parts(content_type: str, body: bytes) -> dict[str, tuple[str, str, bytes]]:
    """multipart/form-data parts by name: (filename, content type, bytes)."""
    if not content_type.startswith("multipart/form-data"):
        raise ValueError("not multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            parts[str(name)] = (part.get_filename() or "", part.get_content_type(), content)
    return parts


def tqdm_line(step: int, total: int, elapsed_s: float) -> str:
    """A tqdm progress line as diffusion models print them, e.g. ' 45%|████▌     | 9/20 [...]'."""
    fraction = step / total
    filled = fraction * TQDM_BAR_WIDTH
    whole = int(filled)
    bar = "█" * whole
    if whole < TQDM_BAR_WIDTH:
        bar += TQDM_PARTIAL_BLOCKS[int((filled - whole) * len(TQDM_PARTIAL_BLOCKS))]
    bar = bar.ljust(TQDM_BAR_WIDTH)
    if step == 0 or elapsed_s <= 0:
        timing = "00:00<?, ?it/s"
    else:
        rate = step / elapsed_s
        timing = f"{_tqdm_clock(elapsed_s)}<{_tqdm_clock((total - step) / rate)}, {rate:5.2f}it/s"
    return f"{int(fraction * 100):3d}%|{bar}| {step}/{total} [{timing}]"


def _tqdm_clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def encode_image(image: Image.Image, output_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=PIL_FORMATS[output_format])
    return buffer.getvalue()


def model_json(model: str) -> dict[str, Any]:
    """The model object (``schemas_model_response``) of a model this stand-in plays."""
    owner, _, name = model.partition("/")
    return {
        "url": f"https://replicate.com/{model}",
        "owner": owner,
        "name": name,
        "description": f"{model}, played by the Sketchbridge stand-in.",
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": 0,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": {
            "id": official_version(model),
            "created_at": timestamp(datetime(2024, 11, 20, tzinfo=UTC)),
            "cog_version": "0.13.6",
            "openapi_schema": None,
        },
        "is_official": model not in COMMUNITY_MODELS,
    }


def official_version(model: str | None) -> str:
    """An official model's version as recorded (example 03): "dp-" and 32 hex digits.

    The spec also allows "hidden", but its oneOf matches "hidden" twice, so no answer
    carrying it validates against the spec.
    """
    return "dp-" + hashlib.sha256((model or "").encode()).hexdigest()[:32]


def new_id() -> str:
    """A 26-character lowercase base32 id, like Replicate's."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").lower().rstrip("=")


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def base_url_of(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--api-token", default=None, help="the only token accepted (default: any)")
    arguments = parser.parse_args()
    server = BackgroundServer(create_app(api_token=arguments.api_token), listen(arguments.port))
    server.start()
    print(f"Replicate stand-in on http://127.0.0.1:{server.port}  (REPLICATE_BASE_URL)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
