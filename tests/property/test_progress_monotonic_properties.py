"""Progress as a job's subscriber sees it never goes backwards.

Any number of providers each draw some steps of their own count (some with preview images)
and then fail in a way failover helps with, or finish; a delivery whose every provider failed
goes back to the queue and is delivered again, to providers that start counting from 0 once
more. Whatever happens, the frames the subscriber receives, in order, carry a progress that
never decreases, and so does what ``GET /generations/{id}`` answers between deliveries.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sketchbridge.domain.circuit_breaker import BreakerPolicy
from sketchbridge.domain.errors import ProviderUnavailableError, SketchbridgeError
from sketchbridge.domain.models import GenerationRequest
from sketchbridge.providers.base import (
    ProgressCallback,
    ProgressUpdate,
    ProviderRequest,
    ProviderResult,
)
from sketchbridge.providers.local import LOCAL_CAPABILITIES
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services import subscriptions
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import (
    FakeBreakerStore,
    FakeTokenVerifier,
    fake_dependencies,
    sketch_data_url,
)

_PNG = io.BytesIO()
Image.new("RGB", (64, 64), (10, 20, 30)).save(_PNG, "PNG")
PREVIEW = _PNG.getvalue()


@dataclass(frozen=True)
class Attempt:
    """What one provider does with one call: ``steps`` of ``total`` (a preview on some),
    then it finishes, or fails with an outage."""

    steps: int
    total: int
    previews: frozenset[int]
    finishes: bool


@dataclass
class ScriptedProvider:
    name: str
    script: list[Attempt]
    model: str = "scripted-1"
    description: str = "A provider that draws some steps, then finishes or fails."
    is_ai: bool = True
    capabilities = LOCAL_CAPABILITIES
    calls: list[Attempt] = field(default_factory=list)

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        attempt = self.script.pop(0) if self.script else Attempt(1, 1, frozenset(), True)
        self.calls.append(attempt)
        for step in range(1, attempt.steps + 1):
            on_progress(
                ProgressUpdate(
                    step=step,
                    total_steps=attempt.total,
                    preview_png=PREVIEW if step in attempt.previews else None,
                )
            )
        if not attempt.finishes:
            raise ProviderUnavailableError(f"{self.name} went away", provider=self.name)
        buffer = io.BytesIO()
        Image.new("RGB", (request.width, request.height), (200, 100, 50)).save(buffer, "PNG")
        return ProviderResult(
            image_png=buffer.getvalue(),
            width=request.width,
            height=request.height,
            model=self.model,
            seed=request.seed,
        )


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    total = draw(st.integers(1, 8))
    return Attempt(
        steps=draw(st.integers(0, total)),
        total=total,
        previews=frozenset(draw(st.sets(st.integers(1, total), max_size=3))),
        finishes=draw(st.booleans()),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    scripts=st.lists(st.lists(attempts(), max_size=4), min_size=1, max_size=3),
    deliveries=st.integers(1, 3),
)
def test_progress_never_goes_backwards_for_the_subscriber(
    scripts: list[list[Attempt]], deliveries: int
) -> None:
    providers = [
        ScriptedProvider(f"p{index}", list(script)) for index, script in enumerate(scripts)
    ]
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({p.name: p for p in providers}, default=providers[0].name)
    # Breakers that never open: every delivery tries every provider again.
    deps.breakers = FakeBreakerStore(
        BreakerPolicy(failure_threshold=1_000_000, min_calls=1_000_000)
    )
    deps.max_receive_count = deliveries
    request = GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": providers[0].name,
            "params": {"width": 128, "height": 128, "steps": 4},
            "cache": "bypass",
        }
    )
    job_id = submit_generation(request, user_id="ada", deps=deps).id
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        "c", subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )

    polled = [get_generation(job_id, user_id="ada", deps=deps).progress]
    for receive_count in range(1, deliveries + 1):
        # A retryable failure sends the job back to the queue: delivered again below.
        with contextlib.suppress(SketchbridgeError):
            process_job(job_id, receive_count=receive_count, deps=deps)
        polled.append(get_generation(job_id, user_id="ada", deps=deps).progress)
        if get_generation(job_id, user_id="ada", deps=deps).status.is_final:
            break

    frames = [json.loads(frame) for frame in deps.pusher.frames["c"]]  # type: ignore[attr-defined]
    seen = [frame["progress"] for frame in frames]
    assert seen == sorted(seen), seen
    assert [frame["seq"] for frame in frames] == sorted(frame["seq"] for frame in frames)
    assert polled == sorted(polled), polled
    assert all(0.0 <= progress <= 1.0 for progress in seen)
