"""Any parameters are either accepted by the chosen provider, with the values the job records
inside its ranges, or refused before anything is stored or queued.

The request names one of the real adapters (their declarations as shipped, nothing called) or
``auto``, with any mix of set and unset parameters within the API's widest bounds. Whatever
they are:

- refused: a 400 ``invalid_params`` that names a provider whose range the value misses, and
  no job, no queued message, no reserved money;
- accepted: the job's provider declares a range for each parameter it uses, the recorded value
  lies inside it and is the value sent when one was sent (never clamped), and
  ``params_native`` holds the same values under the provider's own names; ``auto`` never
  picks a non-AI provider unless the request allows an offline fallback.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.models import MAX_SEED, GenerationRequest
from sketchbridge.domain.parameters import GENERIC_PARAMETERS
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateProvider
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeJobStore, FakeQueue, fake_dependencies, sketch_data_url

PROVIDERS: dict[str, ImageProvider] = {
    "local": LocalProvider(),
    "replicate": ReplicateProvider(lambda: None),
    "openai": OpenAIProvider(OpenAIConfig(), api_key=lambda: None),
    "bedrock": BedrockProvider(BedrockConfig(region="us-west-2")),
}
SKETCH = sketch_data_url()

params_strategy = st.fixed_dictionaries(
    {},
    optional={
        "steps": st.integers(1, 100),
        "strength": st.floats(0.0, 1.0),
        "guidance_scale": st.floats(0.0, 30.0),
        # Near the ends of the seed range, where Bedrock's stops one short of the API's.
        "seed": st.one_of(st.integers(0, MAX_SEED), st.integers(MAX_SEED - 2, MAX_SEED)),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=params_strategy,
    provider=st.sampled_from(["auto", *PROVIDERS]),
    deployed=st.sets(st.sampled_from(list(PROVIDERS)), min_size=1),
    allow_offline_fallback=st.booleans(),
)
def test_parameters_are_accepted_within_the_chosen_providers_ranges_or_refused_up_front(
    params: dict[str, Any], provider: str, deployed: set[str], allow_offline_fallback: bool
) -> None:
    names = sorted(deployed | ({provider} if provider != "auto" else set()))
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({name: PROVIDERS[name] for name in names}, default=names[0])
    request = GenerationRequest.model_validate(
        {
            "sketch": SKETCH,
            "prompt": "a sea turtle",
            "provider": provider,
            "params": params,
            "cache": "bypass",
            "allow_offline_fallback": allow_offline_fallback,
        }
    )
    jobs, queue = deps.jobs, deps.queue
    assert isinstance(jobs, FakeJobStore) and isinstance(queue, FakeQueue)

    try:
        job = submit_generation(request, user_id="ada", deps=deps)
    except InvalidParamsError as refused:
        assert jobs.records == {} and queue.messages == []
        problems = refused.details["problems"]
        assert problems, refused.message
        for problem in problems:
            ranges = PROVIDERS[problem["provider"]].capabilities.parameters
            declared = ranges.get(problem["parameter"])
            assert declared is not None and not declared.contains(problem["value"])
            assert problem["parameter"] in refused.message
        return

    chosen = PROVIDERS[job.provider]
    if (
        provider == "auto"
        and not allow_offline_fallback
        and any(PROVIDERS[name].is_ai for name in names)
    ):
        assert chosen.is_ai
    ranges = chosen.capabilities.parameters
    for name in GENERIC_PARAMETERS:
        declared = ranges.get(name)
        recorded = getattr(job.params, name)
        if declared is None:
            continue  # ignored there: nothing of it reaches the provider
        assert declared.contains(recorded), (name, recorded, declared)
        if name in params:
            assert recorded == (int(params[name]) if declared.integer else params[name])
        assert job.params_native[declared.native_name] == declared.native_value(recorded)
    assert set(job.params_native) == {
        declared.native_name
        for declared in (ranges.get(name) for name in GENERIC_PARAMETERS)
        if declared is not None
    }
    assert [message.job_id for message in queue.messages] == [job.id]
