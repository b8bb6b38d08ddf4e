"""The ``sketchbridge`` command: send a sketch, watch it render live, save the image.

    sketchbridge generate turtle.png -p "a sea turtle, watercolour" -o turtle-art.png
    sketchbridge providers
    sketchbridge admin ...     (SigV4-signed admin API: see sketchbridge/cli_admin.py)
    sketchbridge standins      (from a checkout: the provider stand-ins alone)

Without ``--api`` it talks to the local stack that ``make run`` started, whose
addresses and dev token are in ``.local/stack.json``. With ``--api`` (or
``SKETCHBRIDGE_API_URL``) it talks to a deployed API; the token then comes from
``--token`` or ``SKETCHBRIDGE_TOKEN`` and the WebSocket from ``--ws`` or
``SKETCHBRIDGE_WS_URL``.

Progress arrives over the WebSocket. If that cannot be opened or drops, the
command polls ``GET /generations/{id}`` instead: the WebSocket makes progress
quicker to see, it is never needed to learn the outcome.

The pieces, each testable alone: argument parsing (``build_parser``), where to
connect (``resolve_endpoints``), the sketch as a data URL (``sketch_data_url``),
the API client (``SketchbridgeClient``) and the event stream (``JobFollower``),
rendering (``render_progress_line``, ``ProgressDisplay``, ``render_*``), and the
commands that tie them together. httpx, websockets and pydantic are imported by
the code that needs them, so importing this module and ``--help`` stay fast.

Exit codes: 0 done, 1 the API or the job failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from sketchbridge.domain.models import (
        GenerationRequest,
        JobEventMessage,
        JobResponse,
        ProvidersResponse,
    )

_Model = TypeVar("_Model", bound="BaseModel")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

STACK_FILE_ENV = "SKETCHBRIDGE_STACK_FILE"
API_URL_ENV = "SKETCHBRIDGE_API_URL"
TOKEN_ENV = "SKETCHBRIDGE_TOKEN"
WS_URL_ENV = "SKETCHBRIDGE_WS_URL"
STACK_FILE_RELATIVE = Path(".local") / "stack.json"

DEFAULT_WAIT_SECONDS = 300.0
POLL_INTERVAL_SECONDS = 1.0
# With no frame for this long, ask the API directly, in case a push was lost.
QUIET_CHECK_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 30.0
WEBSOCKET_OPEN_TIMEOUT_SECONDS = 10.0

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"

# The option a request field came from, to name it in validation messages.
FIELD_OPTIONS = {
    "sketch": "SKETCH",
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "provider": "--provider",
    "seed": "--seed",
    "steps": "--steps",
    "strength": "--strength",
    "guidance_scale": "--guidance-scale",
    "width": "--width",
    "height": "--height",
}
RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


# ---------------------------------------------------------------- errors


class CliError(Exception):
    """A failure the command reports to its user: a code, a message and what to do next."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        code: str = "failed",
        suggestions: Sequence[str] = (),
        retryable: bool = False,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.suggestions = tuple(suggestions)
        self.retryable = retryable
        self.job_id = job_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "suggestions": list(self.suggestions),
            "retryable": self.retryable,
        }


class UsageError(CliError):
    """The command line or the files it names are wrong; nothing was sent."""

    exit_code = EXIT_USAGE

    def __init__(
        self, message: str, *, code: str = "usage", suggestions: Sequence[str] = ()
    ) -> None:
        super().__init__(message, code=code, suggestions=suggestions)


class ApiError(CliError):
    """The API refused a request or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        suggestions: Sequence[str] = (),
        retryable: bool = False,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, suggestions=suggestions, retryable=retryable)
        self.http_status = http_status


class InterruptedByUserError(CliError):
    exit_code = EXIT_INTERRUPTED


# ---------------------------------------------------------------- where to connect


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    ws_url: str | None
    token: str | None


def package_stack_file() -> Path:
    """The repository's ``.local/stack.json``, found from this file (shared/sketchbridge/cli.py)."""
    return Path(__file__).resolve().parents[2] / STACK_FILE_RELATIVE


