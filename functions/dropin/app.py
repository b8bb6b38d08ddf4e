"""The drop-in routes: OpenAI's Images API under /openai/v1 and Replicate's predictions API
under /replicate/v1, both over the same jobs as POST /generations, opened by an API key.

The key was checked by the HTTP API's Lambda authorizer (functions/key_authorizer), which
hands its owner over as ``requestContext.authorizer.lambda.user_id``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api import openai_compat, replicate_compat
from sketchbridge.api.http import json_body, json_response, path_id
from sketchbridge.api.multipart import read_form
from sketchbridge.bootstrap import api_keys, dependencies, image_fetcher, webhook_queue
from sketchbridge.domain import clock
from sketchbridge.domain.errors import (
    InvalidParamsError,
    InvalidSketchError,
    JobFinishedError,
    JobStillRunningError,
    NotFoundError,
    SketchbridgeError,
    UnauthorizedError,
)
from sketchbridge.domain.models import JobResponse
from sketchbridge.services import dropin_jobs, webhooks
from sketchbridge.services.api_keys import owned_key
from sketchbridge.services.cancel_job import cancel_generation
from sketchbridge.services.get_generation import get_generation

logger = Logger()
app = APIGatewayHttpResolver()

_OPENAI = "/openai/"


def _answer_error(error: SketchbridgeError) -> Response[str]:
    if app.current_event.path.startswith(_OPENAI):
        return openai_compat.error_response(error)
    return replicate_compat.error_response(error)


@app.exception_handler(SketchbridgeError)  # type: ignore[untyped-decorator]
def _domain_error(error: SketchbridgeError) -> Response[str]:
    return _answer_error(error)


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    return _answer_error(NotFoundError("There is no such route."))


def _caller() -> tuple[str, str]:
    """(user id, key id) the authorizer verified."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    user_id, key_id = context.get("user_id"), context.get("key_id")
    if not user_id or not key_id:
        raise UnauthorizedError("The request carries no verified API key.")
    return str(user_id), str(key_id)


def _host() -> str:
    return str(
        app.current_event.headers.get("host") or app.current_event.request_context.domain_name
    )


def _base_url() -> str:
    host = _host()
    default = "http" if host.startswith(("127.0.0.1", "localhost", "[::1]")) else "https"
    scheme = app.current_event.headers.get("x-forwarded-proto") or default
    return f"{scheme}://{host}"


# -- OpenAI -----------------------------------------------------------------------------------


@app.post("/openai/v1/images/edits")
def openai_image_edits() -> Any:
    options, image = openai_compat.edit_request(read_form(app.current_event.raw_event))
    return _openai_answer(options, openai_compat.as_data_url(image), kind="image_edit")


@app.post("/openai/v1/images/generations")
def openai_image_generations() -> Any:
    options = openai_compat.images_request(json_body(app.current_event.raw_event))
    if options.image is None:
        raise InvalidSketchError(
            "Sketchbridge draws from a sketch: send it as image (a data URL), e.g. with the "
            "SDK's extra_body={'image': 'data:image/png;base64,...'}, or use images.edit.",
            details={"field": "image"},
        )
    return _openai_answer(options, options.image, kind="image_generation")


def _openai_answer(
    options: openai_compat.ImagesRequest, sketch: str, *, kind: Any
) -> Response[str]:
    user_id, _ = _caller()
    deps = dependencies()
    request = openai_compat.generation_request(options, sketch)
    jobs = dropin_jobs.submit(request, user_id=user_id, deps=deps)
    jobs = dropin_jobs.wait_for(jobs, user_id=user_id, deps=deps, wait_s=dropin_jobs.MAX_WAIT_S)
    logger.info("openai images answered", extra={"job_ids": [job.id for job in jobs]})
    for job in jobs:
        failure = dropin_jobs.job_failure(job)
        if failure is not None:
            raise failure
    running = [job.id for job in jobs if not job.status.is_final]
    if running:
        raise JobStillRunningError(
            f"The picture is still being made (generation {', '.join(running)}); "
            "GET /generations/{id} follows it."
        )
    created = int(clock.epoch_seconds())
    size = f"{jobs[0].params.width}x{jobs[0].params.height}"
    if options.stream:
        partials = (
            [dropin_jobs.sketch_bytes(jobs[0].id, user_id=user_id, deps=deps)]
            if options.partial_images
            else []
        )
        final = dropin_jobs.result_bytes(jobs[0].id, user_id=user_id, deps=deps)
        return openai_compat.sse_response(
            openai_compat.stream_events(
                kind=kind, created=created, size=size, partials=partials, final=final
            )
        )
    images: list[bytes | str] = [
        _result_url(job)
        if options.response_format == "url"
        else dropin_jobs.result_bytes(job.id, user_id=user_id, deps=deps)
        for job in jobs
    ]
    return openai_compat.json_answer(
        openai_compat.images_response(created=created, images=images, size=size)
    )


def _result_url(job: JobResponse) -> str:
    return job.result.url if job.result is not None else ""


# -- Replicate --------------------------------------------------------------------------------


@app.post("/replicate/v1/predictions")
def replicate_create_prediction() -> Any:
    request = replicate_compat.parse_request(json_body(app.current_event.raw_event))
    model = request.model or request.version
    if model is None:
        raise InvalidParamsError(
            "A prediction names its model: version or model, e.g. sketchbridge/auto.",
            details={"field": "version"},
        )
    return _create_prediction(model, request)


