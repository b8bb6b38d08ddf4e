"""POST /generations: accept a sketch and a prompt, queue the job, answer 202 at once;
POST /generations/{id}/cancel: stop it; POST /uploads: a presigned form for a sketch too big
to travel in the JSON body; and what changes a user's jobs or settings: refine, delete,
PUT/DELETE /preferences."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import (
    create_resolver,
    idempotency_key,
    json_response,
    parse_body,
    path_id,
    user_id,
)
from sketchbridge.bootstrap import dependencies, metrics
from sketchbridge.domain.models import (
    GenerationRequest,
    PreferencesRequest,
    RefineRequest,
    UploadRequest,
)
from sketchbridge.services.cancel_job import cancel_generation
from sketchbridge.services.history import delete_generation
from sketchbridge.services.preferences import reset_preferences, save_preferences
from sketchbridge.services.refine import refine_generation
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.uploads import create_upload

logger = Logger()
app = create_resolver()


@app.post("/generations")
def post_generation() -> Any:
    request = parse_body(app, GenerationRequest)
    job = submit_generation(
        request,
        user_id=user_id(app),
        deps=dependencies(),
        idempotency_key=idempotency_key(app),
    )
    logger.info(
        "generation accepted",
        extra={"job_id": job.id, "provider": job.provider, "cached": job.cached},
    )
    # A finished job (a cache hit) is answered at once; anything else is on its way.
    return json_response(job, status=200 if job.status.is_final else 202)


@app.post("/generations/<job_id>/cancel")
def post_cancel(job_id: str) -> Any:
    job = cancel_generation(path_id(job_id), user_id=user_id(app), deps=dependencies())
    logger.info("generation canceled", extra={"job_id": job.id})
    return json_response(job)


@app.post("/generations/<job_id>/refine")
def post_refine(job_id: str) -> Any:
    job_id = path_id(job_id)
    # Every field is optional: no body at all refines the picture as it was asked for.
    change = parse_body(app, RefineRequest) if app.current_event.body else RefineRequest()
    job = refine_generation(
        job_id,
        change,
        user_id=user_id(app),
        deps=dependencies(),
        idempotency_key=idempotency_key(app),
    )
    logger.info("refinement accepted", extra={"job_id": job.id, "parent_id": job.parent_id})
    return json_response(job, status=200 if job.status.is_final else 202)


@app.delete("/generations/<job_id>")
def delete_one_generation(job_id: str) -> Any:
    delete_generation(path_id(job_id), user_id=user_id(app), deps=dependencies())
    return Response(status_code=204, body="")


@app.put("/preferences")
def put_preferences() -> Any:
    return json_response(
        save_preferences(
            parse_body(app, PreferencesRequest), user_id=user_id(app), deps=dependencies()
        )
    )


@app.delete("/preferences")
def delete_preferences() -> Any:
    return json_response(reset_preferences(user_id=user_id(app), deps=dependencies()))


@app.post("/uploads")
def post_upload() -> Any:
    upload = create_upload(
        parse_body(app, UploadRequest), user_id=user_id(app), deps=dependencies()
    )
    return json_response(upload, status=201)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
