"""Parameters held against each provider's ranges, as a user at the canvas would notice it:
refused with the range named (never clamped), accepted with a warning where the provider
ignores them, recorded in the provider's own names, and ``auto`` that means AI."""

from __future__ import annotations

import json
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from sketchbridge.domain.errors import InvalidParamsError, ProviderUnavailableError
from sketchbridge.domain.models import GenerationRequest, JobRecord, JobStatus
from sketchbridge.domain.parameters import ParameterRange, ParameterRanges
from sketchbridge.providers.base import ImageProvider, ProviderRequest
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LOCAL_CAPABILITIES, LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateProvider
from sketchbridge.services import subscriptions
from sketchbridge.services.get_generation import get_generation
from sketchbridge.services.parameter_checks import adapter_native
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import (
    FakeJobStore,
    FakeProvider,
    FakeQueue,
    FakeTokenVerifier,
    fake_dependencies,
    sketch_data_url,
)
from tests.support.handlers import FakeLambdaContext, http_event, load_function


def _real(*names: str) -> Dependencies:
    """The real adapters (built from configuration only: submit calls none of them)."""
    every: dict[str, ImageProvider] = {
        "local": LocalProvider(),
        "replicate": ReplicateProvider(lambda: None),
        "openai": OpenAIProvider(OpenAIConfig(), api_key=lambda: None),
        "bedrock": BedrockProvider(BedrockConfig(region="us-west-2")),
    }
    deps = fake_dependencies()
    chosen = names or tuple(every)
    deps.providers = ProviderRegistry({name: every[name] for name in chosen}, default=chosen[0])
    return deps


def _request(**fields: Any) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {"sketch": sketch_data_url(), "prompt": "a sea turtle", "cache": "bypass", **fields}
    )


def _queued(deps: Dependencies) -> list[str]:
    queue = deps.queue
    assert isinstance(queue, FakeQueue)
    return [message.job_id for message in queue.messages]


