"""The shapes that cross a boundary: API requests and responses, stored records, messages.

Naming follows STYLE.md: ``*Request``/``*Response`` at the API edge, ``*Record``
in storage, ``*Message`` on the queue and the WebSocket. A Record never leaves
through the API; services turn it into a Response.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

MAX_SEED = 2**32 - 1
MIN_SIDE = 64
MAX_SIDE = 2048
# POST /uploads names each upload with 32 hex digits; nothing else reaches an S3 key.
UPLOAD_ID_PATTERN = "^[0-9a-f]{32}$"

# Characters that show nothing: controls, format characters (zero-width space and joiners,
# bidi marks, the BOM), separators, unassigned and private code points, lone combining marks.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols drawn as blanks (Hangul fillers, the braille blank).
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _without_control_characters(text: str, name: str) -> str:
    """Text as sent, unless it holds control characters (NUL, escapes) other than line breaks
    and tabs: they mean nothing to a provider and rewrite what a terminal or log shows."""
    for character in text:
        if unicodedata.category(character) == "Cc" and character not in "\t\n\r":
            raise ValueError(f"the {name} contains the control character U+{ord(character):04X}")
    return text


def has_visible_text(text: str) -> bool:
    """Does ``text`` show anything, or is it only whitespace and invisible characters?"""
    return any(
        not character.isspace()
        and character not in _BLANK_CHARACTERS
        and unicodedata.category(character) not in _INVISIBLE_CATEGORIES
        for character in text
    )


def clean_prompt(prompt: str) -> str:
    """The prompt stripped, or a ValueError if it shows nothing or holds control characters."""
    stripped = prompt.strip()
    if not stripped:
        raise ValueError("the prompt is empty")
    if not has_visible_text(stripped):
        raise ValueError("the prompt has only invisible characters (zero-width, format)")
    return _without_control_characters(stripped, "prompt")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationParams(_Strict):
    """Provider-neutral knobs; each provider maps them to its own inputs.

    Unset (None) means the provider's own default; a value is held against the provider's
    range (``GET /providers``), never clamped. These bounds are only the widest any provider
    takes.
    """

    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    steps: int | None = Field(default=None, ge=1, le=100)
    strength: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    guidance_scale: float | None = Field(default=None, ge=0.0, le=30.0, allow_inf_nan=False)
    width: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)
    height: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)


class PreprocessingOptions(_Strict):
    """How the sketch is prepared before a provider sees it."""

    # keep: send labels as drawn; remove: erase them so models do not render
    # garbled glyphs; describe: erase them and add the words to the prompt.
    text: Literal["keep", "remove", "describe"] = "keep"
    # Add the sketch's dominant colours, by name, to the prompt.
    palette_hint: StrictBool = False
    # Fit to the provider's size by padding (keeps everything) or cropping.
    fit: Literal["pad", "crop"] = "pad"


class GenerationRequest(_Strict):
    """Body of ``POST /generations``."""

    # Exactly one of the two: a data URL rides in the body, which on AWS caps it near 4.4 MB
    # (a synchronous Lambda payload is 6 MB); a bigger sketch goes through POST /uploads.
    sketch: str | None = Field(
        default=None, description='The drawing as a data URL: "data:image/png;base64,..."'
    )
    sketch_upload_id: str | None = Field(
        default=None,
        pattern=UPLOAD_ID_PATTERN,
        # Checked even when left out: that is where a missing sketch is reported.
        validate_default=True,
        description="Instead of sketch: the upload_id POST /uploads answered, once uploaded.",
    )
    prompt: str = Field(min_length=1, max_length=2000)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    provider: str = Field(default="auto", min_length=1, max_length=64)
    params: GenerationParams = Field(default_factory=GenerationParams)
    preprocessing: PreprocessingOptions = Field(default_factory=PreprocessingOptions)
    # use: answer from the cache when the same request was made before;
    # refresh: generate again and replace the cached result; bypass: neither read nor write it.
    cache: Literal["use", "refresh", "bypass"] = "use"
    # Without a seed the same request reuses its cached result; ask for a new
    # variation to get a fresh seed (and a fresh image) instead.
    new_variation: StrictBool = False
    # How "auto" chooses: the cheapest, the fastest, or the cheapest within the limits.
    policy: Literal["cheapest", "fastest", "balanced"] = "balanced"
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_eta_s: float | None = Field(default=None, gt=0)
    # With an explicit provider: may another one take over if it fails?
    # Flags (here and above) take true or false only, as the OpenAPI document says: 0 or "no"
    # is a type error, not a guess at what the client meant.
    allow_failover: StrictBool = True
    # May a non-AI provider (the offline renderer) draw the picture as the failover chain's
    # last hop when every AI provider failed? The result then says offline_fallback.
    allow_offline_fallback: StrictBool = False
    # interactive: someone is waiting at the canvas; batch: work that may wait.
    priority: Literal["interactive", "batch"] = "interactive"
    # Several images of the same request at once, each with its own seed.
    variations: int = Field(default=1, ge=1, le=4)

    # A quote may leave the sketch out; a generation may not.
    _SKETCH_REQUIRED: ClassVar[bool] = True

    @field_validator("sketch_upload_id")
    @classmethod
    def _one_sketch(cls, upload_id: str | None, info: ValidationInfo) -> str | None:
        # sketch is declared first, so it is in info.data once it was valid.
        if "sketch" not in info.data:
            return upload_id
        if info.data["sketch"] is not None and upload_id is not None:
            raise ValueError("send either sketch or sketch_upload_id, not both")
        if cls._SKETCH_REQUIRED and info.data["sketch"] is None and upload_id is None:
            raise ValueError("a sketch is required: sketch (a data URL) or sketch_upload_id")
        return upload_id

    @field_validator("prompt")
    @classmethod
    def _prompt_has_words(cls, prompt: str) -> str:
        return clean_prompt(prompt)

    @field_validator("negative_prompt")
    @classmethod
    def _negative_prompt_is_text(cls, negative_prompt: str | None) -> str | None:
        if negative_prompt is None:
            return None
        return _without_control_characters(negative_prompt, "negative prompt")


class ResolvedParams(_Strict):
    """Parameters as the job will run them: seed drawn, size chosen."""

    seed: int
    steps: int
    strength: float
    guidance_scale: float
    width: int
    height: int


class ResultInfo(_Strict):
    url: str
    width: int
    height: int
    provider: str
    model: str
    seed: int | None = None
    content_type: str = "image/png"
    # False when the provider cannot honour a seed: the same request may differ.
    reproducible: bool = True


class ExcludedProvider(_Strict):
    """A provider ``auto`` left out of a request, and why."""

    provider: str
    reason: str


class QuoteInfo(_Strict):
    """What a provider was expected to cost and take when the job was accepted."""

    provider: str
    cost_usd: float
    eta_s: float
    eta_p90_s: float
    # The providers auto left out for this request (parameters out of range, not AI...).
    excluded: list[ExcludedProvider] = Field(default_factory=list)


class HopInfo(_Strict):
    """One provider tried for a job: what happened and how long it took."""

    provider: str
    outcome: str  # "ok", an error code, or why it was skipped without a call
    seconds: float
    message: str = ""


class ExternalCall(_Strict):
    """A provider-side job this job started, so a later delivery can follow it."""

    provider: str
    id: str


class BudgetLimitInfo(_Strict):
    """The budget a refused request did not fit (``budget_exceeded``)."""

    scope: str  # "app" or "user:<sub>"
    period: Literal["day", "month"]
    limit_usd: float
    spent_usd: float
    # Held by jobs still running; becomes spent (or is released) when they end.
    reserved_usd: float
    quote_usd: float
    # When the period ends and its spending starts again from zero (UTC, ISO 8601).
    resets_at: str


class ErrorInfo(_Strict):
    code: str
    message: str
    suggestions: list[str] = Field(default_factory=list)
    retryable: bool = False
    # invalid_params: per parameter refused, the provider and its range.
    details: dict[str, Any] | None = None
    # budget_exceeded: which budget, what it holds, and when it resets.
    budget: BudgetLimitInfo | None = None
    # rate_limited by a quota: the seconds the Retry-After header says too.
    retry_after_s: int | None = None
    # job_finished: the status the job ended with (a cancel that came too late).
    status: JobStatus | None = None


class WarningInfo(_Strict):
    """Something the user should know about an accepted job (it runs regardless)."""

    code: Literal["budget_soft_limit", "parameter_ignored"]
    message: str
    # budget_soft_limit: the budget crossed.
    scope: str | None = None
    period: Literal["day", "month"] | None = None
    limit_usd: float | None = None
    # parameter_ignored: the parameter set that the provider does not use.
    parameter: str | None = None
    provider: str | None = None


class JobResponse(_Strict):
    """A generation as its owner sees it (``GET /generations/{id}``, submit's 202)."""

    id: str
    status: JobStatus
    progress: float = Field(ge=0.0, le=1.0)
    prompt: str
    provider: str
    params: ResolvedParams
    created_at: str
    updated_at: str
    result: ResultInfo | None = None
    error: ErrorInfo | None = None
    # True when the result came from the cache: no provider was called for it.
    cached: bool = False
    # The quote the job was accepted with, and what it actually cost and took.
    quote: QuoteInfo | None = None
    cost_usd: float | None = None
    duration_s: float | None = None
    hops: list[HopInfo] = Field(default_factory=list)
    # Set when the request asked for variations: one group, a job per variation.
    group_id: str | None = None
    group_job_ids: list[str] = Field(default_factory=list)
    # The job's write sequence, as on WebSocket frames.
    seq: int = 0
    # Accepted, but worth knowing: e.g. it takes spending past a budget's soft limit.
    warnings: list[WarningInfo] = Field(default_factory=list)
    # The parameters as the provider runs (or ran) them, in its own names.
    params_native: dict[str, int | float] = Field(default_factory=dict)
    # The picture came from a non-AI provider the request did not name (the offline renderer).
    offline_fallback: bool = False
    # Lineage (POST /generations/{id}/refine): the job refined, the first of the chain (its
    # own id for an original) and how many refinements from it (0 for an original).
    parent_id: str | None = None
    root_id: str = Field(default="", validate_default=True)
    depth: int = 0

    @field_validator("root_id")
    @classmethod
    def _root_is_itself_by_default(cls, root_id: str, info: ValidationInfo) -> str:
        # An answer from before lineage existed names no root: the job is its own.
        return root_id or str(info.data.get("id", ""))


class JobRecord(BaseModel):
    """A job as stored in the jobs table."""

    model_config = ConfigDict(extra="ignore")

    id: str
    user_id: str
    status: JobStatus
    progress: float = 0.0
    prompt: str
    negative_prompt: str | None = None
    # Words the preprocessing found (palette, labels) that the provider's prompt gets.
    prompt_hint: str | None = None
    provider_requested: str
    provider: str | None = None
    model: str | None = None
    params: ResolvedParams
    sketch_key: str
    fingerprint: str
    result_key: str | None = None
    result_bytes: int | None = None
    error: ErrorInfo | None = None
    created_at: str
    updated_at: str
    expires_at: int
    attempts: int = 0
    lease_expires_at: int | None = None
    # Bumped by every state write; frames carry it so clients can drop stale ones.
    seq: int = 0
    cache_mode: Literal["use", "refresh", "bypass"] = "use"
    # Served from the cache; no provider call was made for this job.
    cached: bool = False
    # An identical job already in flight that this one follows instead of running.
    leader_job_id: str | None = None
    # Whether the provider honoured the seed (from its capabilities).
    reproducible: bool = True
    priority: Literal["interactive", "batch"] = "interactive"
    group_id: str | None = None
    external_call: ExternalCall | None = None
    # The providers to try, in order (the first is the pick), and the pick's quote.
    plan: list[str] = Field(default_factory=list)
    quote: QuoteInfo | None = None
    hops: list[HopInfo] = Field(default_factory=list)
    cost_usd: float | None = None
    duration_s: float | None = None
    warnings: list[WarningInfo] = Field(default_factory=list)
    # What the request set (None: the provider's default), so every hop resolves its own
    # defaults and re-checks its own ranges; None on a record written before it existed.
    requested_params: GenerationParams | None = None
    params_native: dict[str, int | float] = Field(default_factory=dict)
    allow_offline_fallback: bool = False
    offline_fallback: bool = False
    # Lineage of a refinement: the job refined, the chain's first job (None: this one) and
    # every ancestor, root first, so the chain is read in one batch (services/refine.py).
    parent_id: str | None = None
    root_id: str | None = None
    depth: int = 0
    ancestor_ids: list[str] = Field(default_factory=list)


class CacheRecord(BaseModel):
    """A finished result kept under its fingerprint, so the same request never pays twice."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str
    result_key: str
    provider: str
    model: str
    seed: int | None
    width: int
    height: int
    reproducible: bool
    bytes: int
    # What the picture cost to make: what a cache hit saves (ProviderCostSaved).
    cost_usd: float = 0.0
    created_at: str
    expires_at: int


class IdempotencyRecord(BaseModel):
    """What a submit with an ``Idempotency-Key`` created, so a retry gets the same answer."""

    model_config = ConfigDict(extra="ignore")

    request_hash: str
    # The first is the job the answer shows; all of them for variations (``group_job_ids``).
    job_ids: list[str] = Field(min_length=1)
    group_id: str | None = None
    # Epoch seconds: a record whose first job never appeared may be taken over after a while.
    stored_at: int


class JobMessage(_Strict):
    """What the submit function puts on the queue: only the id; the record holds the rest."""

    job_id: str


# "canceled": the last frame of a job its owner canceled (``status`` "canceled").
EventType = Literal["status", "progress", "result", "error", "canceled"]


class JobEventMessage(BaseModel):
    """One WebSocket frame about a job. Carries URLs, never image bytes (frames cap at 32 KB)."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    job_id: str
    # The job's write sequence this frame reflects: frames can arrive out of
    # order, so a client ignores one whose seq is not above the last it applied.
    seq: int
    status: JobStatus
    progress: float
    message: str | None = None
    step: int | None = None
    total_steps: int | None = None
    # A short-lived URL of a partial image, for providers that stream them.
    preview_url: str | None = None
    result: ResultInfo | None = None
    error: ErrorInfo | None = None
    # On a job sent back to its queue (the provider down, rate-limited, failover not allowed):
    # seconds until it is tried again; ``message`` says why.
    retry_in_s: int | None = None
    # The job's warnings (a soft budget limit crossed), on every frame of a job that has any.
    warnings: list[WarningInfo] | None = None


class UploadRequest(_Strict):
    """Body of ``POST /uploads``: what the sketch to upload is."""

    content_type: Literal["image/png", "image/jpeg", "image/webp"] = Field(
        description="The sketch's type; the upload must send the same Content-Type."
    )


class UploadResponse(_Strict):
    """``POST /uploads``: a presigned S3 POST form for one sketch, then its id for a job.

    POST ``url`` as multipart/form-data with every one of ``fields`` and the sketch last, as
    ``file``; then send ``sketch_upload_id`` in ``POST /generations``.
    """

    upload_id: str = Field(description="What POST /generations takes as sketch_upload_id.")
    url: str = Field(description="Where to POST the form.")
    fields: dict[str, str] = Field(description="Form fields to send as they are, before file.")
    content_type: str
    max_bytes: int = Field(description="The largest sketch the form accepts.")
    expires_in: int = Field(description="Seconds the form stays valid.")
    expires_at: str = Field(description="When it stops being valid (ISO 8601, UTC).")


class WsTicketResponse(_Strict):
    """``POST /ws-tickets``: what opens one WebSocket (``?ticket=``), once, within a minute."""

    ticket: str = Field(description="Single use: send as ?ticket=<ticket> on the WebSocket URL.")
    expires_in: int = Field(description="Seconds the ticket stays valid.")
    expires_at: str = Field(description="When it stops being valid (ISO 8601, UTC).")


class SubscribeMessage(_Strict):
    """What a client sends over the WebSocket to follow a job."""

    action: Literal["subscribe"]
    id: str = Field(min_length=1, max_length=128)


class ProviderCapabilitiesResponse(_Strict):
    image_input: bool
    seed: bool
    negative_prompt: bool
    min_side: int
    max_side: int
    size_multiple: int
    max_steps: int
    progress: Literal["steps", "partial_images", "none"]


Health = Literal["healthy", "degraded", "down"]
PolicyName = Literal["cheapest", "fastest", "balanced"]


class ParameterRangeResponse(_Strict):
    """The values a parameter may take on a provider: ``min``..``max`` (whole numbers when
    ``integer``, in steps of ``multiple``), its ``default`` there (None: the sketch decides,
    or a seed is drawn), and the name the provider's own API gives it."""

    min: int | float
    max: int | float
    multiple: int = 1
    default: int | float | None = None
    native_name: str | None = None
    integer: bool = True


class ProviderParametersResponse(_Strict):
    """Every generic parameter on one provider; None: the provider ignores it."""

    width: ParameterRangeResponse
    height: ParameterRangeResponse
    steps: ParameterRangeResponse | None
    strength: ParameterRangeResponse | None = None
    guidance_scale: ParameterRangeResponse | None = None
    seed: ParameterRangeResponse | None = None


class ProviderQuoteResponse(_Strict):
    """What the default request (this size and steps, no seed) costs and takes right now."""

    width: int
    height: int
    steps: int
    cost_usd: float
    eta_s: float
    eta_p90_s: float


class ProviderLatencyResponse(_Strict):
    """The provider's real calls over the last ``window_s``; None: no picture in the window."""

    p50_s: float | None
    p90_s: float | None
    error_rate: float
    samples: int
    window_s: float


class ProviderResponse(_Strict):
    name: str
    description: str
    is_ai: bool
    model: str
    status: Health
    reason: str
    capabilities: ProviderCapabilitiesResponse
    parameters: ProviderParametersResponse
    # The generic parameters it does not use (a value sent for one is accepted with a warning).
    ignored: list[str] = Field(default_factory=list)
    # The price model as configured (domain/pricing.py's price_model_to_dict).
    price: dict[str, Any]
    quote: ProviderQuoteResponse
    latency: ProviderLatencyResponse
    # When the configured model stops answering, if known; "flagged" within 30 days of it.
    retires_on: date | None = None
    retirement: Literal["ok", "flagged", "retired"] = "ok"


class ProvidersResponse(_Strict):
    providers: list[ProviderResponse]
    # What "auto" falls back to when no provider fits a request.
    default: str
    # What "auto" picks for the default request under the balanced policy.
    auto: str
    policy: PolicyName = "balanced"


class EstimateRequest(GenerationRequest):
    """Body of ``POST /estimates``: a generation request whose sketch may be left out.

    Without a sketch the picture is ``params.width`` x ``params.height`` (a missing side as
    long as the other), or 1024x1024.
    """

    _SKETCH_REQUIRED: ClassVar[bool] = False
    # A quote needs the sketch's size, never its lines: the data URL or nothing.
    sketch_upload_id: None = Field(
        default=None, description="Not taken by a quote: send the sketch as a data URL, or none."
    )


class EstimateResponse(_Strict):
    """One provider's quote for a request, and why it cannot take it when it cannot."""

    provider: str
    eligible: bool
    reasons: list[str]
    cost_usd: float
    eta_s: float
    eta_p90_s: float
    health: Health


class EstimatesResponse(_Strict):
    estimates: list[EstimateResponse]
    # What "auto" would pick under the request's policy and limits; None when nothing fits.
    auto: str | None
    policy: PolicyName
    width: int
    height: int
    # The steps asked for; None: each provider's default.
    steps: int | None
    # The providers auto left out, and why (parameters out of range, not AI...).
    excluded: list[ExcludedProvider] = Field(default_factory=list)


class ErrorResponse(_Strict):
    error: ErrorInfo


# ---------------------------------------------------------------- refine, history, preferences


class RefineRequest(_Strict):
    """Body of ``POST /generations/{id}/refine``: every field optional.

    Left out, a field keeps the refined job's value (prompt, negative prompt, provider, each
    parameter); ``policy``, the limits and ``cache`` come from the user's preferences or the
    defaults, as for ``POST /generations``. ``from``: refine the job's result (default) or
    start again from its original sketch.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True
    )

    prompt: str | None = Field(default=None, min_length=1, max_length=2000)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    # Only the parameters sent replace the refined job's (``"seed": null`` draws a new one).
    params: GenerationParams | None = None
    provider: str | None = Field(default=None, min_length=1, max_length=64)
    policy: Literal["cheapest", "fastest", "balanced"] | None = None
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_eta_s: float | None = Field(default=None, gt=0)
    from_: Literal["result", "sketch"] = Field(default="result", alias="from")
    cache: Literal["use", "refresh", "bypass"] | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_has_words(cls, prompt: str | None) -> str | None:
        return None if prompt is None else clean_prompt(prompt)

    @field_validator("negative_prompt")
    @classmethod
    def _negative_prompt_is_text(cls, negative_prompt: str | None) -> str | None:
        if negative_prompt is None:
            return None
        return _without_control_characters(negative_prompt, "negative prompt")


class LineageResponse(_Strict):
    """``GET /generations/{id}/lineage``: the chain of refinements, root first, this job last."""

    items: list[JobResponse]


class JobListResponse(_Strict):
    """``GET /generations``: your generations, newest first, a page at a time."""

    items: list[JobResponse]
    # Send as ?cursor= for the next page; None on the last page.
    next_cursor: str | None = None


class PreferencesRequest(_Strict):
    """``PUT /preferences``: only the fields given change; ``null`` puts one back to its default.

    The same names and validation as ``POST /generations``; ``params`` and ``preprocessing``
    change only the values they name.
    """

    provider: str | None = Field(default=None, min_length=1, max_length=64)
    policy: Literal["cheapest", "fastest", "balanced"] | None = None
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_eta_s: float | None = Field(default=None, gt=0)
    params: GenerationParams | None = None
    preprocessing: PreprocessingOptions | None = None


class PreferencesResponse(_Strict):
    """``GET /preferences``: what a generation that leaves these fields out gets."""

    provider: str = "auto"
    policy: Literal["cheapest", "fastest", "balanced"] = "balanced"
    max_cost_usd: float | None = None
    max_eta_s: float | None = None
    params: GenerationParams = Field(default_factory=GenerationParams)
    preprocessing: PreprocessingOptions = Field(default_factory=PreprocessingOptions)
    # When they were last saved; None: nothing saved, these are the defaults.
    updated_at: str | None = None


class PreferencesRecord(BaseModel):
    """A user's saved preferences: only the fields they chose (``params`` and
    ``preprocessing`` as the values they named), keyed by their ``sub``."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    provider: str | None = None
    policy: Literal["cheapest", "fastest", "balanced"] | None = None
    max_cost_usd: float | None = None
    max_eta_s: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    preprocessing: dict[str, Any] = Field(default_factory=dict)
    updated_at: str


