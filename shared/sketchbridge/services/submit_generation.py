"""Accept a generation: validate, store sketch and job, queue it; never wait on a provider."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sketchbridge.domain.errors import InternalError, SketchbridgeError
from sketchbridge.domain.fingerprint import fingerprint
from sketchbridge.domain.models import (
    MAX_SEED,
    ErrorInfo,
    GenerationRequest,
    JobMessage,
    JobRecord,
    JobResponse,
    JobStatus,
    ResolvedParams,
)
from sketchbridge.preprocessing.decode import decode_sketch, parse_data_url
from sketchbridge.preprocessing.fit import ProviderImageSpec, choose_output_size
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.targets import spec_for
from sketchbridge.providers.base import ImageProvider
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies


def submit_generation(
    request: GenerationRequest, *, user_id: str, deps: Dependencies
) -> JobResponse:
    provider = deps.providers.resolve(request.provider)
    decoded = decode_sketch(parse_data_url(request.sketch))
    caps = provider.capabilities
    width, height = choose_output_size(
        decoded.image.size,
        width=request.params.width,
        height=request.params.height,
        min_side=caps.min_side,
        max_side=caps.max_side,
        multiple=caps.size_multiple,
    )
    params = ResolvedParams(
        # A drawn seed is recorded, so every result can be reproduced on request.
        seed=request.params.seed
        if request.params.seed is not None
        else secrets.randbelow(MAX_SEED),
        steps=min(request.params.steps, caps.max_steps),
        strength=request.params.strength,
        guidance_scale=request.params.guidance_scale,
        width=width,
        height=height,
    )

    # The canonical preprocessed bytes are what the provider gets and what the
    # fingerprint hashes: the same drawing always yields the same bytes.
    options = request.preprocessing
    prepared = preprocess(
        decoded,
        target=_image_spec(provider),
        text_mode=options.text,
        palette=options.palette_hint,
        fit_mode=options.fit,
    )
    sketch_sha256 = hashlib.sha256(prepared.png).hexdigest()
    sketch_key = f"sketches/{sketch_sha256}.png"
    deps.objects.put(sketch_key, prepared.png, content_type="image/png")

    now = deps.clock()
    stamp = now.isoformat()
    record = JobRecord(
        id=uuid.uuid4().hex,
        user_id=user_id,
        status=JobStatus.QUEUED,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        prompt_hint=prepared.prompt_hint,
        provider_requested=request.provider,
        provider=provider.name,
        model=provider.model,
        params=params,
        sketch_key=sketch_key,
        fingerprint=fingerprint(
            sketch_sha256=sketch_sha256,
            request={
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt,
                "preprocessing": prepared.settings,
                "provider": provider.name,
                "model": provider.model,
                "params": params.model_dump(),
            },
        ),
        created_at=stamp,
        updated_at=stamp,
        expires_at=int((now + timedelta(days=deps.job_ttl_days)).timestamp()),
    )
    deps.jobs.create(record)
    try:
        deps.queue.send(JobMessage(job_id=record.id))
    except SketchbridgeError as exc:
        # Nothing is lost silently: the job says why it will never run.
        error = InternalError("The job could not be queued; please submit it again.")
        deps.jobs.fail(
            record.id,
            ErrorInfo(code=error.code, message=error.message, suggestions=list(error.suggestions)),
            updated_at=deps.clock().isoformat(),
        )
        raise error from exc
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def _image_spec(provider: ImageProvider) -> ProviderImageSpec:
    """The input image the provider takes: its listed spec, else one from its capabilities."""
    try:
        return spec_for(provider.name)
    except KeyError:
        caps = provider.capabilities
        return ProviderImageSpec(
            name=provider.name,
            control="sketch",
            multiple=caps.size_multiple,
            min_side=caps.min_side,
            max_side=caps.max_side,
        )
