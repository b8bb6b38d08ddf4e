"""The OpenAI adapter's configuration: what an operator sets, and what it refuses."""

from __future__ import annotations

from datetime import date

import pytest

from sketchbridge.providers.openai_images import (
    DEFAULT_MODEL,
    OpenAIConfig,
    capabilities_for,
    nearest_size,
    retry_after_seconds,
)


def test_defaults_ask_openai_for_gpt_image_2_with_previews() -> None:
    config = OpenAIConfig.from_env({})

    assert config.model == DEFAULT_MODEL == "gpt-image-2"
    assert config.base_url == "https://api.openai.com/v1"
    assert config.partial_images == 2
    assert config.retires_on is None


def test_every_setting_comes_from_its_variable() -> None:
    config = OpenAIConfig.from_env(
        {
            "OPENAI_BASE_URL": "http://127.0.0.1:4020/v1",
            "OPENAI_IMAGE_MODEL": "gpt-image-1.5",
            "OPENAI_IMAGE_QUALITY": "high",
            "OPENAI_IMAGE_SIZES": "1536x864, 864x1536",
            "OPENAI_PARTIAL_IMAGES": "3",
            "OPENAI_MAX_ATTEMPTS": "1",
            "OPENAI_RETRY_BACKOFF_S": "0.1",
            "OPENAI_CONNECT_TIMEOUT_S": "2",
            "OPENAI_MODEL_RETIREMENTS": "gpt-image-2=2027-06-30",
        }
    )

    assert config.base_url == "http://127.0.0.1:4020/v1"
    assert (config.model, config.quality, config.partial_images) == ("gpt-image-1.5", "high", 3)
    assert config.sizes == ("1536x864", "864x1536")
    assert (config.max_attempts, config.retry_backoff_s, config.connect_timeout_s) == (1, 0.1, 2)
    assert config.retires_on == date(2026, 12, 1)  # gpt-image-1.5, from the known dates
    assert config.retirements["gpt-image-2"] == date(2027, 6, 30)


@pytest.mark.parametrize(
    "environ",
    [
        {"OPENAI_BASE_URL": "http://127.0.0.1:4020"},  # the SDK needs the /v1
        {"OPENAI_IMAGE_QUALITY": "standard"},  # DALL-E only, retired
        {"OPENAI_IMAGE_SIZES": "1024"},
        {"OPENAI_PARTIAL_IMAGES": "4"},
        {"OPENAI_MAX_ATTEMPTS": "0"},
    ],
)
def test_a_setting_openai_cannot_take_is_refused_at_start(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        OpenAIConfig.from_env(environ)


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        ((768, 512), (1536, 1024)),
        ((512, 768), (1024, 1536)),
        ((640, 600), (1024, 1024)),
        ((2048, 512), (1536, 1024)),
    ],
)
def test_the_nearest_accepted_shape_is_chosen(
    requested: tuple[int, int], chosen: tuple[int, int]
) -> None:
    assert nearest_size(*requested, OpenAIConfig().sizes) == chosen


def test_capabilities_follow_the_configured_sizes() -> None:
    default = capabilities_for(OpenAIConfig())
    custom = capabilities_for(OpenAIConfig(sizes=("1536x864", "864x1536"), partial_images=0))

    assert (default.min_side, default.max_side, default.size_multiple) == (1024, 1536, 512)
    assert (custom.min_side, custom.max_side, custom.size_multiple) == (864, 1536, 96)
    assert default.progress == "partial_images" and custom.progress == "none"
    assert not default.seed and not default.negative_prompt


def test_retry_after_prefers_milliseconds_then_seconds() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