@app.post("/replicate/v1/models/<owner>/<name>/predictions")
def replicate_create_model_prediction(owner: str, name: str) -> Any:
    request = replicate_compat.parse_request(json_body(app.current_event.raw_event))
    return _create_prediction(f"{owner}/{name}", request)


def _create_prediction(model: str, request: replicate_compat.PredictionRequest) -> Response[str]:
    provider = replicate_compat.provider_of(model)
    given = replicate_compat.parse_input(request.input)
    user_id, key_id = _caller()
    deps = dependencies()
    queue = webhook_queue()
    if request.webhook is not None and queue is None:
        raise InvalidParamsError(
            "This deployment delivers no webhooks.", details={"field": "webhook"}
        )
    upload_id = replicate_compat.uploaded_file_id(given.image, host=_host())
    sketch: str | None = None
    if upload_id is None:
        sketch = given.image
        if not given.image.startswith("data:"):
            sketch = openai_compat.as_data_url(image_fetcher().fetch(given.image))
    generation = replicate_compat.generation_request(
        provider, given, sketch=sketch, upload_id=upload_id
    )
    job = dropin_jobs.submit(generation, user_id=user_id, deps=deps)[0]
    model_name = f"{replicate_compat.MODEL_OWNER}/{provider}"
    if request.webhook is not None and queue is not None:
        webhooks.register(
            job,
            url=request.webhook,
            events=request.webhook_events_filter,
            key_id=key_id,
            user_id=user_id,
            model=model_name,
            base_url=_base_url(),
            deps=deps,
            store=api_keys(),
            queue=queue,
        )
    wait = replicate_compat.wait_seconds(app.current_event.headers.get("prefer"))
    if wait is not None:
        job = dropin_jobs.wait_for([job], user_id=user_id, deps=deps, wait_s=wait)[0]
    logger.info("replicate prediction created", extra={"job_id": job.id})
    answer = replicate_compat.prediction(
        job,
        model=model_name,
        given_input=_echo(request.input),
        base_url=_base_url(),
        waited_out=wait is not None,
    )
    headers = {"Preference-Applied": "wait"} if wait is not None else None
    return _prediction_answer(answer, status=201 if job.status.is_final else 202, headers=headers)


def _prediction_answer(
    answer: replicate_compat.PredictionResponse,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status, content_type="application/json", body=answer.body(), headers=headers
    )


def _echo(given: dict[str, Any]) -> dict[str, Any]:
    """The input as sent, a data URI shortened: an answer need not carry the sketch back."""
    return {
        name: value[:64] + "…"
        if isinstance(value, str) and value.startswith("data:") and len(value) > 64
        else value
        for name, value in given.items()
    }


@app.get("/replicate/v1/predictions/<prediction_id>")
def replicate_get_prediction(prediction_id: str) -> Any:
    user_id, _ = _caller()
    deps = dependencies()
    job = get_generation(path_id(prediction_id), user_id=user_id, deps=deps)
    provider = dropin_jobs.requested_provider(job.id, user_id=user_id, deps=deps)
    return _prediction_answer(
        replicate_compat.prediction(
            job,
            model=f"{replicate_compat.MODEL_OWNER}/{provider}",
            given_input={"prompt": job.prompt},
            base_url=_base_url(),
        )
    )


@app.post("/replicate/v1/predictions/<prediction_id>/cancel")
def replicate_cancel_prediction(prediction_id: str) -> Any:
    user_id, _ = _caller()
    deps = dependencies()
    job_id = path_id(prediction_id)
    try:
        job = cancel_generation(job_id, user_id=user_id, deps=deps)
    except JobFinishedError:
        # Replicate answers a cancel of a finished prediction with the prediction as it is.
        job = get_generation(job_id, user_id=user_id, deps=deps)
    logger.info("replicate prediction cancel", extra={"job_id": job.id, "status": job.status})
    provider = dropin_jobs.requested_provider(job.id, user_id=user_id, deps=deps)
    return _prediction_answer(
        replicate_compat.prediction(
            job,
            model=f"{replicate_compat.MODEL_OWNER}/{provider}",
            given_input={"prompt": job.prompt},
            base_url=_base_url(),
        )
    )


@app.post("/replicate/v1/files")
def replicate_upload_file() -> Any:
    user_id, _ = _caller()
    form = read_form(app.current_event.raw_event)
    files = form.files("content")
    if not files:
        raise InvalidSketchError(
            "The file goes in the form field content.", details={"field": "content"}
        )
    upload = files[0]
    content_type = upload.content_type or "application/octet-stream"
    file_id = dropin_jobs.store_file(
        upload.data, content_type=content_type, user_id=user_id, deps=dependencies()
    )
    now = clock.utc_now()
    return json_response(
        replicate_compat.file_response(
            file_id,
            name=upload.filename or "file",
            content_type=content_type,
            data=upload.data,
            created_at=now,
            base_url=_base_url(),
        ),
        status=201,
    )


@app.get("/replicate/v1/webhooks/default/secret")
def replicate_webhook_secret() -> Any:
    user_id, key_id = _caller()
    record = owned_key(key_id, user_id=user_id, keys=api_keys())
    return json_response(replicate_compat.WebhookSecretResponse(key=record.webhook_secret))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
