"""The ``bedrock`` provider: Stability AI's Control Sketch model on Amazon Bedrock, via boto3.

One ``InvokeModel`` call per image, signed with the AWS credentials of wherever this runs (the
processor's IAM role on AWS); there is no API key. Bedrock sends nothing until the picture is
done, so progress is one event when the call starts and one when it ends.

Configuration, read by ``BedrockConfig.from_env``:

    BEDROCK_MODEL_ID            default ``stability.stable-image-control-sketch-v1:0``
    BEDROCK_REGION              default ``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then us-west-2
    BEDROCK_MAX_ATTEMPTS        attempts per image, first included (botocore "standard"), 3
    BEDROCK_CONNECT_TIMEOUT_S   seconds to open a connection, 3
    BEDROCK_MIN_READ_TIMEOUT_S  fewer attempts rather than giving one less than this to draw, 30

The endpoint is boto3's own choice: ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (then
``AWS_ENDPOINT_URL``) when set, which is how the local stand-in is reached, else the region's.
The health probe (``probe``) asks the control plane instead, at ``AWS_ENDPOINT_URL_BEDROCK``.

How the unified parameters map (the request body is Stability's, per the Bedrock user guide):

- ``strength`` (0 keep the drawing .. 1 reimagine it) runs the opposite way to the model's
  ``control_strength`` (how firmly the sketch holds the result), and below about 0.6 the
  sketch barely guides the model at all; so ``control_strength = 1 - 0.4 * strength``: the
  default strength 0.75 gives the model's own default 0.7.
- ``seed`` is honoured (0 lets the model draw one; the answer reports which).
- ``negative_prompt`` is sent as is; ``steps`` and ``guidance_scale`` have no counterpart.
- ``width``/``height``: the model has no size or aspect-ratio field; its output takes the
  input image's size. The sketch is therefore fitted (padded) to the requested size, widened
  where needed into the model's 1:2.5..2.5:1 range, and the returned image's real size is
  reported.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, UnidentifiedImageError

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import (
    AuthFailedError,
    ContentPolicyError,
    InvalidRequestError,
    JobCanceledError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    SketchbridgeError,
)
from sketchbridge.domain.parameters import ParameterRange, ParameterRanges
from sketchbridge.preprocessing.decode import encode_png
from sketchbridge.preprocessing.fit import (
    ProviderImageSpec,
    encode_within_budget,
    fit_for_provider,
)
from sketchbridge.providers.base import (
    DEFAULT_PROBE_TIMEOUT_S,
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)

PROVIDER_NAME = "bedrock"
MAX_MODEL_SEED = 4_294_967_294
MAX_ASPECT = 2.5
# Stability caps a request at 10 MiB; base64 grows the image by a third.
MAX_IMAGE_BYTES = 7 * 1024 * 1024
# Below this control_strength the sketch no longer shapes the picture (see the docstring).
_WEAKEST_CONTROL = 0.6

BEDROCK_CAPABILITIES = ProviderCapabilities(
    image_input=True,
    seed=True,
    negative_prompt=True,
    min_side=64,
    max_side=2048,
    size_multiple=1,
    # One call, no step control: a request for more steps cannot buy anything here.
    max_steps=1,
    progress="none",
    # What request_body sends: control_strength (from strength, see the docstring) and the
    # seed; the model takes no steps and no guidance (cfg) on Bedrock.
    parameters=ParameterRanges(
        strength=ParameterRange(
            0.0, 1.0, 0.75, "control_strength", to_native=lambda s: control_strength_for(s)
        ),
        seed=ParameterRange(0, MAX_MODEL_SEED, 0, "seed", integer=True),
    ),
)


@dataclass(frozen=True)
class BedrockConfig:
    model_id: str = "stability.stable-image-control-sketch-v1:0"
    region: str = "us-west-2"
    max_attempts: int = 3
    connect_timeout_s: float = 3.0
    min_read_timeout_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BedrockConfig:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            model_id=env.get("BEDROCK_MODEL_ID") or defaults.model_id,
            region=(
                env.get("BEDROCK_REGION")
                or env.get("AWS_REGION")
                or env.get("AWS_DEFAULT_REGION")
                or defaults.region
            ),
            max_attempts=int(env.get("BEDROCK_MAX_ATTEMPTS") or defaults.max_attempts),
            connect_timeout_s=float(
                env.get("BEDROCK_CONNECT_TIMEOUT_S") or defaults.connect_timeout_s
            ),
            min_read_timeout_s=float(
                env.get("BEDROCK_MIN_READ_TIMEOUT_S") or defaults.min_read_timeout_s
            ),
        )


@dataclass(frozen=True)
class CallPlan:
    """botocore's timeouts and attempts for one call, chosen so that all of them fit its budget."""

    connect_timeout_s: float
    read_timeout_s: float
    max_attempts: int


