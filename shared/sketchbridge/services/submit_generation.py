"""Accept a generation: validate, store sketch and job, queue it; never wait on a provider.

Never pay twice: the same request answers from the cache at once; an
identical request already in flight is followed instead of run again; a
retried submit with the same ``Idempotency-Key`` returns the same job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sketchbridge.domain import metric_catalog as metrics
from sketchbridge.domain.errors import (
    IdempotencyConflictError,
    IdempotencyInProgressError,
    InternalError,
    NotFoundError,
    SketchbridgeError,
)
from sketchbridge.domain.fingerprint import fingerprint
from sketchbridge.domain.models import (
    MAX_SEED,
    CacheRecord,
    ErrorInfo,
    ExcludedProvider,
    GenerationRequest,
    IdempotencyRecord,
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
from sketchbridge.preprocessing.pipeline import PreprocessedSketch, preprocess
from sketchbridge.preprocessing.targets import spec_for
from sketchbridge.providers.base import ImageProvider
from sketchbridge.services.cancel_job import run_without_leader
from sketchbridge.services.cost_tracking import record_cache_hit, record_joined
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.job_views import job_response
from sketchbridge.services.parameter_checks import refuse_unfit_parameters, resolve_on
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.preferences import with_preferences
from sketchbridge.services.provider_manager import Plan, ProviderManager
from sketchbridge.services.reservations import (
    admit_request,
    release_reservation,
    reserve_quotes,
)
from sketchbridge.services.uploads import read_upload

IDEMPOTENCY_HOURS = 24
# How long a retried submit waits for the first one, with the same key, to store its job.
IDEMPOTENT_WAIT_S = 2.0
# A submit lives at most the function's timeout (28 s); a key whose first job has not
# appeared by then belongs to a submit that died, and the next request with it takes it over.
IDEMPOTENT_ABANDONED_AFTER_S = 60


@dataclass(frozen=True)
class Lineage:
    """Where a refinement comes from (services/refine.py): recorded on its job."""

    parent_id: str
    root_id: str
    depth: int
    ancestor_ids: tuple[str, ...]

    def fields(self) -> dict[str, object]:
        return {
            "parent_id": self.parent_id,
            "root_id": self.root_id,
            "depth": self.depth,
            "ancestor_ids": list(self.ancestor_ids),
        }


@dataclass(frozen=True)
class _Draft:
    """A validated request before any I/O: the canonical sketch and what it asks for."""

    prepared: PreprocessedSketch
    sketch_sha256: str
    width: int
    height: int
    model: str | None  # the named provider's model; None for "auto"
    reproducible: bool


def submit_generation(
    request: GenerationRequest,
    *,
    user_id: str,
    deps: Dependencies,
    idempotency_key: str | None = None,
    lineage: Lineage | None = None,
) -> JobResponse:
    """Queue a generation (or N variations of it), or answer from the cache.

    A cached answer comes back already succeeded (``cached``), so the caller
    can tell a 200 from a 202 by the job's status. With variations, the first
    job is returned with the ids of the whole group.

    Before anything is stored or queued, the user's quotas are checked and every
    job that needs a provider has its quote reserved against the budgets
    (services/reservations.py): a request that does not fit leaves nothing behind.

    The user's preferences fill what the request leaves out; ``lineage`` marks a refinement.
    """
    request = with_preferences(request, user_id=user_id, deps=deps)
    # Validate first: a key is only remembered for a request that can become a job.
    draft = _draft(request, deps, user_id=user_id)
    admit_request(deps, user_id=user_id)
    job_ids = [uuid.uuid4().hex for _ in range(request.variations)]
    group_id = uuid.uuid4().hex if request.variations > 1 else None
    if not idempotency_key:
        return _submit_all(
            request, draft, job_ids, group_id, user_id=user_id, deps=deps, lineage=lineage
        )
    key_id = idempotency_key_id(user_id, idempotency_key)
    earlier = _earlier_submit(request, user_id, key_id, job_ids, group_id, deps)
    if earlier is not None:
        return earlier
    try:
        return _submit_all(
            request, draft, job_ids, group_id, user_id=user_id, deps=deps, lineage=lineage
        )
    except BaseException:
        # A submit that failed (refused by a budget or quota, or broken) has no answer to
        # replay: the key is free for the retry. If even that fails, the key is taken over
        # once IDEMPOTENT_ABANDONED_AFTER_S passed.
        with contextlib.suppress(SketchbridgeError):
            deps.idempotency.forget(key_id, job_id=job_ids[0])
        raise


def _submit_all(
    request: GenerationRequest,
    draft: _Draft,
    job_ids: list[str],
    group_id: str | None,
    *,
    user_id: str,
    deps: Dependencies,
    lineage: Lineage | None = None,
) -> JobResponse:
    """Reserve every job's quote at once, then store and queue them (or answer from cache)."""
    jobs = [
        _prepare(
            request,
            draft,
            job_id=job_id,
            seed=_seed(request, index),
            user_id=user_id,
            group_id=group_id,
            deps=deps,
            lineage=lineage,
        )
        for index, job_id in enumerate(job_ids)
    ]
    to_run = [record for record, cached in jobs if cached is None]
    warnings = reserve_quotes(
        deps,
        user_id=user_id,
        quotes={record.id: record.quote.cost_usd for record in to_run if record.quote},
    )
    responses = []
    for index, (record, cached) in enumerate(jobs):
        if cached is not None:
            responses.append(_answer_from_cache(record, cached, deps))
            continue
        try:
            responses.append(
                _launch(
                    record.model_copy(update={"warnings": [*record.warnings, *warnings]}),
                    draft,
                    user_id=user_id,
                    deps=deps,
                )
            )
        except BaseException:
            # This job, and those not launched yet, will never run: give their quotes back.
            for unlaunched, unlaunched_cached in jobs[index:]:
                if unlaunched_cached is None:
                    release_reservation(deps, unlaunched.id)
            raise
    return _with_group(responses[0], job_ids, group_id)


