"""The one interface every image provider implements.

A provider declares what it can do (``capabilities``) so that selection and
validation happen before any call, and reports progress through a callback so
the processor can push it to the user as it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from PIL import Image

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.parameters import ParameterRanges


@dataclass(frozen=True)
class ProviderCapabilities:
    image_input: bool
    seed: bool
    negative_prompt: bool
    min_side: int
    max_side: int
    size_multiple: int
    max_steps: int
    progress: Literal["steps", "partial_images", "none"]
    # The generic parameters' ranges, defaults and native names here (None: ignored).
    parameters: ParameterRanges = field(default_factory=ParameterRanges)

    def __post_init__(self) -> None:
        # One truth for steps: ``max_steps`` is the steps range's maximum, 1 where the provider
        # has no step control, whatever was passed, so a quote's ETA and price can never
        # assume a step count the provider refuses.
        steps = self.parameters.steps
        object.__setattr__(self, "max_steps", int(steps.maximum) if steps is not None else 1)


@dataclass(frozen=True)
class ProviderRequest:
    sketch: Image.Image  # decoded RGB sketch
    prompt: str
    negative_prompt: str | None
    seed: int
    steps: int
    strength: float
    guidance_scale: float
    width: int
    height: int
    # The whole budget for this call, retries and polling included: past it the
    # adapter cancels what it started and raises ProviderTimeoutError.
    timeout_s: float = 90.0
    # A provider-side job this same request already started (e.g. a Replicate
    # prediction id) before its processor died: follow it instead of paying again.
    resume_id: str | None = None
    # Told the provider-side id as soon as the provider accepted the work, so a
    # later delivery can resume it. Providers without such ids never call it.
    on_started: Callable[[str], None] | None = None
    # Asked between polls, steps and stream events: True once the job's owner canceled it.
    # The adapter then stops the provider's work where it can and raises JobCanceledError.
    should_stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class ProgressUpdate:
    step: int
    total_steps: int
    message: str | None = None
    # A partial image (PNG) some providers stream while they work; never sent
    # over the WebSocket as bytes (frames cap at 32 KB): the processor stores it.
    preview_png: bytes | None = None
    # False for a line an adapter says before the provider has answered anything ("Drawing
    # on Amazon Bedrock…"): it reaches the user but is no sign of life, so it does not stop
    # the first-byte deadline (provider_chain). Everything the provider sent counts.
    from_provider: bool = True


@dataclass(frozen=True)
class ProviderResult:
    image_png: bytes
    width: int
    height: int
    model: str
    seed: int | None  # None when the provider cannot honour a seed
    # What the provider reported it consumed (tokens, seconds, images), for the actual cost;
    # None only from a provider that cannot say (test fakes).
    usage: ProviderUsage | None = None


ProgressCallback = Callable[[ProgressUpdate], None]


class ImageProvider(Protocol):
    """An image provider: a name, what it can do, and one way to generate."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def is_ai(self) -> bool: ...

    @property
    def model(self) -> str: ...

    @property
    def capabilities(self) -> ProviderCapabilities: ...

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Render the request, calling ``on_progress`` as work advances.

        Raises a ``ProviderError`` subclass from ``sketchbridge.domain.errors``
        for every failure; vendor exceptions never escape.
        """
        ...


# A probe is a lookup, not a picture: this long is plenty on a healthy day.
DEFAULT_PROBE_TIMEOUT_S = 5.0


@runtime_checkable
class ProbeableProvider(Protocol):
    """A provider that can tell, cheaply and without drawing (or billing), whether it answers.

    Optional: the health check probes the providers that implement it; the others are
    judged by their real calls alone.
    """

    def probe(self, *, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        """Return if the provider answers and offers the configured model, within
        ``timeout_s``; else raise the ``ProviderError`` subclass that says why."""
        ...
