"""How the Replicate adapter reads progress from logs, maps inputs, reads its configuration,
and keeps the SDK's retries inside the request's time budget."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sketchbridge.domain.errors import SketchbridgeError
from sketchbridge.providers.base import ProgressUpdate, ProviderRequest
from sketchbridge.providers.replicate import (
    ReplicateConfig,
    ReplicateProvider,
    model_input,
    retry_after_seconds,
    tqdm_steps,
)
from sketchbridge.providers.replicate.progress import StepReporter
from tests.contract.conftest import Serve

RECORDED_LOGS = (
    "Using seed: 42069\nPrompt: a corgi\ntxt2img mode\n"
    "  0%|          | 0/50 [00:00<?, ?it/s]\n"
    "  2%|▏         | 1/50 [00:00<00:31,  1.57it/s]\n"
    "  6%|▌         | 3/50 [00:00<00:09,  4.80it/s]\n"
)


def request(**overrides: Any) -> ProviderRequest:
    values: dict[str, Any] = {
        "sketch": Image.new("RGB", (64, 64), "white"),
        "prompt": "a cat",
        "negative_prompt": "dogs",
        "seed": 3,
        "steps": 20,
        "strength": 0.5,
        "guidance_scale": 7.5,
        "width": 512,
        "height": 256,
        "timeout_s": 30.0,
    }
    return ProviderRequest(**{**values, **overrides})


def test_tqdm_lines_from_a_recorded_prediction_give_their_steps() -> None:
    assert tqdm_steps(RECORDED_LOGS) == [(0, 50), (1, 50), (3, 50)]


def test_each_step_the_logs_show_is_reported_once() -> None:
    events: list[ProgressUpdate] = []
    reporter = StepReporter(events.append)

    reporter.feed(RECORDED_LOGS, final=False)
    reporter.feed(RECORDED_LOGS, final=False)
    reporter.feed(RECORDED_LOGS + " 10%|█         | 5/50 [00:00<00:05,  7.60it/s]\n", final=False)
    reporter.complete(50)

    assert [(event.step, event.total_steps) for event in events] == [
        (1, 50),
        (3, 50),
        (5, 50),
        (50, 50),
    ]


def test_a_finished_picture_with_empty_logs_still_reports_completion() -> None:
    events: list[ProgressUpdate] = []
    reporter = StepReporter(events.append)

    reporter.feed("", final=True)
    reporter.complete(28)

    assert [(event.step, event.total_steps) for event in events] == [(28, 28)]


def test_a_line_still_being_written_is_not_read_until_it_ends() -> None:
    events: list[ProgressUpdate] = []
    reporter = StepReporter(events.append)

    reporter.feed(" 45%|████▌     | 9/2", final=False)
    assert events == []
    reporter.feed(" 45%|████▌     | 9/20 [00:02<00:02,  4.1it/s]\n", final=False)
    assert [(event.step, event.total_steps) for event in events] == [(9, 20)]


def test_unified_parameters_map_to_flux_canny_inputs() -> None:
    sent = model_input(request(), "data:image/png;base64,AAAA", ReplicateConfig())

    assert sent == {
        "prompt": "a cat",
        "control_image": "data:image/png;base64,AAAA",
        "num_inference_steps": 20,
        "guidance": 30.0,
        "seed": 3,
        "megapixels": "match_input",
        "num_outputs": 1,
        "output_format": "png",
    }


def test_configuration_comes_from_the_environment() -> None:
    config = ReplicateConfig.from_env(
        {
            "REPLICATE_MODEL": "jagilley/controlnet-scribble",
            "REPLICATE_MODEL_VERSION": "abc123",
            "REPLICATE_BASE_URL": "http://127.0.0.1:4010/",
            "REPLICATE_PREFER_WAIT_S": "9",
            "REPLICATE_POLL_INTERVAL": "0.25",
        }
    )

    assert (config.model, config.version, config.base_url) == (
        "jagilley/controlnet-scribble",
        "abc123",
        "http://127.0.0.1:4010",
    )
    assert (config.prefer_wait_s, config.poll_interval_s) == (9, 0.25)
    assert ReplicateConfig.from_env({}) == ReplicateConfig()


def test_a_model_outside_the_catalog_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="owner/name of black-forest-labs/flux-canny-dev"):
        ReplicateConfig.from_env({"REPLICATE_MODEL": "owner/sketchy"})


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0.5", 0.5), (None, None), ("soon", None)]
)
def test_retry_after_is_read_as_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def throttled_polls_app(retry_after: str, polls: list[str] | None = None) -> Starlette:
    """Creates are accepted; every poll is throttled with this Retry-After (and logged)."""
    poll_log = polls if polls is not None else []

    async def create(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": "p1",
                "model": "black-forest-labs/flux-canny-dev",
                "version": "dp-0",
                "status": "starting",
                "urls": {"get": f"{base}/v1/predictions/p1", "cancel": f"{base}/c", "web": base},
            },
            status_code=201,
        )

    async def poll(request: Request) -> Response:
        poll_log.append(request.url.path)
        body = {"detail": "Request was throttled.", "status": 429}
        return JSONResponse(body, status_code=429, headers={"Retry-After": retry_after})

    async def cancel(_: Request) -> Response:
        return JSONResponse({"id": "p1", "status": "canceled"})

    return Starlette(
        routes=[
            Route("/v1/models/{owner}/{name}/predictions", create, methods=["POST"]),
            Route("/v1/predictions/{id}", poll, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", cancel, methods=["POST"]),
        ]
    )


def test_a_throttled_poll_asking_for_more_than_the_budget_fails_at_once(serve: Serve) -> None:
    base_url = serve(throttled_polls_app(retry_after="60"))
    adapter = ReplicateProvider(lambda: "r8_x", ReplicateConfig(base_url=base_url))

    with pytest.raises(SketchbridgeError) as caught:
        adapter.generate(request(width=256, timeout_s=10.0), lambda _: None)

    assert (caught.value.code, getattr(caught.value, "retry_after_s", None)) == (
        "rate_limited",
        60.0,
    )
    # Left to itself the SDK would sleep the minute, then find the budget spent: a timeout.


def test_throttled_polls_are_retried_only_as_often_as_configured(serve: Serve) -> None:
    polls: list[str] = []
    base_url = serve(throttled_polls_app(retry_after="0", polls=polls))
    config = ReplicateConfig(base_url=base_url, status_retries=2)

    with pytest.raises(SketchbridgeError) as caught:
        ReplicateProvider(lambda: "r8_x", config).generate(
            request(width=256, timeout_s=10.0), lambda _: None
        )

    assert caught.value.code == "rate_limited"
    assert len(polls) == 3  # the first poll and two retries, not the SDK's ten attempts