def _with_group(first: JobResponse, job_ids: list[str], group_id: str | None) -> JobResponse:
    """The answer for a group of variations: its first job, with the ids of all."""
    if group_id is None:
        return first
    return first.model_copy(update={"group_id": group_id, "group_job_ids": list(job_ids)})


def _seed(request: GenerationRequest, index: int) -> tuple[int, bool]:
    """The seed of variation ``index`` and whether the cache key includes it.

    Without a seed, a single request is "any image of this": its cached result
    serves again unless a new variation is asked for. Variations are distinct
    images by definition, so each is keyed by its own seed.
    """
    if request.params.seed is not None:
        return (request.params.seed + index) % (MAX_SEED + 1), True
    drawn = secrets.randbelow(MAX_SEED)
    return drawn, request.new_variation or request.variations > 1


def _sketch_bytes(request: GenerationRequest, *, user_id: str, deps: Dependencies) -> bytes:
    """The sketch as sent: from the data URL, or the caller's own upload (the model holds
    that exactly one of the two is there)."""
    if request.sketch_upload_id is not None:
        return read_upload(request.sketch_upload_id, user_id=user_id, deps=deps)
    return parse_data_url(request.sketch or "")


def _draft(request: GenerationRequest, deps: Dependencies, *, user_id: str) -> _Draft:
    """Validate and preprocess. A named provider's model (the one an admin chose, if any:
    one read of the overrides) is part of the fingerprint, so a switch of model is never
    answered with a picture the earlier model drew."""
    manager = ProviderManager(deps)
    provider = (
        None
        if request.provider == "auto"
        else manager.provider(deps.providers.resolve(request.provider).name)
    )
    # Out of the provider's range: refused here, before anything is stored, never clamped.
    refuse_unfit_parameters(request, manager)
    decoded = decode_sketch(_sketch_bytes(request, user_id=user_id, deps=deps))
    caps = provider.capabilities if provider else None
    width, height = choose_output_size(
        decoded.image.size,
        width=request.params.width,
        height=request.params.height,
        min_side=caps.min_side if caps else 64,
        max_side=caps.max_side if caps else 2048,
        multiple=caps.size_multiple if caps else 8,
    )
    options = request.preprocessing
    # The canonical preprocessed bytes are what the provider gets and what the
    # fingerprint hashes: the same drawing always yields the same bytes.
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
    return _Draft(
        prepared=prepared,
        sketch_sha256=hashlib.sha256(prepared.png).hexdigest(),
        width=width,
        height=height,
        model=provider.model if provider else None,
        reproducible=caps.seed if caps else True,
    )