def find_stack_file(explicit: str | None, *, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The stack file to use: --stack-file, $SKETCHBRIDGE_STACK_FILE, ./.local, the repo's."""
    named = explicit or environ.get(STACK_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise UsageError(
                f"The stack file {path} does not exist.",
                suggestions=["Start the local stack with `make run`, which writes it."],
            )
        return path
    for candidate in (cwd / STACK_FILE_RELATIVE, package_stack_file()):
        if candidate.is_file():
            return candidate
    return None


def read_stack_file(path: Path) -> dict[str, Any]:
    try:
        stack = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"The stack file {path} cannot be read: {exc}") from exc
    if not isinstance(stack, dict) or not isinstance(stack.get("api_url"), str):
        raise UsageError(f"The stack file {path} has no api_url.")
    return stack


def _same_url(first: str, second: str) -> bool:
    return first.rstrip("/") == second.rstrip("/")


def resolve_endpoints(
    *,
    api: str | None,
    ws: str | None,
    token: str | None,
    stack_file: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> Endpoints:
    """Decide where to send requests: explicit options, then the environment, then the stack."""
    api = api or environ.get(API_URL_ENV)
    if api:
        # A deployed API: its token and WebSocket come from options or the environment.
        ws = ws or environ.get(WS_URL_ENV)
        token = token or environ.get(TOKEN_ENV)
        path = find_stack_file(stack_file, environ=environ, cwd=cwd)
        if path is not None and (ws is None or token is None):
            # `--api http://127.0.0.1:3000` names the local stack: its file fills the gaps.
            stack = read_stack_file(path)
            if _same_url(stack["api_url"], api):
                ws = ws or stack.get("ws_url")
                token = token or stack.get("dev_token")
        return Endpoints(api_url=api, ws_url=ws or None, token=token or None)

    path = find_stack_file(stack_file, environ=environ, cwd=cwd)
    if path is None:
        raise UsageError(
            "No API to talk to: no --api given and no local stack found (.local/stack.json).",
            suggestions=[
                "Start the local stack with `make run` in the repository, then run this again.",
                f"Or pass --api URL and --token TOKEN (or set {API_URL_ENV} and {TOKEN_ENV}).",
            ],
        )
    stack = read_stack_file(path)
    return Endpoints(
        api_url=stack["api_url"],
        ws_url=ws or stack.get("ws_url") or None,
        token=token or stack.get("dev_token") or None,
    )


def websocket_url(ws_url: str, token: str | None) -> str:
    """The WebSocket address with ``?token=`` added, keeping any query it already has."""
    if not token:
        return ws_url
    parts = urlsplit(ws_url)
    query = [*parse_qsl(parts.query), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# ---------------------------------------------------------------- the sketch


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG or WebP bytes, judged by their magic bytes; else None."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sketch_data_url(data: bytes, *, name: str = "The sketch") -> str:
    """The bytes as a base64 data URL, refusing what the API would refuse anyway."""
    content_type = sniff_image_type(data)
    if content_type is None:
        what = "is empty" if not data else "is not a PNG, JPEG or WebP image"
        raise UsageError(
            f"{name} {what}.",
            code="unsupported_format",
            suggestions=["Export the sketch as PNG, JPEG or WebP."],
        )
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def read_sketch(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"There is no file {path}.") from exc
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, or None when the bytes are not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def build_generation_request(
    *,
    sketch: str,
    prompt: str,
    negative_prompt: str | None = None,
    provider: str = "auto",
    seed: int | None = None,
    steps: int | None = None,
    strength: float | None = None,
    guidance_scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> GenerationRequest:
    """The request body, validated by the API's own model so that a bad value never leaves."""
    from pydantic import ValidationError

    from sketchbridge.domain.models import GenerationRequest

    given = {
        "seed": seed,
        "steps": steps,
        "strength": strength,
        "guidance_scale": guidance_scale,
        "width": width,
        "height": height,
    }
    body: dict[str, Any] = {
        "sketch": sketch,
        "prompt": prompt,
        "provider": provider,
        # Unset knobs are left to the API's defaults.
        "params": {name: value for name, value in given.items() if value is not None},
    }
    if negative_prompt is not None:
        body["negative_prompt"] = negative_prompt
    try:
        return GenerationRequest.model_validate(body)
    except ValidationError as exc:
        problems = []
        for problem in exc.errors():
            field_name = str(problem["loc"][-1]) if problem["loc"] else "request"
            option = FIELD_OPTIONS.get(field_name, field_name)
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"{option}: {message}")
        raise UsageError("; ".join(problems)) from exc


# ---------------------------------------------------------------- the API client


def error_from_response(status: int, body: bytes, *, token_given: bool = True) -> ApiError:
    """Turn an error answer into an ApiError: the API's own error body, else the gateway's."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    info = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(info, dict) and isinstance(info.get("code"), str):
        return ApiError(
            str(info.get("message") or info["code"]),
            code=info["code"],
            suggestions=[str(s) for s in info.get("suggestions") or []],
            retryable=bool(info.get("retryable", False)),
            http_status=status,
        )
    # Not our error body: API Gateway answered ({"message": "Unauthorized"}) or a proxy did.
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        message = payload["message"]
    else:
        message = body.decode("utf-8", "replace").strip()[:200] or "no details"
    suggestions: list[str] = []
    if status == 401:
        code = "unauthorized"
        suggestions.append(
            f"Pass a valid token with --token or {TOKEN_ENV}."
            if not token_given
            else "Your token was refused; get a fresh one."
        )
    elif status == 404:
        code = "not_found"
    elif status == 413:
        code = "image_too_large"
        suggestions.append("Scale the sketch down (2048 pixels a side is plenty) and try again.")
    elif status == 429:
        code = "rate_limited"
    elif status >= 500:
        code = "unavailable"
    else:
        code = f"http_{status}"
    return ApiError(
        f"HTTP {status}: {message}",
        code=code,
        suggestions=suggestions,
        retryable=status in RETRYABLE_HTTP_STATUSES,
        http_status=status,
    )


class SketchbridgeClient:
    """The HTTP side of the API: submit, read a job, list providers, download a result.

    ``http`` lets a test hand in an ``httpx.Client`` with a ``MockTransport``.
    """

    def __init__(self, endpoints: Endpoints, *, http: httpx.Client | None = None) -> None:
        import httpx

        self.endpoints = endpoints
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS)

    def __enter__(self) -> SketchbridgeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, request: GenerationRequest) -> JobResponse:
        """``POST /generations``: 202 with a queued job, or 200 already succeeded (cache hit)."""
        from sketchbridge.domain.models import JobResponse

        body = request.model_dump(mode="json", exclude_none=True)
        return self._parse(JobResponse, self._call("POST", "/generations", body))

    def get(self, job_id: str) -> JobResponse:
        from sketchbridge.domain.models import JobResponse

        return self._parse(JobResponse, self._call("GET", f"/generations/{job_id}"))

    def providers(self) -> ProvidersResponse:
        from sketchbridge.domain.models import ProvidersResponse

        return self._parse(ProvidersResponse, self._call("GET", "/providers"))

    def download(self, url: str) -> bytes:
        """The bytes at a result URL: a presigned S3 URL, which must carry no other credentials."""
        import httpx

        absolute = urljoin(self.endpoints.api_url.rstrip("/") + "/", url)
        try:
            response = self._http.get(absolute)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Could not download the result from {absolute}: {exc}",
                code="download_failed",
                retryable=True,
            ) from exc
        if not response.is_success:
            raise ApiError(
                f"Downloading the result failed with HTTP {response.status_code}.",
                code="download_failed",
                suggestions=["The link may have expired; ask for the job again to get a new one."],
                http_status=response.status_code,
            )
        return response.content

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        url = self.endpoints.api_url.rstrip("/") + path
        headers = {"Accept": "application/json"}
        if self.endpoints.token:
            headers["Authorization"] = f"Bearer {self.endpoints.token}"
        try:
            response = self._http.request(method, url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"The API at {self.endpoints.api_url} did not answer in time.",
                code="timeout",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Could not reach the API at {self.endpoints.api_url}: {exc}",
                code="unreachable",
                suggestions=[
                    "For the local stack, start it with `make run`.",
                    "Check the address given with --api.",
                ],
                retryable=True,
            ) from exc
        if not response.is_success:
            raise error_from_response(
                response.status_code, response.content, token_given=bool(self.endpoints.token)
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"The API answered {method} {path} with something that is not JSON.",
                code="bad_response",
            ) from exc

    @staticmethod
    def _parse(model: type[_Model], payload: Any) -> _Model:
        from pydantic import ValidationError

        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise ApiError(
                f"The API answered with an unexpected {model.__name__}: {exc}",
                code="bad_response",
            ) from exc


# ---------------------------------------------------------------- following a job


class _WebSocketLostError(Exception):
    """The WebSocket could not be opened or stopped working; polling takes over."""


def event_from_job(job: JobResponse) -> JobEventMessage:
    """The frame the server would send for this state, so that polling reads like the feed."""
    from sketchbridge.domain.models import JobEventMessage, JobStatus

    if job.status is JobStatus.SUCCEEDED:
        return JobEventMessage(
            type="result",
            job_id=job.id,
            seq=job.seq,
            status=job.status,
            progress=1.0,
            result=job.result,
        )
    if job.status.is_final:
        return JobEventMessage(
            type="error",
            job_id=job.id,
            seq=job.seq,
            status=job.status,
            progress=job.progress,
            error=job.error,
        )
    if job.status is JobStatus.RUNNING and job.progress > 0:
        total = job.params.steps
        return JobEventMessage(
            type="progress",
            job_id=job.id,
            seq=job.seq,
            status=job.status,
            progress=job.progress,
            step=round(job.progress * total),
            total_steps=total,
        )
    return JobEventMessage(
        type="status",
        job_id=job.id,
        seq=job.seq,
        status=job.status,
        progress=job.progress,
        message=f"{job.status.value} on {job.provider}",
    )


def is_final_event(event: JobEventMessage) -> bool:
    return event.type in ("result", "error") or event.status.is_final


def parse_event_frame(frame: str | bytes) -> JobEventMessage:
    from pydantic import ValidationError

    from sketchbridge.domain.models import JobEventMessage

    try:
        return JobEventMessage.model_validate_json(frame)
    except ValidationError as exc:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        raise _WebSocketLostError(f"unexpected message {text[:120]!r}") from exc


def describe_websocket_failure(exc: Exception) -> str:
    from websockets.exceptions import ConnectionClosed

    if isinstance(exc, ConnectionClosed):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError):
        return "timed out while connecting"
    return str(exc) or type(exc).__name__


class JobFollower:
    """Iterate over a job's events until it ends: from the WebSocket, else by polling.

    The first event is the job's current state and the last one is final
    (``is_final_event``). A job already finished when submitted (a cache hit)
    yields that one event without opening anything. ``transports`` records what
    was used, in order.
    """

    def __init__(
        self,
        client: SketchbridgeClient,
        job: JobResponse,
        *,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        on_notice: Callable[[str], None] = lambda text: None,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        quiet_check: float = QUIET_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._job = job
        self._wait_seconds = wait_seconds
        self._notice = on_notice
        self._poll_interval = poll_interval
        self._quiet_check = quiet_check
        self._clock = clock
        self._sleep = sleep
        self.transports: list[Literal["websocket", "polling"]] = []
        self.last_event: JobEventMessage | None = None

    def __iter__(self) -> Iterator[JobEventMessage]:
        for event in self._events():
            self.last_event = event
            yield event

    def _events(self) -> Iterator[JobEventMessage]:
        deadline = self._clock() + self._wait_seconds
        if self._job.status.is_final:
            yield event_from_job(self._job)
            return
        polling = f"polling GET /generations/{{id}} every {self._poll_interval:g} s"
        ws_url = self._client.endpoints.ws_url
        if ws_url is None:
            self._notice(f"No WebSocket address known; {polling}.")
        else:
            try:
                yield from self._over_websocket(ws_url, deadline)
                return
            except _WebSocketLostError as exc:
                self._notice(f"WebSocket unavailable ({exc}); {polling} instead.")
        yield from self._by_polling(deadline)

    def _over_websocket(self, ws_url: str, deadline: float) -> Iterator[JobEventMessage]:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        job_id = self._job.id
        address = websocket_url(ws_url, self._client.endpoints.token)
        try:
            with connect(
                address, open_timeout=WEBSOCKET_OPEN_TIMEOUT_SECONDS, close_timeout=2
            ) as websocket:
                self.transports.append("websocket")
                # Subscribing after submit loses nothing: the server answers with the current state.
                websocket.send(json.dumps({"action": "subscribe", "id": job_id}))
                applied_seq = -1
                while True:
                    wait = min(self._remaining(deadline), self._quiet_check)
                    try:
                        frame = websocket.recv(timeout=wait)
                    except TimeoutError:
                        quiet_answer = self._check_quietly(job_id)
                        if quiet_answer is not None:
                            yield quiet_answer
                            return
                        continue
                    event = parse_event_frame(frame)
                    if event.job_id != job_id:
                        continue
                    if event.seq <= applied_seq and not is_final_event(event):
                        continue  # overtaken by a newer frame: frames may race each other
                    applied_seq = max(applied_seq, event.seq)
                    yield event
                    if is_final_event(event):
                        return
        except (OSError, WebSocketException) as exc:
            raise _WebSocketLostError(describe_websocket_failure(exc)) from exc

    def _check_quietly(self, job_id: str) -> JobEventMessage | None:
        """After a silence, the final event if the job ended without us hearing of it."""
        try:
            job = self._client.get(job_id)
        except ApiError as exc:
            if not exc.retryable:
                raise
            return None
        return event_from_job(job) if job.status.is_final else None

    def _by_polling(self, deadline: float) -> Iterator[JobEventMessage]:
        self.transports.append("polling")
        job_id = self._job.id
        last_seen: tuple[object, ...] | None = None
        told_of_trouble = False
        while True:
            try:
                job = self._client.get(job_id)
            except ApiError as exc:
                if not exc.retryable:
                    raise
                if not told_of_trouble:
                    self._notice(f"The API did not answer ({exc.message}); still trying.")
                    told_of_trouble = True
            else:
                event = event_from_job(job)
                seen = (event.type, event.status, event.progress, event.message)
                if seen != last_seen:
                    last_seen = seen
                    yield event
                if is_final_event(event):
                    return
            self._sleep(min(self._poll_interval, self._remaining(deadline)))

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            status = self.last_event.status.value if self.last_event else "queued"
            raise CliError(
                f"The job is still {status} after {self._wait_seconds:g} s; it goes on without us.",
                code="client_timeout",
                suggestions=[
                    "Wait longer with --timeout SECONDS.",
                    f"Look it up later: GET /generations/{self._job.id}",
                ],
                retryable=True,
                job_id=self._job.id,
            )
        return remaining


# ---------------------------------------------------------------- rendering


def render_progress_line(
    *,
    progress: float,
    status: str,
    step: int | None = None,
    total_steps: int | None = None,
    provider: str | None = None,
    width: int = 20,
) -> str:
    """One line of progress: ``[#####.....] 45% step 9/20 running on local``.

    The bar is full, and the percentage 100, only when the job is done; 99.6%
    of the way still reads 99%.
    """
    fraction = min(max(progress, 0.0), 1.0)
    done = fraction >= 1.0
    filled = width if done else min(int(fraction * width + 0.5), width - 1)
    percent = 100 if done else min(int(fraction * 100 + 0.5), 99)
    parts = [f"[{'#' * filled}{'.' * (width - filled)}]", f"{percent}%"]
    if step is not None and total_steps:
        parts.append(f"step {step}/{total_steps}")
    parts.append(status)
    if provider and provider != "auto":
        parts.append(f"on {provider}")
    return " ".join(parts)


class ProgressDisplay:
    """Shows a job's progress on a stream (stderr).

    On a terminal one bar is redrawn in place with a carriage return; anywhere
    else (a log, a pipe) each change gets its own line. Messages such as a
    switch of provider always get their own line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool,
        provider: str | None = None,
        bar_width: int = 20,
    ) -> None:
        self.provider = provider
        self._stream = stream
        self._interactive = interactive
        self._bar_width = bar_width
        self._bar = ""
        self._last_message: str | None = None
        self._step: int | None = None
        self._total_steps: int | None = None

    def show(self, event: JobEventMessage) -> None:
        if event.result is not None:
            self.provider = event.result.provider
        if event.step is not None:
            self._step = event.step
        if event.total_steps is not None:
            self._total_steps = event.total_steps
        if event.type == "result" and self._total_steps:
            # Polling may have seen only some steps; a result means all of them ran.
            self._step = self._total_steps
        if event.message and event.message != self._last_message:
            self._last_message = event.message
            self.note(event.message)
        line = render_progress_line(
            progress=1.0 if event.type == "result" else event.progress,
            status=event.status.value,
            step=self._step,
            total_steps=self._total_steps,
            provider=self.provider,
            width=self._bar_width,
        )
        self._draw(line)

    def note(self, text: str) -> None:
        """A line of its own, above the bar."""
        if self._interactive and self._bar:
            self._stream.write(f"\r{text.ljust(len(self._bar))}\n{self._bar}")
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()

    def close(self) -> None:
        if self._interactive and self._bar:
            self._stream.write("\n")
            self._stream.flush()
        self._bar = ""

    def _draw(self, line: str) -> None:
        if self._interactive:
            # Pad with spaces so a shorter line wipes the end of a longer one.
            self._stream.write(f"\r{line.ljust(len(self._bar))}")
        elif line != self._bar:
            self._stream.write(f"{line}\n")
        self._bar = line
        self._stream.flush()


@dataclass(frozen=True)
class GenerationSummary:
    job_id: str
    output: Path
    bytes: int
    width: int
    height: int
    provider: str
    model: str
    seed: int | None
    elapsed_seconds: float
    progress_events: int
    cached: bool
    transports: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "job_id": self.job_id,
            "output": str(self.output),
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "provider": self.provider,
            "model": self.model,
            "seed": self.seed,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "progress_events": self.progress_events,
            "cached": self.cached,
            "transport": "+".join(self.transports) or "none",
        }


def format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def render_summary(summary: GenerationSummary, *, shown_path: Path | None = None) -> str:
    seed = "none" if summary.seed is None else str(summary.seed)
    how = "served from cache" if summary.cached else "via " + " then ".join(summary.transports)
    return "\n".join(
        [
            f"Saved {shown_path or summary.output} "
            f"({summary.width}x{summary.height} PNG, {format_bytes(summary.bytes)})",
            f"provider {summary.provider}, model {summary.model}, seed {seed}",
            f"job {summary.job_id}: {summary.elapsed_seconds:.1f} s, "
            f"{summary.progress_events} progress events, {how}",
        ]
    )


def render_error(error: CliError) -> str:
    lines = [f"error: {error.message} [{error.code}]"]
    lines += [f"  - {suggestion}" for suggestion in error.suggestions]
    if error.job_id:
        lines.append(f"  job {error.job_id}")
    if error.retryable:
        lines.append("  Trying again may help.")
    return "\n".join(lines)


def render_providers_table(providers: ProvidersResponse) -> str:
    """The providers as a table, the default one starred."""
    rows = [("NAME", "AI", "STATUS", "MODEL", "DESCRIPTION")]
    for provider in providers.providers:
        star = " *" if provider.name == providers.default else ""
        rows.append(
            (
                provider.name + star,
                "yes" if provider.is_ai else "no",
                provider.status,
                provider.model,
                provider.description,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]])
        for row in rows
    ]
    lines.append(f"* default for --provider auto: {providers.default}")
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------- the commands