# ---------------------------------------------------------------- admin API (/admin/*)


def _finite_and_not_negative(value: Any, where: str) -> None:
    """Refuse NaN, infinities and negative amounts anywhere in a JSON-like value."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"{where} must be a finite number of at least 0, not {number!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _finite_and_not_negative(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite_and_not_negative(item, f"{where}[{index}]")


class RateLimitSettings(_Strict):
    """A token bucket: bursts of ``capacity`` calls, ``refill_per_s`` calls a second after."""

    capacity: float = Field(ge=1, le=1_000_000, allow_inf_nan=False)
    refill_per_s: float = Field(gt=0, le=1_000_000, allow_inf_nan=False)


class ProviderSettingsRequest(_Strict):
    """``PUT /admin/providers/{name}``: only the settings given change; ``null`` puts one
    back to its default."""

    enabled: bool | None = Field(default=None, strict=True)
    # Share of load among near-equal providers; 0 = only as a fallback.
    weight: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    # The model to call instead of the deployment's configured one.
    model: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^\S+$")
    # A price model in the shape GET shows (domain/pricing.py's price_model_to_dict).
    price: dict[str, Any] | None = None
    rate_limit: RateLimitSettings | None = None

    @field_validator("price")
    @classmethod
    def _price_amounts(cls, price: dict[str, Any] | None) -> dict[str, Any] | None:
        if price is not None:
            _finite_and_not_negative(price, "price")
        return price


class ProviderSettingsResponse(_Strict):
    name: str
    # In ENABLED_PROVIDERS: this deployment can call it at all.
    deployed: bool
    # What jobs use now: the defaults with the admin's changes laid over them.
    settings: dict[str, Any]
    # Only what an admin changed (and what PUT with null takes back).
    override: dict[str, Any]
    model: str | None
    status: Health | None = None  # None when not deployed
    reason: str = ""


class BreakerResponse(_Strict):
    status: Literal["closed", "open", "half_open"]
    consecutive_failures: int
    opened_at: float | None = None
    open_until: float | None = None


class ProviderHealthResponse(_Strict):
    name: str
    enabled: bool
    status: Health
    reason: str
    breaker: BreakerResponse
    error_rate: float
    samples: int
    p50_s: float | None = None
    p90_s: float | None = None
    retires_on: date | None = None
    retirement: Literal["ok", "flagged", "retired"] = "ok"


class QueueBacklogResponse(_Strict):
    name: str
    visible: int | None = None
    in_flight: int | None = None
    delayed: int | None = None
    # Why the depth could not be read (the rest of the answer still stands).
    error: str | None = None


class AdminHealthResponse(_Strict):
    checked_at: datetime
    providers: list[ProviderHealthResponse]
    queues: list[QueueBacklogResponse]


# ---------------------------------------------------------------- budgets and quotas (admin)


class BudgetRequest(_Strict):
    """Body of ``PUT /admin/budgets/{scope}``: one period's limits in USD (None: no such limit)."""

    period: Literal["day", "month"]
    soft_usd: float | None = None
    hard_usd: float | None = None