def plan_call(timeout_s: float, config: BedrockConfig) -> CallPlan:
    """Split ``timeout_s`` into attempts: each may connect, wait and back off, all in budget.

    botocore retries throttling, 5xx and timeouts itself, but knows no overall deadline; so
    the read timeout is the budget shared between attempts, and attempts are dropped rather
    than give one less than ``min_read_timeout_s`` to draw.
    """
    connect = min(config.connect_timeout_s, timeout_s / 4)
    for attempts in range(max(1, config.max_attempts), 0, -1):
        read = (timeout_s - attempts * connect - _worst_backoff_s(attempts)) / attempts
        if read >= config.min_read_timeout_s or attempts == 1:
            # Rounded down to tenths: equal budgets share one client.
            return CallPlan(connect, max(0.1, math.floor(read * 10) / 10), attempts)
    raise AssertionError("unreachable: one attempt always fits")


def _worst_backoff_s(attempts: int) -> float:
    # botocore standard mode: up to min(2**i, 20) s before retry i+1, plus up to 5 s more
    # when Bedrock asks for it with x-amz-retry-after.
    return float(sum(min(2**i, 20) + 5 for i in range(attempts - 1)))


def control_strength_for(strength: float) -> float:
    """The model's ``control_strength`` for a unified ``strength`` (opposite directions)."""
    return round(1.0 - (1.0 - _WEAKEST_CONTROL) * min(max(strength, 0.0), 1.0), 3)


def request_body(request: ProviderRequest) -> dict[str, Any]:
    """The JSON body Stability's Control Sketch model takes on Bedrock."""
    spec = ProviderImageSpec(
        name="Amazon Bedrock",
        control="sketch",
        multiple=1,
        min_side=BEDROCK_CAPABILITIES.min_side,
        max_side=BEDROCK_CAPABILITIES.max_side,
        long_side=max(request.width, request.height),
        max_aspect=MAX_ASPECT,
        max_bytes=MAX_IMAGE_BYTES,
    )
    fitted = fit_for_provider(request.sketch, spec, requested=(request.width, request.height))
    image_bytes, _ = encode_within_budget(fitted.image, spec)
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "image": base64.b64encode(image_bytes).decode("ascii"),
        "control_strength": control_strength_for(request.strength),
        "seed": min(request.seed, MAX_MODEL_SEED),
        "output_format": "png",
    }
    if request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    return body