def job_failure(event: JobEventMessage | None, job_id: str) -> CliError:
    """The error to report for a job that ended without a result."""
    if event is not None and event.error is not None:
        return CliError(
            event.error.message,
            code=event.error.code,
            suggestions=event.error.suggestions,
            retryable=event.error.retryable,
            job_id=job_id,
        )
    status = event.status.value if event is not None else "unknown"
    if status == "canceled":
        return CliError("The job was canceled.", code="canceled", job_id=job_id)
    return CliError(f"The job ended {status} without a result.", code="failed", job_id=job_id)


def write_atomically(path: Path, data: bytes) -> None:
    """Write the file whole or not at all: a reader never sees half an image."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def run_generate(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
    cwd: Path,
) -> int:
    from sketchbridge.domain.models import JobStatus

    # Everything that can be checked locally is checked before anything is sent.
    sketch_path = cwd / args.sketch
    if args.output is not None and not (cwd / args.output).parent.is_dir():
        raise UsageError(f"The folder for {args.output} does not exist.")
    request = build_generation_request(
        sketch=sketch_data_url(read_sketch(sketch_path), name=args.sketch),
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        provider=args.provider,
        seed=args.seed,
        steps=args.steps,
        strength=args.strength,
        guidance_scale=args.guidance_scale,
        width=args.width,
        height=args.height,
    )
    endpoints = resolve_endpoints(
        api=args.api,
        ws=args.ws,
        token=args.token,
        stack_file=args.stack_file,
        environ=environ,
        cwd=cwd,
    )

    started = time.monotonic()
    display = ProgressDisplay(stderr, interactive=stderr.isatty())
    with SketchbridgeClient(endpoints) as client:
        job = client.submit(request)
        cached = job.status is JobStatus.SUCCEEDED
        display.provider = job.provider
        display.note(f"Job {job.id} " + ("served from cache" if cached else "submitted"))
        follower = JobFollower(client, job, wait_seconds=args.timeout, on_notice=display.note)
        progress_events = 0
        try:
            for event in follower:
                progress_events += event.type == "progress"
                display.show(event)
        except KeyboardInterrupt as exc:
            raise InterruptedByUserError(
                "Interrupted; the job goes on without us.",
                code="interrupted",
                suggestions=[f"Look it up later: GET /generations/{job.id}"],
                job_id=job.id,
            ) from exc
        except CliError as exc:
            exc.job_id = exc.job_id or job.id
            raise
        finally:
            display.close()

        final = follower.last_event
        if final is None or final.status is not JobStatus.SUCCEEDED:
            raise job_failure(final, job.id)
        # A frame may leave the result out; the job itself always has it once succeeded.
        result = final.result or client.get(job.id).result
        if result is None:
            raise CliError(
                "The job succeeded but carries no result.", code="bad_response", job_id=job.id
            )
        image = client.download(result.url)

    size = png_dimensions(image)
    if size is None:
        raise CliError(
            "The result downloaded is not a PNG image.", code="bad_result", job_id=job.id
        )
    output = cwd / (args.output or f"{Path(args.sketch).stem}-{job.id[:8]}.png")
    write_atomically(output, image)
    summary = GenerationSummary(
        job_id=job.id,
        output=output.resolve(),
        bytes=len(image),
        width=size[0],
        height=size[1],
        provider=result.provider,
        model=result.model,
        seed=result.seed,
        elapsed_seconds=time.monotonic() - started,
        progress_events=progress_events,
        cached=cached,
        transports=list(follower.transports),
    )
    if args.json:
        stdout.write(json.dumps(summary.as_dict()) + "\n")
    else:
        shown = output.relative_to(cwd) if output.is_relative_to(cwd) else output
        stdout.write(render_summary(summary, shown_path=shown) + "\n")
    return EXIT_OK


def run_providers(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
    cwd: Path,
) -> int:
    endpoints = resolve_endpoints(
        api=args.api,
        ws=args.ws,
        token=args.token,
        stack_file=args.stack_file,
        environ=environ,
        cwd=cwd,
    )
    with SketchbridgeClient(endpoints) as client:
        providers = client.providers()
    if args.json:
        stdout.write(providers.model_dump_json() + "\n")
    else:
        stdout.write(render_providers_table(providers) + "\n")
    return EXIT_OK


def report_error(error: CliError, *, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
    stderr.write(render_error(error) + "\n")
    if as_json:
        stdout.write(json.dumps({"ok": False, "job_id": error.job_id, "error": error.as_dict()}))
        stdout.write("\n")


# ---------------------------------------------------------------- parsing


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    where = connection.add_argument_group("where to connect (default: the local stack)")
    where.add_argument("--api", metavar="URL", help=f"the HTTP API (or ${API_URL_ENV})")
    where.add_argument("--ws", metavar="URL", help=f"the WebSocket API (or ${WS_URL_ENV})")
    where.add_argument("--token", metavar="TOKEN", help=f"a bearer token (or ${TOKEN_ENV})")
    where.add_argument(
        "--stack-file",
        metavar="PATH",
        help=f"the local stack's stack.json (or ${STACK_FILE_ENV}; default .local/stack.json)",
    )
    connection.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout instead of text"
    )

    parser = argparse.ArgumentParser(
        prog="sketchbridge",
        description="Turn a sketch and a prompt into an image, and watch it render.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser(
        "generate",
        parents=[connection],
        help="turn a sketch into an image",
        description="Send a sketch and a prompt, show progress live, save the PNG.",
    )
    generate.add_argument("sketch", metavar="SKETCH", help="the sketch: a PNG, JPEG or WebP file")
    generate.add_argument("-p", "--prompt", required=True, help="what the image should show")
    generate.add_argument("--negative-prompt", metavar="TEXT", help="what it should not show")
    generate.add_argument(
        "--provider", default="auto", metavar="NAME", help="a provider name, or auto (default)"
    )
    knobs = generate.add_argument_group("generation parameters (default: the API's)")
    knobs.add_argument("--seed", type=int, metavar="N", help="for a reproducible image")
    knobs.add_argument("--steps", type=int, metavar="N", help="1 to 100")
    knobs.add_argument("--strength", type=float, metavar="X", help="0 to 1: how far from the lines")
    knobs.add_argument("--guidance-scale", type=float, metavar="X", help="0 to 30")
    knobs.add_argument(
        "--width",
        type=int,
        metavar="N",
        help="pixels; with one side given, the sketch's shape sets the other",
    )
    knobs.add_argument("--height", type=int, metavar="N", help="pixels")
    generate.add_argument(
        "-o", "--output", metavar="OUT.png", help="where to save (default: SKETCH-<job>.png here)"
    )
    generate.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="S",
        help=f"give up waiting after S seconds (default {DEFAULT_WAIT_SECONDS:g})",
    )
    generate.set_defaults(handler=run_generate)

    providers = commands.add_parser(
        "providers",
        parents=[connection],
        help="list the providers",
        description="List the image providers, their models and health.",
    )
    providers.set_defaults(handler=run_providers)

    preprocess = commands.add_parser(
        "preprocess",
        help="show what a provider would receive for a sketch",
        description="Run the preprocessing pipeline offline, write the image a provider "
        "would receive and print a JSON report (size, steps, palette, text, timings).",
    )
    preprocess.add_argument("sketch", metavar="IN", help="the sketch: a PNG, JPEG or WebP file")
    preprocess.add_argument(
        "--for",
        dest="target",
        default="local",
        metavar="PROVIDER",
        help="a provider or model (default: local); an unknown name lists the known ones",
    )
    preprocess.add_argument("--text", choices=["keep", "remove", "describe"], default="keep")
    preprocess.add_argument("--palette", action="store_true", help="report dominant colours")
    preprocess.add_argument("--crop", action="store_true", help="crop to the size, do not pad")
    preprocess.add_argument("-o", "--output", required=True, metavar="OUT.png")
    preprocess.set_defaults(handler=run_preprocess, json=True)

    standins = commands.add_parser(
        "standins",
        help="run the provider stand-ins alone (development checkouts only)",
        description="Start offline stand-ins for the Replicate, OpenAI and Bedrock APIs, print "
        "their URLs and the variables that point the adapters at them, and run until Ctrl-C. "
        "`make run STANDINS=1` starts them with the local stack instead.",
    )
    standins.add_argument(
        "--port-base",
        type=int,
        default=0,
        metavar="N",
        help="replicate on N, openai on N+1, bedrock on N+2 (default: any free ports)",
    )
    standins.add_argument(
        "--state-file", metavar="PATH", help="where to write their URLs (default .local/...)"
    )
    standins.set_defaults(handler=run_standins, json=False)

    from sketchbridge.cli_admin import add_admin_parser

    add_admin_parser(commands, connection)
    return parser


def run_preprocess(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
    cwd: Path,
) -> int:
    """Preprocess a sketch locally; no API, no network."""
    from sketchbridge.domain.errors import InvalidSketchError
    from sketchbridge.preprocessing.report import preprocess_file
    from sketchbridge.preprocessing.targets import spec_for, target_names

    try:
        spec = spec_for(args.target)
    except KeyError:
        raise UsageError(
            f"--for: no image spec for {args.target!r}",
            suggestions=[f"Choose one of: {', '.join(target_names())}."],
        ) from None
    try:
        report = preprocess_file(
            cwd / args.sketch,
            cwd / args.output,
            provider_spec=spec,
            text_mode=args.text,
            palette=args.palette,
            fit_mode="crop" if args.crop else "pad",
        )
    except InvalidSketchError as exc:
        raise CliError(exc.message, code=exc.code, suggestions=list(exc.suggestions)) from exc
    except OSError as exc:
        raise UsageError(f"{args.sketch}: {exc.strerror or exc}") from exc
    stdout.write(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


STANDINS_MODULE = "local.standins"


def standins_available() -> bool:
    """Whether the repository's ``local`` package is importable here (it is never shipped)."""
    import importlib.util

    try:
        return importlib.util.find_spec(STANDINS_MODULE) is not None
    except ModuleNotFoundError:  # no ``local`` package at all
        return False


def run_standins(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
    cwd: Path,
) -> int:
    """Run the stand-ins in this process until Ctrl-C or SIGTERM; they stop cleanly on either."""
    import importlib

    if not standins_available():
        raise UsageError(
            "The provider stand-ins are not installed here: they live in the repository's "
            "local/ package, which is for development and never shipped.",
            suggestions=[
                "Run this from a checkout of the repository after `make install`.",
                "Or start them with the local stack: `make run STANDINS=1`.",
            ],
        )
    # Imported by name, not statically: the shipped package must not depend on local/.
    entry_point = importlib.import_module(f"{STANDINS_MODULE}.__main__")
    argv = ["--port-base", str(args.port_base)]
    if args.state_file:
        argv += ["--state-file", str(cwd / args.state_file)]
    exit_code: int = entry_point.main(argv)
    return exit_code


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code, so it can run in-process."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has already printed help or the usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        exit_code: int = args.handler(
            args, stdout=out, stderr=err, environ=os.environ, cwd=Path.cwd()
        )
    except CliError as exc:
        report_error(exc, as_json=args.json, stdout=out, stderr=err)
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("Interrupted.\n")
        return EXIT_INTERRUPTED
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