class BudgetResponse(_Strict):
    """One period of one scope: its limits, what it spent and holds reserved, when it resets."""

    period: Literal["day", "month"]
    soft_usd: float | None
    hard_usd: float | None
    spent_usd: float
    reserved_usd: float
    resets_at: str
    # admin: an override in the budgets table; default: the deployment's configuration.
    source: Literal["admin", "default"]


class BudgetsResponse(_Strict):
    scope: str  # "app" or "user:<sub>"
    budgets: list[BudgetResponse]


class QuotaRequest(_Strict):
    """Body of ``PUT /admin/quotas/{sub}`` (None: the deployment's default)."""

    requests_per_minute: int | None = None
    jobs_in_flight: int | None = None


class QuotaResponse(_Strict):
    sub: str
    # None: unlimited.
    requests_per_minute: int | None
    jobs_in_flight: int | None
    # Jobs of this user now queued or running (holding a reservation).
    in_flight: int
    source: Literal["admin", "default"]


UsageGroupBy = Literal["provider", "day", "month", "user"]


class UsageGroup(_Strict):
    """One provider's, day's, month's (``2026-12``) or user's share of the usage."""

    key: str
    cost_usd: float
    images: int
    cache_hits: int
    saved_usd: float


class UsageResponse(_Strict):
    """``GET /usage``: what was spent from ``from`` to ``to`` (UTC days, both included).

    ``total_cost_usd`` is what the providers billed (the sum of the jobs' ``cost_usd``);
    ``images`` the pictures delivered, ``cache_hits`` of them from the cache, which saved
    ``saved_usd``; ``reserved_usd`` is held now by jobs still running (their quotes).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True
    )

    from_: date = Field(alias="from")
    to: date
    group_by: UsageGroupBy
    total_cost_usd: float
    images: int
    cache_hits: int
    saved_usd: float
    reserved_usd: float
    groups: list[UsageGroup]
