"""What the admins' dashboard learns from each provider call: requests, outcomes, latency."""

from __future__ import annotations

from sketchbridge.domain.errors import ProviderUnavailableError, RateLimitedError
from sketchbridge.domain.models import GenerationParams, GenerationRequest
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeMetrics, FakeProvider, fake_dependencies, sketch_data_url

PROVIDER_SERIES = {"ProviderRequested", "ProviderSucceeded", "ProviderFailed", "ProviderLatency"}


def _deps(*providers: FakeProvider) -> Dependencies:
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({p.name: p for p in providers}, default=providers[0].name)
    return deps


def _run_job(deps: Dependencies, provider: str) -> None:
    request = GenerationRequest.model_validate(
        {
            "sketch": sketch_data_url(),
            "prompt": "a sea turtle",
            "provider": provider,
            "params": GenerationParams(seed=1, steps=2, width=128, height=128),
            "cache": "bypass",
        }
    )
    job_id = submit_generation(request, user_id="ada", deps=deps).id
    process_job(job_id, receive_count=1, deps=deps)


def _provider_series(deps: Dependencies) -> list[tuple[str, dict[str, str]]]:
    """(metric, dimensions) of every provider-call metric, in the order they were counted."""
    metrics = deps.metrics
    assert isinstance(metrics, FakeMetrics)
    return [
        (name, dimensions)
        for (name, _value, _unit), dimensions in zip(
            metrics.recorded, metrics.dimensions, strict=True
        )
        if name in PROVIDER_SERIES
    ]


def test_a_failover_counts_the_failed_call_by_error_code_and_the_successful_one() -> None:
    down = FakeProvider(
        name="replicate", errors=[ProviderUnavailableError("503", provider="replicate")]
    )
    deps = _deps(down, FakeProvider(name="openai"))

    _run_job(deps, provider="replicate")

    assert _provider_series(deps) == [
        ("ProviderRequested", {"Provider": "replicate"}),
        ("ProviderFailed", {"Provider": "replicate", "ErrorCode": "provider_unavailable"}),
        ("ProviderRequested", {"Provider": "openai"}),
        ("ProviderSucceeded", {"Provider": "openai"}),
        ("ProviderLatency", {"Provider": "openai"}),
    ]


def test_a_retry_after_a_short_rate_limit_is_a_second_request_to_the_same_provider() -> None:
    limited = FakeProvider(
        name="replicate",
        errors=[RateLimitedError("429", provider="replicate", retry_after_s=0.01)],
    )
    deps = _deps(limited, FakeProvider(name="openai"))

    _run_job(deps, provider="replicate")

    assert _provider_series(deps) == [
        ("ProviderRequested", {"Provider": "replicate"}),
        ("ProviderFailed", {"Provider": "replicate", "ErrorCode": "rate_limited"}),
        ("ProviderRequested", {"Provider": "replicate"}),
        ("ProviderSucceeded", {"Provider": "replicate"}),
        ("ProviderLatency", {"Provider": "replicate"}),
    ]


def test_a_provider_skipped_behind_an_open_circuit_is_not_counted_as_requested() -> None:
    flaky = FakeProvider(
        name="replicate",
        errors=[ProviderUnavailableError("503", provider="replicate") for _ in range(3)],
    )
    deps = _deps(flaky, FakeProvider(name="openai"))
    for _ in range(3):  # the third failure opens the circuit
        _run_job(deps, provider="replicate")
    metrics = deps.metrics
    assert isinstance(metrics, FakeMetrics)
    metrics.recorded.clear()
    metrics.dimensions.clear()

    _run_job(deps, provider="replicate")

    assert _provider_series(deps) == [
        ("ProviderRequested", {"Provider": "openai"}),
        ("ProviderSucceeded", {"Provider": "openai"}),
        ("ProviderLatency", {"Provider": "openai"}),
    ]


def test_every_request_ends_as_exactly_one_success_or_failure() -> None:
    # The error-rate alarm divides failures by requests: they must balance per provider.
    flaky = FakeProvider(
        name="replicate",
        errors=[
            ProviderUnavailableError("503", provider="replicate"),
            RateLimitedError("429", provider="replicate", retry_after_s=0.01),
        ],
    )
    deps = _deps(flaky, FakeProvider(name="openai"))
    for _ in range(3):
        _run_job(deps, provider="replicate")

    series = _provider_series(deps)
    for provider in ("replicate", "openai"):
        counts = {
            name: sum(1 for n, d in series if n == name and d["Provider"] == provider)
            for name in PROVIDER_SERIES
        }
        assert counts["ProviderRequested"] == counts["ProviderSucceeded"] + counts["ProviderFailed"]
        assert counts["ProviderLatency"] == counts["ProviderSucceeded"]
    assert ("ProviderFailed", {"Provider": "replicate", "ErrorCode": "rate_limited"}) in series
