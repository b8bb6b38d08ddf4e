"""The ledger equals the providers' own bills, with the real adapters running whole jobs.

Submit and process run as in production, with the real Replicate, OpenAI and Bedrock
adapters, through their SDKs, against the stand-ins; the stores are the in-memory fakes. The
stand-ins bill from their own price constants (``GET /_control/billing``), never from
``sketchbridge.domain.pricing``. After a failover that the failed provider still billed, a
cache hit and pictures from every provider, the ledger's total, the sum of the jobs'
``cost_usd``, GET /usage's total and the stand-ins' bills are the same number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from local.standins import bedrock as bedrock_standin
from local.standins import openai as openai_standin
from local.standins import replicate as replicate_standin
from local.standins.control import StandinControl
from sketchbridge.domain.ledger import usd_to_micros
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.usage import usage_report
from tests.contract.conftest import Serve
from tests.support.fakes import FakeUsageLedger, fake_dependencies, sketch_data_url

REPLICATE_TOKEN = "r8_ledger_test_token"
OPENAI_KEY = "sk-ledger-test-key"
# A community model: billed by the seconds it ran, a failed prediction too.
COMMUNITY = {"model": "jagilley/controlnet-scribble"}


@pytest.fixture
def standins(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, tuple[str, StandinControl]]]:
    controls = {name: StandinControl() for name in ("replicate", "openai", "bedrock")}
    urls = {
        "replicate": serve(
            replicate_standin.create_app(
                controls["replicate"], api_token=REPLICATE_TOKEN, seconds_per_step=0.01
            )
        ),
        "openai": serve(openai_standin.create_app(controls["openai"], api_key=OPENAI_KEY)),
        "bedrock": serve(bedrock_standin.create_app(controls["bedrock"])),
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", urls["bedrock"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield {name: (urls[name], controls[name]) for name in urls}


@pytest.fixture
def deps(standins: dict[str, tuple[str, StandinControl]]) -> Iterator[Dependencies]:
    openai = OpenAIProvider(
        OpenAIConfig(base_url=f"{standins['openai'][0]}/v1", retry_backoff_s=0.01),
        api_key=lambda: OPENAI_KEY,
    )
    replicate = ReplicateProvider(
        lambda: REPLICATE_TOKEN,
        ReplicateConfig(base_url=standins["replicate"][0], poll_interval_s=0.05, **COMMUNITY),
    )
    bedrock = BedrockProvider(BedrockConfig(region="us-west-2", max_attempts=1))
    deps = fake_dependencies()
    deps.providers = ProviderRegistry(
        {"replicate": replicate, "openai": openai, "bedrock": bedrock}, "bedrock"
    )
    # A refusal may move on, so that a call Replicate billed is followed by another provider's.
    deps.failover_on_policy = True
    yield deps
    openai.close()


def _request(provider: str, prompt: str) -> GenerationRequest:
    return GenerationRequest(
        sketch=sketch_data_url(),
        prompt=prompt,
        provider=provider,
        params=GenerationParams(seed=11, steps=3, width=512, height=512),
    )


def _bill(url: str) -> int:
    billing = httpx.get(f"{url}/_control/billing", timeout=10).json()
    return sum(usd_to_micros(call["usd"]) for call in billing["calls"])


def test_the_ledger_equals_what_the_standins_billed(
    deps: Dependencies, standins: dict[str, tuple[str, StandinControl]]
) -> None:
    # Replicate's prediction runs, then is refused: billed for its seconds all the same.
    standins["replicate"][1].set_script([{"outcome": "moderation"}])
    jobs = [
        submit_generation(_request("replicate", "a red balloon"), user_id="ada", deps=deps),
        submit_generation(_request("openai", "a green hill"), user_id="ada", deps=deps),
        submit_generation(_request("replicate", "a blue kite"), user_id="ada", deps=deps),
    ]
    for job in jobs:
        process_job(job.id, receive_count=1, deps=deps)
    hit = submit_generation(_request("openai", "a green hill"), user_id="ada", deps=deps)

    records = [deps.jobs.get(job.id) for job in [*jobs, hit]]
    assert all(r is not None and r.status is JobStatus.SUCCEEDED for r in records), records
    first = records[0]
    assert first is not None and first.hops[0].provider == "replicate"
    assert first.provider != "replicate"  # it failed over after the billed refusal
    assert hit.cached is True

    ledger = deps.ledger
    assert isinstance(ledger, FakeUsageLedger)
    ledger_micros = sum(entry.actual_micros for entry in ledger.entries)
    jobs_micros = sum(usd_to_micros(r.cost_usd or 0.0) for r in records if r is not None)
    billed_micros = sum(_bill(url) for url, _ in standins.values())
    today = deps.clock().date()
    report = usage_report(deps, user_id="ada", start=today, end=today, group_by="provider")

    assert billed_micros > 0
    assert ledger_micros == jobs_micros == billed_micros == usd_to_micros(report.total_cost_usd)
    assert {group.key for group in report.groups} >= {"replicate", "openai"}
    assert report.cache_hits == 1 and report.saved_usd > 0
    # Every entry says how its cost was derived, from what the provider reported.
    assert {entry.basis for entry in ledger.entries if entry.kind == "call"} <= {
        "replicate_predict_time",
        "openai_usage_tokens",
        "bedrock_per_image",
    }
    assert date.fromisoformat(ledger.entries[0].at[:10]) == today