def _handler(name: str, deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function(name)
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    return module


# ---------------------------------------------------------------- an explicit provider


def test_steps_80_on_replicate_is_refused_with_its_range_and_nothing_is_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deps = _real()
    submit = _handler("submit", deps, monkeypatch)

    response = submit.lambda_handler(
        http_event(
            "POST",
            "/generations",
            body={
                "sketch": sketch_data_url(),
                "prompt": "a sea turtle",
                "provider": "replicate",
                "params": {"steps": 80},
            },
        ),
        FakeLambdaContext(),
    )

    assert response["statusCode"] == 400
    error = json.loads(response["body"])["error"]
    assert error["code"] == "invalid_params"
    assert "steps 80" in error["message"] and "replicate" in error["message"]
    assert "1..50" in error["message"] and "num_inference_steps" in error["message"]
    (problem,) = error["details"]["problems"]
    assert problem == {
        "parameter": "steps",
        "value": 80,
        "provider": "replicate",
        "min": 1,
        "max": 50,
        "integer": True,
        "native_name": "num_inference_steps",
    }
    assert _queued(deps) == []


@pytest.mark.parametrize(
    ("provider", "params", "named"),
    [
        ("replicate", {"guidance_scale": 26.0}, "guidance_scale 26 is outside replicate's range"),
        ("local", {"steps": 100, "strength": 1.0, "seed": 2**32 - 1}, None),
        ("bedrock", {"seed": 2**32 - 1}, "seed 4294967295 is outside bedrock's range"),
    ],
)
def test_each_provider_holds_values_to_its_own_range(
    provider: str, params: dict[str, Any], named: str | None
) -> None:
    deps = _real()
    request = _request(provider=provider, params=params)

    if named is None:
        assert submit_generation(request, user_id="ada", deps=deps).status is JobStatus.QUEUED
        return
    with pytest.raises(InvalidParamsError) as refused:
        submit_generation(request, user_id="ada", deps=deps)
    assert named in refused.value.message
    assert _queued(deps) == []


def test_a_value_in_range_runs_as_sent_never_clamped_and_is_recorded_in_native_names() -> None:
    deps = _real()

    job = submit_generation(
        _request(provider="replicate", params={"steps": 50, "guidance_scale": 7.5, "seed": 3}),
        user_id="ada",
        deps=deps,
    )

    assert job.params.steps == 50
    assert job.params_native == {"num_inference_steps": 50, "guidance": 30.0, "seed": 3}


def test_unset_parameters_take_each_providers_own_default() -> None:
    deps = _real()

    replicate = submit_generation(_request(provider="replicate"), user_id="ada", deps=deps)
    local = submit_generation(_request(provider="local"), user_id="ada", deps=deps)
    bedrock = submit_generation(_request(provider="bedrock"), user_id="ada", deps=deps)

    assert replicate.params.steps == 28 and replicate.params_native["num_inference_steps"] == 28
    assert local.params.steps == 20 and local.params_native["steps"] == 20
    # Bedrock's strength runs the other way: the default 0.75 is the model's own 0.7.
    assert bedrock.params_native["control_strength"] == pytest.approx(0.7)
    assert bedrock.params_native["seed"] == bedrock.params.seed


def test_a_parameter_the_provider_ignores_is_accepted_with_a_warning() -> None:
    deps = _real()

    job = submit_generation(
        _request(provider="openai", params={"steps": 80, "strength": 0.2}),
        user_id="ada",
        deps=deps,
    )

    assert job.status is JobStatus.QUEUED
    assert [(w.code, w.parameter, w.provider) for w in job.warnings] == [
        ("parameter_ignored", "steps", "openai"),
        ("parameter_ignored", "strength", "openai"),
    ]
    assert job.params_native == {}


# ---------------------------------------------------------------- auto


def test_auto_leaves_out_the_providers_whose_range_excludes_a_value_and_says_why() -> None:
    deps = _real("replicate", "bedrock", "local")

    job = submit_generation(_request(params={"steps": 80}), user_id="ada", deps=deps)

    assert job.provider == "bedrock" and job.quote is not None
    excluded = {e.provider: e.reason for e in job.quote.excluded}
    assert "steps 80 is outside replicate's range 1..50" in excluded["replicate"]
    assert excluded["local"].startswith("not AI")


def test_with_an_offline_fallback_allowed_the_local_renderer_may_take_what_ai_cannot() -> None:
    deps = _real("replicate", "local")

    # The one AI provider refuses 80 steps, and auto never picks local on its own.
    with pytest.raises(InvalidParamsError):
        submit_generation(_request(params={"steps": 80}), user_id="ada", deps=deps)
    job = submit_generation(
        _request(params={"steps": 80}, allow_offline_fallback=True), user_id="ada", deps=deps
    )

    assert job.provider == "local" and job.params_native["steps"] == 80


def test_auto_with_nothing_that_takes_the_values_is_a_400_naming_each_provider() -> None:
    deps = _real("replicate", "bedrock")

    with pytest.raises(InvalidParamsError) as refused:
        submit_generation(
            _request(params={"guidance_scale": 26.0, "seed": 2**32 - 1}), user_id="ada", deps=deps
        )

    message = refused.value.message
    assert "replicate: guidance_scale 26 is outside replicate's range" in message
    assert "bedrock: seed 4294967295 is outside bedrock's range" in message
    assert {e["provider"] for e in refused.value.details["excluded"]} == {"replicate", "bedrock"}
    assert _queued(deps) == []


def test_auto_picks_an_ai_provider_even_when_the_local_renderer_is_cheaper() -> None:
    deps = _real()

    job = submit_generation(_request(policy="cheapest"), user_id="ada", deps=deps)

    assert job.provider in {"replicate", "openai", "bedrock"}
    assert "local" not in (deps.jobs.get(job.id) or _missing()).plan


def test_the_offline_renderer_ends_the_chain_only_when_the_request_allows_it() -> None:
    deps = _real()

    plain = deps.jobs.get(submit_generation(_request(), user_id="ada", deps=deps).id)
    allowed = deps.jobs.get(
        submit_generation(_request(allow_offline_fallback=True), user_id="ada", deps=deps).id
    )

    assert plain is not None and allowed is not None
    assert "local" not in plain.plan
    assert allowed.plan[-1] == "local" and "local" not in allowed.plan[:-1]


def test_a_deployment_with_only_the_local_renderer_still_draws_with_auto() -> None:
    deps = _real("local")

    job = submit_generation(_request(), user_id="ada", deps=deps)

    assert job.provider == "local" and job.status is JobStatus.QUEUED


def _missing() -> JobRecord:
    raise AssertionError("the job was not stored")


# ---------------------------------------------------------------- failover hops


def _ai(name: str, ranges: ParameterRanges | None = None, **fields: Any) -> FakeProvider:
    caps = LOCAL_CAPABILITIES if ranges is None else replace(LOCAL_CAPABILITIES, parameters=ranges)
    return FakeProvider(name=name, is_ai=True, capabilities=caps, **fields)


def test_when_every_ai_provider_fails_the_allowed_offline_fallback_draws_and_says_so() -> None:
    broken = _ai("replicate", errors=[ProviderUnavailableError("503", provider="replicate")])
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({"replicate": broken, "local": LocalProvider()}, "replicate")
    job_id = submit_generation(
        _request(allow_offline_fallback=True, params={"steps": 2, "width": 128, "height": 128}),
        user_id="ada",
        deps=deps,
    ).id

    process_job(job_id, receive_count=1, deps=deps)

    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.status is JobStatus.SUCCEEDED and job.result is not None
    assert job.result.provider == "local" and job.offline_fallback is True
    assert job.params_native["steps"] == 2


def test_a_hop_whose_ranges_refuse_the_parameters_is_skipped_and_recorded() -> None:
    few_steps = ParameterRanges(steps=ParameterRange(1, 4, 2, "num_steps", integer=True))
    first = _ai("first", errors=[ProviderUnavailableError("503", provider="first")])
    narrow = _ai("narrow", few_steps)
    last = _ai(
        "last", ParameterRanges(steps=ParameterRange(1, 10, 3, "sampling_steps", integer=True))
    )
    deps = fake_dependencies()
    deps.providers = ProviderRegistry(
        {"first": first, "narrow": narrow, "last": last}, default="first"
    )
    job_id = submit_generation(
        _request(provider="first", params={"steps": 6, "width": 128, "height": 128}),
        user_id="ada",
        deps=deps,
    ).id
    stored = deps.jobs.get(job_id)
    assert stored is not None
    # The plan was made when narrow took 6 steps; an admin's change (a model with fewer
    # steps) may come between: the hop checks again.
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobStore)
    jobs.records[job_id] = stored.model_copy(update={"plan": ["first", "narrow", "last"]})
    subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        "c", subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )

    process_job(job_id, receive_count=1, deps=deps)

    job = get_generation(job_id, user_id="ada", deps=deps)
    assert job.status is JobStatus.SUCCEEDED and job.result is not None
    assert job.result.provider == "last" and narrow.calls == 0
    assert [(hop.provider, hop.outcome) for hop in job.hops] == [
        ("first", "provider_unavailable"),
        ("narrow", "parameters_out_of_range"),
        ("last", "ok"),
    ]
    assert "steps 6 is outside narrow's range 1..4" in job.hops[1].message
    frames = deps.pusher.frames["c"]  # type: ignore[attr-defined]
    messages = [json.loads(frame).get("message") for frame in frames]
    assert "narrow cannot take these parameters, trying last" in messages
    assert job.params_native == {"sampling_steps": 6} and job.params.steps == 6


def test_the_native_values_recorded_are_the_ones_the_replicate_adapter_sends() -> None:
    replicate = ReplicateProvider(lambda: None)
    request = ProviderRequest(
        sketch=Image.new("RGB", (64, 64)),
        prompt="a sea turtle",
        negative_prompt=None,
        seed=5,
        steps=28,
        strength=0.75,
        guidance_scale=7.5,
        width=512,
        height=512,
    )

    native = adapter_native(replicate, request, {})
    job = submit_generation(
        _request(provider="replicate", params={"steps": 28, "guidance_scale": 7.5, "seed": 5}),
        user_id="ada",
        deps=_real(),
    )

    assert native == {"num_inference_steps": 28, "guidance": 30.0, "seed": 5}
    assert job.params_native == native