def _prepare(
    request: GenerationRequest,
    draft: _Draft,
    *,
    job_id: str,
    seed: tuple[int, bool],
    user_id: str,
    group_id: str | None,
    deps: Dependencies,
    lineage: Lineage | None = None,
) -> tuple[JobRecord, CacheRecord | None]:
    """The job's record and its cached result, if it may use one; else its plan and quote.

    Reads only: nothing is stored until the job's quote is reserved.
    """
    drawn_seed, seed_in_key = seed
    manager = ProviderManager(deps)
    # Until a provider is picked, the values the named one would run with.
    before_plan = (
        resolve_on(
            manager, deps.providers.resolve(request.provider).name, request.params, seed=drawn_seed
        )
        if request.provider != "auto"
        else None
    )
    params = ResolvedParams(
        # A drawn seed is recorded, so every result can be reproduced on request.
        seed=before_plan.seed if before_plan else drawn_seed,
        steps=before_plan.steps if before_plan else request.params.steps or 20,
        strength=before_plan.strength if before_plan else _or(request.params.strength, 0.75),
        guidance_scale=before_plan.guidance_scale
        if before_plan
        else _or(request.params.guidance_scale, 7.5),
        width=draft.width,
        height=draft.height,
    )
    # What the request set (None: the provider's default) goes into the fingerprint: "auto"
    # with defaults is one request whichever provider answers it.
    keyed_params = {
        **request.params.model_dump(include={"steps", "strength", "guidance_scale"}),
        "width": draft.width,
        "height": draft.height,
        "seed": params.seed if seed_in_key else None,
    }
    now = deps.clock()
    stamp = now.isoformat()
    record = JobRecord(
        id=job_id,
        user_id=user_id,
        status=JobStatus.QUEUED,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        prompt_hint=draft.prepared.prompt_hint,
        provider_requested=request.provider,
        provider=request.provider if request.provider != "auto" else None,
        model=draft.model,
        params=params,
        sketch_key=f"sketches/{draft.sketch_sha256}.png",
        fingerprint=fingerprint(
            sketch_sha256=draft.sketch_sha256,
            request={
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt,
                "preprocessing": draft.prepared.settings,
                # "auto" is one request whichever provider answers it; a named
                # provider is its own request, down to the model.
                "provider": request.provider,
                "model": draft.model,
                "params": keyed_params,
            },
        ),
        created_at=stamp,
        updated_at=stamp,
        expires_at=int((now + timedelta(days=deps.job_ttl_days)).timestamp()),
        cache_mode=request.cache,
        reproducible=draft.reproducible,
        priority=request.priority,
        group_id=group_id,
        requested_params=request.params,
        allow_offline_fallback=request.allow_offline_fallback,
        params_native=before_plan.native if before_plan else {},
        warnings=before_plan.warnings if before_plan else [],
    )
    if lineage is not None:
        record = record.model_copy(update=lineage.fields())

    if record.cache_mode == "use":
        cached = deps.cache.get(record.fingerprint)
        if cached is not None:
            return record, cached
        deps.metrics.add(metrics.CACHE_MISSED, 1)

    # A miss: the job gets its plan and quote.
    plan = _plan(request, (draft.width, draft.height), job_id=job_id, deps=deps, manager=manager)
    if plan.parameter_refusal is not None:
        raise plan.parameter_refusal
    chosen = deps.providers.resolve(plan.order[0])
    # The values the pick runs with, its defaults filled in, in its own names.
    on_chosen = resolve_on(manager, chosen.name, request.params, seed=params.seed)
    record = record.model_copy(
        update={
            "provider": chosen.name,
            "model": plan.models.get(chosen.name, chosen.model),
            "reproducible": chosen.capabilities.seed,
            "plan": list(plan.order),
            "params": params.model_copy(
                update={
                    "steps": on_chosen.steps,
                    "strength": on_chosen.strength,
                    "guidance_scale": on_chosen.guidance_scale,
                    "seed": on_chosen.seed,
                }
            ),
            "params_native": on_chosen.native,
            "warnings": on_chosen.warnings,
            "quote": QuoteInfo(
                provider=plan.chosen.provider,
                cost_usd=plan.chosen.cost_usd,
                eta_s=plan.chosen.eta_s,
                eta_p90_s=plan.chosen.eta_p90_s,
                excluded=[
                    ExcludedProvider(provider=name, reason=reason) for name, reason in plan.excluded
                ],
            ),
        }
    )
    return record, None


