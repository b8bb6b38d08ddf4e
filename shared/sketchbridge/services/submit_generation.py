"""Accept a generation: validate, store sketch and job, queue it; never wait on a provider.

Never pay twice: the same request answers from the cache at once; an
identical request already in flight is followed instead of run again; a
retried submit with the same ``Idempotency-Key`` returns the same job.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from datetime import timedelta

from sketchbridge.domain.errors import (
    IdempotencyConflictError,
    InternalError,
    NotFoundError,
    SketchbridgeError,
)
from sketchbridge.domain.fingerprint import fingerprint
from sketchbridge.domain.models import (
    MAX_SEED,
    CacheRecord,
    ErrorInfo,
    GenerationRequest,
    JobMessage,
    JobRecord,
    JobResponse,
    JobStatus,
    QuoteInfo,
    ResolvedParams,
)
from sketchbridge.domain.selection import RequestNeeds
from sketchbridge.preprocessing.decode import decode_sketch, parse_data_url
from sketchbridge.preprocessing.fit import ProviderImageSpec, choose_output_size
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.targets import spec_for
from sketchbridge.providers.base import ImageProvider
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.job_views import job_response
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import Plan, ProviderManager

IDEMPOTENCY_HOURS = 24
# How long a retried submit waits for the first one, with the same key, to store its job.
IDEMPOTENT_WAIT_S = 2.0


def submit_generation(
    request: GenerationRequest,
    *,
    user_id: str,
    deps: Dependencies,
    idempotency_key: str | None = None,
) -> JobResponse:
    """Queue a generation, or answer from the cache; the job as its owner sees it.

    A cached answer comes back already succeeded (``cached``), so the caller
    can tell a 200 from a 202 by the job's status.
    """
    # Validate first: a key is only remembered for a request that can become a job.
    record = _new_job(request, job_id=uuid.uuid4().hex, user_id=user_id, deps=deps)
    if idempotency_key:
        earlier = _earlier_submit(request, user_id, idempotency_key, record.id, deps)
        if earlier is not None:
            return earlier

    if record.cache_mode == "use":
        cached = deps.cache.get(record.fingerprint)
        if cached is not None:
            deps.metrics.add("CacheHit", 1)
            deps.metrics.add("ProviderCostSaved", cached.cost_usd, "None")
            deps.metrics.add("CachedBytesServed", cached.bytes, "Bytes")
            return _answer_from_cache(record, cached, deps)
        deps.metrics.add("CacheMissed", 1)
    if record.cache_mode != "bypass":
        leader = deps.cache.lead_or_follow(
            record.fingerprint,
            record.id,
            now=int(deps.clock().timestamp()),
            lease_s=deps.job_lease_seconds * deps.max_receive_count,
        )
        if leader is not None:
            # One provider call for both: this job takes the leader's outcome.
            follower = record.model_copy(update={"leader_job_id": leader})
            deps.jobs.create(follower)
            deps.metrics.add("InFlightJoined", 1)
            return get_generation(follower.id, user_id=user_id, deps=deps)

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
    deps.metrics.add("JobQueued", 1)
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def _new_job(
    request: GenerationRequest, *, job_id: str, user_id: str, deps: Dependencies
) -> JobRecord:
    """Validate the request and build its job: sketch stored, plan quoted, fingerprinted."""
    if request.provider != "auto":
        deps.providers.resolve(request.provider)  # an unknown name fails before any work
    decoded = decode_sketch(parse_data_url(request.sketch))
    plan = _plan(request, decoded.image.size, job_id=job_id, deps=deps)
    provider = deps.providers.resolve(plan.order[0])
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
        # Reading words is for describe; removing them is faster and more precise
        # with the heuristic (docs/preprocessing.md has the figures).
        text_detector=deps.text_detector if options.text == "describe" else None,
    )
    sketch_sha256 = hashlib.sha256(prepared.png).hexdigest()
    sketch_key = f"sketches/{sketch_sha256}.png"
    deps.objects.put(sketch_key, prepared.png, content_type="image/png")

    # Without a seed the request is "any image of this": its cached result
    # serves again, unless a new variation is asked for (then the drawn seed counts).
    seed_for_cache = (
        request.params.seed
        if request.params.seed is not None or not request.new_variation
        else params.seed
    )
    now = deps.clock()
    stamp = now.isoformat()
    return JobRecord(
        id=job_id,
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
                # "auto" is one request whichever provider answers it; a named
                # provider is its own request, down to the model.
                "provider": request.provider,
                "model": provider.model if request.provider != "auto" else None,
                "params": {**params.model_dump(), "seed": seed_for_cache},
            },
        ),
        created_at=stamp,
        updated_at=stamp,
        expires_at=int((now + timedelta(days=deps.job_ttl_days)).timestamp()),
        cache_mode=request.cache,
        reproducible=caps.seed,
        plan=list(plan.order),
        quote=QuoteInfo(
            provider=plan.chosen.provider,
            cost_usd=plan.chosen.cost_usd,
            eta_s=plan.chosen.eta_s,
            eta_p90_s=plan.chosen.eta_p90_s,
        ),
    )


def _plan(
    request: GenerationRequest, sketch_size: tuple[int, int], *, job_id: str, deps: Dependencies
) -> Plan:
    """The providers to try, in order, with the quote of the first."""
    width, height = choose_output_size(
        sketch_size,
        width=request.params.width,
        height=request.params.height,
        min_side=64,
        max_side=2048,
        multiple=8,
    )
    return ProviderManager(deps).plan(
        RequestNeeds(seed=request.params.seed is not None, width=width, height=height),
        requested=request.provider,
        policy=request.policy,
        steps=request.params.steps,
        allow_failover=request.allow_failover,
        max_cost_usd=request.max_cost_usd,
        max_eta_s=request.max_eta_s,
        now=deps.clock().timestamp(),
        # Spreads near-equal providers by weight, the same way for the same job.
        seed=int(job_id[:8], 16),
    )


def _answer_from_cache(record: JobRecord, cached: CacheRecord, deps: Dependencies) -> JobResponse:
    finished = record.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "cached": True,
            "provider": cached.provider,
            "model": cached.model,
            "result_key": cached.result_key,
            "reproducible": cached.reproducible,
            "params": record.params.model_copy(
                update={
                    "seed": cached.seed if cached.seed is not None else record.params.seed,
                    "width": cached.width,
                    "height": cached.height,
                }
            ),
        }
    )
    deps.jobs.create(finished)
    deps.cache.record_hit(cached.fingerprint)
    return job_response(finished, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def _earlier_submit(
    request: GenerationRequest,
    user_id: str,
    key: str,
    job_id: str,
    deps: Dependencies,
) -> JobResponse | None:
    """The job an earlier submit with this key created, or None if this one is the first."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    request_hash = hashlib.sha256(body.encode()).hexdigest()
    expires_at = int((deps.clock() + timedelta(hours=IDEMPOTENCY_HOURS)).timestamp())
    known = deps.idempotency.remember(
        user_id, key, request_hash=request_hash, job_id=job_id, expires_at=expires_at
    )
    if known is None:
        return None
    known_hash, known_job_id = known
    if known_hash != request_hash:
        raise IdempotencyConflictError(
            "This Idempotency-Key was already used for a different request."
        )
    # The first submit may still be storing its job: wait for it briefly.
    deadline = time.monotonic() + IDEMPOTENT_WAIT_S
    while True:
        try:
            return get_generation(known_job_id, user_id=user_id, deps=deps)
        except NotFoundError:
            if time.monotonic() > deadline:
                raise InternalError(
                    "The first request with this Idempotency-Key did not finish; "
                    "retry with the same key in a moment."
                ) from None
            time.sleep(0.05)


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
