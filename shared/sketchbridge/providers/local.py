"""The ``local`` provider: an offline renderer that colours and shades the sketch itself.

It is not AI and says so. It lets the whole product run, demo and be tested
with no key and no network, and it honours seed, steps (one progress event per
step), strength and size like a real provider.
"""

from __future__ import annotations

from sketchbridge.domain.billing import ProviderUsage
from sketchbridge.domain.errors import JobCanceledError
from sketchbridge.domain.models import MAX_SEED
from sketchbridge.domain.parameters import ParameterRange, ParameterRanges
from sketchbridge.preprocessing.decode import encode_png
from sketchbridge.providers.base import (
    DEFAULT_PROBE_TIMEOUT_S,
    ProgressCallback,
    ProgressUpdate,
    ProviderCapabilities,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local_renderer import render_sketch

LOCAL_CAPABILITIES = ProviderCapabilities(
    image_input=True,
    seed=True,
    negative_prompt=False,
    min_side=64,
    max_side=2048,
    size_multiple=8,
    max_steps=100,
    progress="steps",
    # The renderer's own knobs (local_renderer._validate): it has no guidance to give.
    parameters=ParameterRanges(
        steps=ParameterRange(1, 100, 20, "steps", integer=True),
        strength=ParameterRange(0.0, 1.0, 0.75, "strength"),
        seed=ParameterRange(0, MAX_SEED, 0, "seed", integer=True),
    ),
)


class LocalProvider:
    name = "local"
    model = "sketchbridge-local-renderer-1"
    is_ai = False
    description = (
        "Offline renderer: fills the drawing's regions with colours taken from the prompt "
        "and shades them. Not AI; free, instant and always available."
    )
    capabilities = LOCAL_CAPABILITIES

    def probe(self, *, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        """Always answers: it runs inside the function that asks."""
        return None

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        def report_step(step: int, total: int) -> None:
            on_progress(ProgressUpdate(step=step, total_steps=total))
            # Between steps is where a canceled job stops; it runs here, so nothing is billed.
            if step < total and request.should_stop is not None and request.should_stop():
                raise JobCanceledError(f"Canceled after step {step} of {total}.")

        image = render_sketch(
            request.sketch,
            request.prompt,
            seed=request.seed,
            steps=request.steps,
            strength=request.strength,
            width=request.width,
            height=request.height,
            on_step=report_step,
        )
        return ProviderResult(
            image_png=encode_png(image),
            width=image.width,
            height=image.height,
            model=self.model,
            seed=request.seed,
            usage=ProviderUsage(
                provider=self.name,
                model=self.model,
                images=1,
                width=image.width,
                height=image.height,
            ),
        )