class BedrockProvider:
    name = PROVIDER_NAME
    is_ai = True
    description = (
        "Stability AI's Control Sketch model on Amazon Bedrock: turns the drawing into a "
        "finished picture that keeps its shapes. Honours the seed and the negative prompt."
    )
    capabilities = BEDROCK_CAPABILITIES

    def __init__(self, config: BedrockConfig | None = None) -> None:
        self.config = config or BedrockConfig.from_env()
        self._clients: dict[CallPlan, Any] = {}
        self._control_clients: dict[float, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.config.model_id

    def with_model(self, model: str) -> BedrockProvider:
        """This adapter invoking another model id in the same region."""
        return BedrockProvider(replace(self.config, model_id=model))

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        body = json.dumps(request_body(request)).encode("utf-8")
        # Said before the call: InvokeModel sends nothing until the picture, so this line
        # is not a sign of life (the first-byte deadline waits for the answer itself).
        on_progress(
            ProgressUpdate(
                step=0, total_steps=1, message="Drawing on Amazon Bedrock…", from_provider=False
            )
        )
        # One blocking InvokeModel, which Bedrock offers no way to cancel: a cancel is heard
        # before it starts (nothing billed) or once it answered (the picture was delivered,
        # and Bedrock bills per image delivered: that image is billed).
        if request.should_stop is not None and request.should_stop():
            raise JobCanceledError("Canceled before Amazon Bedrock started drawing.")
        payload, request_id = self._invoke(body, plan_call(request.timeout_s, self.config))
        image_png, width, height, seed = _picture_from(payload)
        # Bedrock bills Stability's models per image delivered; InvokeModel reports no
        # other measure (the answer's JSON has images, seeds and finish_reasons only).
        usage = ProviderUsage(
            provider=PROVIDER_NAME,
            model=self.model,
            images=1,
            width=width,
            height=height,
            external_id=request_id,
        )
        if request.should_stop is not None and request.should_stop():
            raise JobCanceledError("Canceled while Amazon Bedrock was drawing.", usage=usage)
        on_progress(ProgressUpdate(step=1, total_steps=1, message="Picture ready."))
        return ProviderResult(
            image_png=image_png,
            width=width,
            height=height,
            model=self.model,
            seed=seed,
            usage=usage,
        )

    def probe(self, *, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        """Look the model up on Bedrock's control plane (``GetFoundationModel``), since
        bedrock-runtime has no call that draws nothing. It shows that Bedrock answers, that
        the credentials sign and that the model exists in the region; not that the account
        was granted access to it, which only a real InvokeModel tells."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._control_client(timeout_s).get_foundation_model(
                modelIdentifier=self.config.model_id
            )
        except (BotoCoreError, ClientError) as exc:
            raise bedrock_error(exc) from exc

    def _control_client(self, timeout_s: float) -> Any:
        with self._clients_lock:
            client = self._control_clients.get(timeout_s)
            if client is None:
                client = _new_control_client(self.config, timeout_s)
                self._control_clients[timeout_s] = client
            return client

    def _invoke(self, body: bytes, plan: CallPlan) -> tuple[Any, str | None]:
        """(the model's JSON answer, Bedrock's request id)."""
        # Imported here, not at the top: botocore is only loaded once Bedrock is used.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client(plan).invoke_model(
                modelId=self.config.model_id,
                body=body,
                contentType="application/json",
                accept="application/json",
            )
            raw = response["body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise bedrock_error(exc) from exc
        request_id = response.get("ResponseMetadata", {}).get("RequestId")
        try:
            return json.loads(raw), str(request_id) if request_id else None
        except ValueError as exc:  # not JSON, or not UTF-8
            raise _error("UnreadableAnswer", "") from exc

    def _client(self, plan: CallPlan) -> Any:
        with self._clients_lock:
            client = self._clients.get(plan)
            if client is None:
                client = _new_client(self.config.region, plan)
                self._clients[plan] = client
            return client


def _new_client(region: str, plan: CallPlan) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=plan.connect_timeout_s,
        read_timeout=plan.read_timeout_s,
        # total_max_attempts counts the first try; the dict's "max_attempts" would count
        # only the retries (botocore adds one), which is not what the budget assumes.
        retries={"mode": "standard", "total_max_attempts": plan.max_attempts},
        user_agent_extra="sketchbridge",
    )
    return boto3.session.Session(region_name=region).client("bedrock-runtime", config=config)


def _new_control_client(config: BedrockConfig, timeout_s: float) -> Any:
    """The control-plane client (``bedrock``), found like the runtime one: its endpoint is
    boto3's choice (``AWS_ENDPOINT_URL_BEDROCK`` locally). One attempt within ``timeout_s``."""
    import boto3
    from botocore.config import Config

    client_config = Config(
        connect_timeout=min(config.connect_timeout_s, timeout_s),
        read_timeout=timeout_s,
        retries={"mode": "standard", "total_max_attempts": 1},
        user_agent_extra="sketchbridge",
    )
    return boto3.session.Session(region_name=config.region).client("bedrock", config=client_config)


def _picture_from(payload: Any) -> tuple[bytes, int, int, int | None]:
    """(PNG, width, height, seed) from the model's answer, or the error its finish reason means."""
    if not isinstance(payload, dict):
        raise _error("UnreadableAnswer", "")
    reasons = payload.get("finish_reasons")
    reason = reasons[0] if isinstance(reasons, list) and reasons else None
    if reason is not None:
        raise _error(str(reason), str(reason))
    images = payload.get("images") or [None]
    try:
        raw = base64.b64decode(images[0], validate=True)
        picture = Image.open(io.BytesIO(raw))
        picture.load()
    except (
        IndexError,
        KeyError,
        TypeError,
        binascii.Error,
        UnidentifiedImageError,
        OSError,
    ) as exc:
        raise _error("UnreadableAnswer", "") from exc
    # PNG was asked for; anything else is converted rather than refused.
    image_png = raw if picture.format == "PNG" else encode_png(picture.convert("RGB"))
    seeds = payload.get("seeds")
    seed = seeds[0] if isinstance(seeds, list) and seeds and isinstance(seeds[0], int) else None
    return image_png, picture.width, picture.height, seed


# --- Errors: every way Bedrock fails, in one table -------------------------------------------


@dataclass(frozen=True)
class _Rule:
    error: type[SketchbridgeError]
    message: str
    suggestions: tuple[str, ...] = field(default=())


_ADMIN_IAM = (
    "Choose another provider; an admin has to let this service's AWS role call "
    "bedrock:InvokeModel on the Stability model."
)
_ADMIN_MODEL_ACCESS = (
    "Choose another provider; an admin has to enable access to Stability's Control Sketch "
    "model in the Amazon Bedrock console (Model access) for this region, or set "
    "BEDROCK_MODEL_ID / BEDROCK_REGION to where it is enabled."
)
_TRY_AGAIN = ("Try again in a moment, or choose another provider.",)
_REPHRASE = (
    "Rephrase the prompt: describe the scene without the words that may have tripped the "
    "filter, and try again.",
)

# Keyed by Bedrock's error code, by the model's finish reason, or by botocore's exception
# class name (matched along the class's ancestry, most specific first).
_RULES: dict[str, _Rule] = {
    # Service errors (x-amzn-ErrorType), botocore 1.44.8 bedrock-runtime model.
    "ThrottlingException": _Rule(
        RateLimitedError, "Amazon Bedrock is getting too many requests for this model right now."
    ),
    "ServiceQuotaExceededException": _Rule(
        QuotaExhaustedError,
        "This AWS account has used up its Amazon Bedrock quota for the sketch model.",
        ("Choose another provider; an admin has to raise the Bedrock quota in Service Quotas.",),
    ),
    "AccessDeniedException": _Rule(
        AuthFailedError, "Amazon Bedrock refused this service's AWS credentials.", (_ADMIN_IAM,)
    ),
    "ModelAccessDenied": _Rule(
        AuthFailedError,
        "This AWS account has no access to Stability's sketch model on Amazon Bedrock.",
        (_ADMIN_MODEL_ACCESS,),
    ),
    "UnrecognizedClientException": _Rule(
        AuthFailedError,
        "Amazon Bedrock does not recognise this service's AWS credentials.",
        (_ADMIN_IAM,),
    ),
    "MissingAuthenticationTokenException": _Rule(
        AuthFailedError, "The call to Amazon Bedrock was not signed.", (_ADMIN_IAM,)
    ),
    "IncompleteSignatureException": _Rule(
        AuthFailedError, "The call to Amazon Bedrock was signed incompletely.", (_ADMIN_IAM,)
    ),
    "InvalidSignatureException": _Rule(
        AuthFailedError, "Amazon Bedrock rejected the call's signature.", (_ADMIN_IAM,)
    ),
    "ExpiredTokenException": _Rule(
        AuthFailedError, "The AWS credentials for Amazon Bedrock have expired.", (_ADMIN_IAM,)
    ),
    "ValidationException": _Rule(
        InvalidRequestError,
        "Amazon Bedrock refused the request's parameters.",
        ("Try a different size or a simpler sketch, or choose another provider.",),
    ),
    "ContentFiltered": _Rule(
        ContentPolicyError, "Amazon Bedrock's content filter refused this request.", _REPHRASE
    ),
    "InvalidModelIdentifier": _Rule(
        ProviderUnavailableError,
        "The sketch model configured for Amazon Bedrock does not exist.",
        (_ADMIN_MODEL_ACCESS,),
    ),
    "ResourceNotFoundException": _Rule(
        ProviderUnavailableError,
        "Stability's sketch model is not available to this AWS account on Amazon Bedrock.",
        (_ADMIN_MODEL_ACCESS,),
    ),
    "ModelTimeoutException": _Rule(
        ProviderTimeoutError, "The sketch model on Amazon Bedrock took too long to answer."
    ),
    "ModelNotReadyException": _Rule(
        ProviderUnavailableError, "The sketch model on Amazon Bedrock is not ready yet.", _TRY_AGAIN
    ),
    "ModelErrorException": _Rule(
        ProviderUnavailableError,
        "The model on Amazon Bedrock failed while drawing.",
        _TRY_AGAIN,
    ),
    "InternalServerException": _Rule(
        ProviderUnavailableError, "Amazon Bedrock failed while drawing.", _TRY_AGAIN
    ),
    "ServiceUnavailableException": _Rule(
        ProviderUnavailableError, "Amazon Bedrock is unavailable right now.", _TRY_AGAIN
    ),
    # The model's finish reasons (HTTP 200).
    "Filter reason: prompt": _Rule(
        ContentPolicyError, "Amazon Bedrock's content filter refused the prompt.", _REPHRASE
    ),
    "Filter reason: input image": _Rule(
        ContentPolicyError,
        "Amazon Bedrock's content filter refused the sketch.",
        ("Change the drawing and try again.",),
    ),
    "Filter reason: output image": _Rule(
        ContentPolicyError,
        "Amazon Bedrock's content filter withheld the picture it drew.",
        _REPHRASE,
    ),
    "CONTENT_FILTERED": _Rule(
        ContentPolicyError,
        "Amazon Bedrock's content filter withheld the picture it drew.",
        _REPHRASE,
    ),
    "Inference error": _Rule(
        ProviderUnavailableError,
        "The model on Amazon Bedrock failed while drawing.",
        _TRY_AGAIN,
    ),
    "UnreadableAnswer": _Rule(
        ProviderUnavailableError, "Amazon Bedrock answered without a usable picture.", _TRY_AGAIN
    ),
    # botocore's own exceptions (nothing, or nothing complete, came back).
    "ReadTimeoutError": _Rule(
        ProviderTimeoutError, "Amazon Bedrock did not finish the picture in time."
    ),
    "ConnectTimeoutError": _Rule(
        ProviderUnavailableError, "Amazon Bedrock could not be reached in time.", _TRY_AGAIN
    ),
    "NoCredentialsError": _Rule(
        AuthFailedError,
        "This service has no AWS credentials to call Amazon Bedrock with.",
        (_ADMIN_IAM,),
    ),
    "PartialCredentialsError": _Rule(
        AuthFailedError, "The AWS credentials for Amazon Bedrock are incomplete.", (_ADMIN_IAM,)
    ),
    "CredentialRetrievalError": _Rule(
        AuthFailedError,
        "The AWS credentials for Amazon Bedrock did not load.",
        (_ADMIN_IAM,),
    ),
    "NoRegionError": _Rule(
        ProviderUnavailableError,
        "No AWS region is configured for Amazon Bedrock.",
        ("Choose another provider; an admin has to set BEDROCK_REGION.",),
    ),
    # Connection refused or reset, DNS failures, a dropped stream: the service is out of reach.
    "BotoCoreError": _Rule(
        ProviderUnavailableError, "Amazon Bedrock could not be reached.", _TRY_AGAIN
    ),
}

# When an unknown error code comes back, its HTTP status decides.
_RULE_FOR_STATUS = {
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    429: "ThrottlingException",
    504: "ModelTimeoutException",
}


def bedrock_error(exc: Exception) -> SketchbridgeError:
    """The project's error for anything boto3 raised while calling Bedrock."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        metadata = response.get("ResponseMetadata") or {}
        status = int(metadata.get("HTTPStatusCode") or 0)
        headers = metadata.get("HTTPHeaders") or {}
        return _error(
            _rule_key(str(error.get("Code") or ""), str(error.get("Message") or ""), status),
            str(error.get("Message") or ""),
            status=status,
            retry_after_s=_retry_after_s(headers),
        )
    for cls in type(exc).__mro__:
        if cls.__name__ in _RULES:
            return _error(cls.__name__, "")
    return _error("BotoCoreError", "")


def _rule_key(code: str, message: str, status: int) -> str:
    lowered = message.lower()
    if code == "ValidationException" and "content filter" in lowered:
        return "ContentFiltered"
    if code == "ValidationException" and "model identifier is invalid" in lowered:
        return "InvalidModelIdentifier"
    if code == "AccessDeniedException" and "access to the model" in lowered:
        return "ModelAccessDenied"
    if code in _RULES:
        return code
    if status in _RULE_FOR_STATUS:
        return _RULE_FOR_STATUS[status]
    return "ValidationException" if 400 <= status < 500 else "InternalServerException"


def _error(
    key: str, provider_message: str, *, status: int = 0, retry_after_s: float | None = None
) -> SketchbridgeError:
    rule = _RULES.get(key) or _RULES["Inference error"]
    details: dict[str, Any] = {"reason": key}
    if provider_message:
        details["provider_message"] = provider_message
    if status:
        details["http_status"] = status
    if issubclass(rule.error, ProviderError):
        return rule.error(
            rule.message,
            provider=PROVIDER_NAME,
            suggestions=rule.suggestions or None,
            details=details,
            retry_after_s=retry_after_s,
        )
    # A bad parameter is the request's fault, whoever draws it: say what Bedrock objected to.
    message = f"{rule.message} {provider_message}".strip()
    return rule.error(message, suggestions=rule.suggestions or None, details=details)


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