def _or(value: float | None, fallback: float) -> float:
    return fallback if value is None else value


def _launch(
    record: JobRecord,
    draft: _Draft,
    *,
    user_id: str,
    deps: Dependencies,
) -> JobResponse:
    """Store and queue a job whose quote is reserved (or follow an identical one in flight)."""
    # The sketch is stored (content-addressed: one object per drawing).
    deps.objects.put(record.sketch_key, draft.prepared.png, content_type="image/png")
    if record.cache_mode != "bypass":
        leader = deps.cache.lead_or_follow(
            record.fingerprint,
            record.id,
            now=int(deps.clock().timestamp()),
            lease_s=deps.job_lease_seconds * deps.max_receive_count,
        )
        if leader is not None:
            # One provider call for both: this job takes the leader's outcome, and the
            # leader's reservation covers it.
            release_reservation(deps, record.id)
            follower = record.model_copy(update={"leader_job_id": leader})
            deps.jobs.create(follower)
            deps.metrics.add(metrics.IN_FLIGHT_JOINED, 1)
            # The leader may have ended between our joining its flight and storing
            # this record, handing its outcome to nobody: take it now (both writes
            # are conditional, so doing it twice changes nothing).
            ended = deps.jobs.get(leader)
            stamp_now = deps.clock().isoformat()
            if ended is not None and ended.status is JobStatus.SUCCEEDED:
                adopted = deps.jobs.adopt_result(follower.id, ended, updated_at=stamp_now)
                if adopted is not None:
                    record_joined(
                        adopted,
                        leader_job_id=ended.id,
                        provider=ended.provider or ended.provider_requested,
                        model=ended.model or "",
                        deps=deps,
                    )
            elif ended is not None and ended.status is JobStatus.CANCELED:
                # Canceled as we joined: the work is this job's own (services/cancel_job.py).
                run_without_leader(follower.id, canceled_leader=ended, deps=deps)
            elif ended is not None and ended.status.is_final and ended.error is not None:
                deps.jobs.fail(follower.id, ended.error, updated_at=stamp_now)
            return get_generation(follower.id, user_id=user_id, deps=deps)
        if record.cache_mode == "use":
            # An identical job may have finished between our cache miss and taking
            # the lead: it caches its result before it ends its flight, so a second
            # look now cannot miss it.
            cached = deps.cache.get(record.fingerprint)
            if cached is not None:
                deps.cache.finish_flight(record.fingerprint, record.id)
                release_reservation(deps, record.id)
                return _answer_from_cache(record.model_copy(update={"warnings": []}), cached, deps)

    deps.jobs.create(record)
    try:
        deps.queue.send(JobMessage(job_id=record.id), priority=record.priority)
    except SketchbridgeError as exc:
        # Nothing is lost silently: the job says why it will never run.
        error = InternalError("The job could not be queued; please submit it again.")
        deps.jobs.fail(
            record.id,
            ErrorInfo(code=error.code, message=error.message, suggestions=list(error.suggestions)),
            updated_at=deps.clock().isoformat(),
        )
        raise error from exc
    deps.metrics.add(metrics.JOB_QUEUED, 1)
    return job_response(record, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def _plan(
    request: GenerationRequest,
    sketch_size: tuple[int, int],
    *,
    job_id: str,
    deps: Dependencies,
    manager: ProviderManager | None = None,
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
    return (manager or ProviderManager(deps)).plan(
        RequestNeeds(seed=request.params.seed is not None, width=width, height=height),
        requested=request.provider,
        policy=request.policy,
        steps=request.params.steps,
        params=request.params,
        allow_failover=request.allow_failover,
        allow_offline_fallback=request.allow_offline_fallback,
        max_cost_usd=request.max_cost_usd,
        max_eta_s=request.max_eta_s,
        now=deps.clock().timestamp(),
        # Spreads near-equal providers by weight, the same way for the same job.
        seed=int(job_id[:8], 16),
    )


def _answer_from_cache(record: JobRecord, cached: CacheRecord, deps: Dependencies) -> JobResponse:
    """The job, finished at once with the cached picture; it cost nothing, so says the ledger.

    Both ways here (a hit at first look, and one found after taking the lead) count alike:
    the hit, what it saved (ProviderCostSaved) and the bytes it served.
    """
    finished = record.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "cached": True,
            # Nothing was billed for this job (the ledger's entry says what it saved).
            "cost_usd": 0.0,
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
    # The entry first: a hit whose job is stored is always in the ledger.
    record_cache_hit(finished, cached, deps)
    deps.jobs.create(finished)
    return job_response(finished, deps.objects, url_ttl=deps.result_url_ttl_seconds)


def idempotency_key_id(user_id: str, key: str) -> str:
    """Where a user's key is stored: a hash of both, encoded so no pair can pass for another.

    Joining them with a delimiter let user ``u`` with key ``x#k`` and user ``u#x`` with
    key ``k`` share one record; a JSON array keeps each part whole.
    """
    pair = json.dumps([user_id, key], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(pair.encode()).hexdigest()


def _earlier_submit(
    request: GenerationRequest,
    user_id: str,
    key_id: str,
    job_ids: list[str],
    group_id: str | None,
    deps: Dependencies,
) -> JobResponse | None:
    """The answer an earlier submit with this key gave, or None if this one is the first."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    mine = IdempotencyRecord(
        request_hash=hashlib.sha256(body.encode()).hexdigest(),
        job_ids=job_ids,
        group_id=group_id,
        stored_at=int(deps.epoch_seconds()),
    )
    expires_at = int((deps.clock() + timedelta(hours=IDEMPOTENCY_HOURS)).timestamp())
    known = deps.idempotency.remember(key_id, mine, expires_at=expires_at)
    if known is None:
        return None
    if known.request_hash != mine.request_hash:
        raise IdempotencyConflictError(
            "This Idempotency-Key was already used for a different request."
        )
    # The first submit may still be storing its job: wait for it briefly.
    deadline = time.monotonic() + IDEMPOTENT_WAIT_S
    while True:
        try:
            first = get_generation(known.job_ids[0], user_id=user_id, deps=deps)
        except NotFoundError:
            pass
        else:
            return _with_group(first, known.job_ids, known.group_id)
        # A submit that died before storing its job (a timed-out Lambda) never forgets its
        # key: after the longest a submit can live, the key is ours to use.
        abandoned = deps.epoch_seconds() - known.stored_at > IDEMPOTENT_ABANDONED_AFTER_S
        if abandoned and deps.idempotency.take_over(
            key_id, mine, stale_job_id=known.job_ids[0], expires_at=expires_at
        ):
            return None
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
        # The first submit failed and forgot the key meanwhile: this one is the first now.
        if deps.idempotency.remember(key_id, mine, expires_at=expires_at) is None:
            return None
    raise IdempotencyInProgressError(
        "The first request with this Idempotency-Key is still being stored; "
        "retry with the same key in a moment."
    )


def _image_spec(provider: ImageProvider | None) -> ProviderImageSpec:
    """The input image the provider takes: its listed spec, else one from its capabilities.

    For "auto" the provider is not known yet: a generic sketch at 1024 px that
    every provider's adapter fits to its own sizes.
    """
    if provider is None:
        return spec_for("auto")
    # A provider whose models want different inputs (Replicate's catalog) names the target.
    target = getattr(provider, "image_target", None)
    try:
        return spec_for(target if isinstance(target, str) else provider.name)
    except KeyError:
        caps = provider.capabilities
        return ProviderImageSpec(
            name=provider.name,
            control="sketch",
            multiple=caps.size_multiple,
            min_side=caps.min_side,
            max_side=caps.max_side,
        )
