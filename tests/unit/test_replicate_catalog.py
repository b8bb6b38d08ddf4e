"""Replicate's model catalog: what an admin can pick, and what picking it changes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sketchbridge.domain.errors import AuthFailedError, InvalidParamsError
from sketchbridge.domain.models import GenerationRequest, ProviderSettingsRequest
from sketchbridge.domain.pricing import PerImage, PerSecond
from sketchbridge.preprocessing.lines import is_control_map
from sketchbridge.providers.base import ProviderRequest
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import (
    CATALOG,
    CONTROLNET_SCRIBBLE,
    FLUX_CANNY_DEV,
    ReplicateConfig,
    ReplicateProvider,
    catalog_entry,
)
from sketchbridge.providers.replicate.picture import model_picture
from sketchbridge.services.list_providers import list_providers
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_settings import change_provider_settings
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import fake_dependencies, sketch_data_url


def _replicate_deps() -> Dependencies:
    deps = fake_dependencies()
    deps.providers = ProviderRegistry({"replicate": ReplicateProvider(lambda: None)}, "replicate")
    return deps


def _request(**overrides: object) -> ProviderRequest:
    sketch = Image.new("RGB", (200, 100), "white")
    sketch.paste((0, 0, 0), (40, 40, 160, 52))
    values: dict[str, object] = {
        "sketch": sketch,
        "prompt": "a cat",
        "negative_prompt": "blurry",
        "seed": 3,
        "steps": 20,
        "strength": 0.75,
        "guidance_scale": 7.5,
        "width": 768,
        "height": 512,
    }
    values.update(overrides)
    return ProviderRequest(**values)  # type: ignore[arg-type]


def test_the_catalog_ships_flux_canny_dev_by_name_and_controlnet_scribble_by_version() -> None:
    assert set(CATALOG) == {"black-forest-labs/flux-canny-dev", "jagilley/controlnet-scribble"}
    assert FLUX_CANNY_DEV.official and isinstance(FLUX_CANNY_DEV.price, PerImage)
    assert not CONTROLNET_SCRIBBLE.official and isinstance(CONTROLNET_SCRIBBLE.price, PerSecond)
    assert len(CONTROLNET_SCRIBBLE.version or "") == 64


def test_each_model_declares_its_ranges_under_its_own_names() -> None:
    flux = FLUX_CANNY_DEV.capabilities.parameters
    scribble = CONTROLNET_SCRIBBLE.capabilities.parameters
    assert flux.steps is not None and scribble.steps is not None
    assert (flux.steps.native_name, flux.steps.maximum) == ("num_inference_steps", 50)
    assert (scribble.steps.native_name, scribble.steps.maximum) == ("ddim_steps", 100)
    assert flux.guidance_scale is not None and flux.guidance_scale.native_name == "guidance"
    assert scribble.guidance_scale is not None and scribble.guidance_scale.native_name == "scale"
    assert "strength" in flux.ignored() and "strength" in scribble.ignored()


def test_the_scribble_model_gets_its_own_inputs_and_the_request_s_negative_prompt() -> None:
    sent = CONTROLNET_SCRIBBLE.model_input(_request(), "data:image/png;base64,AAAA")

    assert set(sent) == {
        "image",
        "prompt",
        "ddim_steps",
        "scale",
        "seed",
        "image_resolution",
        "a_prompt",
        "n_prompt",
        "num_samples",
    }
    assert (sent["ddim_steps"], sent["scale"], sent["seed"]) == (20, 7.5, 3)
    assert sent["image_resolution"] == "512"  # the short side of 768 x 512
    assert sent["n_prompt"].startswith("blurry, ")


def test_flux_guidance_is_four_times_the_generic_scale() -> None:
    assert FLUX_CANNY_DEV.native_parameters(_request())["guidance"] == 30.0


def test_a_model_outside_the_catalog_is_refused_naming_the_catalog() -> None:
    with pytest.raises(ValueError, match="jagilley/controlnet-scribble"):
        catalog_entry("rossjillian/controlnet")
    pinned = catalog_entry("jagilley/controlnet-scribble:" + "b" * 64)
    assert (pinned.entry, pinned.version) == (CONTROLNET_SCRIBBLE, "b" * 64)


def test_the_scribble_model_is_sent_an_even_scribble_map_as_dark_strokes_on_white() -> None:
    png = model_picture(_request().sketch, CONTROLNET_SCRIBBLE, 768, 512)

    with Image.open(io.BytesIO(png)) as picture:
        assert picture.size == (768, 512)
        inverted = Image.fromarray(255 - np.asarray(picture.convert("L")))
    assert is_control_map(inverted, "scribble")  # lines.py's map, inverted for the model
    assert np.asarray(picture.convert("L"))[0, 0] == 255  # white paper around it


def test_an_admin_picks_the_scribble_model_and_providers_show_its_ranges() -> None:
    deps = _replicate_deps()

    change_provider_settings(
        deps, "replicate", ProviderSettingsRequest(model="jagilley/controlnet-scribble")
    )
    [shown] = list_providers(deps).providers

    assert shown.model == "jagilley/controlnet-scribble"
    assert shown.capabilities.max_steps == 100
    assert shown.capabilities.size_multiple == 64
    assert shown.price["kind"] == "per_second"


def test_an_admin_cannot_pick_a_model_outside_the_catalog() -> None:
    deps = _replicate_deps()

    with pytest.raises(InvalidParamsError, match="owner/name of black-forest-labs"):
        change_provider_settings(deps, "replicate", ProviderSettingsRequest(model="some/model"))
    assert deps.provider_config.overrides(["replicate"]) == {}


def test_with_the_scribble_model_chosen_submit_stores_its_scribble_map() -> None:
    deps = _replicate_deps()
    change_provider_settings(
        deps, "replicate", ProviderSettingsRequest(model="jagilley/controlnet-scribble")
    )
    request = GenerationRequest.model_validate(
        {"sketch": sketch_data_url(), "prompt": "a turtle", "provider": "replicate"}
    )

    job = submit_generation(request, user_id="ada", deps=deps)

    stored = deps.jobs.get(job.id)
    assert stored is not None and stored.model == "jagilley/controlnet-scribble"
    with Image.open(io.BytesIO(deps.objects.get(stored.sketch_key))) as sketch:
        assert is_control_map(sketch, "scribble")


def test_the_default_configuration_runs_flux_canny_dev() -> None:
    provider = ReplicateProvider(lambda: None, ReplicateConfig())
    assert (provider.model, provider.image_target) == (FLUX_CANNY_DEV.name, "replicate-flux-canny")
    assert provider.capabilities == FLUX_CANNY_DEV.capabilities


def test_the_adapter_refuses_values_outside_its_model_s_ranges_rather_than_clamp() -> None:
    flux = ReplicateProvider(lambda: None)

    with pytest.raises(InvalidParamsError, match=r"steps must be in 1\.\.50 \(num_inference_steps"):
        flux.generate(_request(steps=80), lambda _: None)
    with pytest.raises(InvalidParamsError, match=r"guidance_scale must be in 0\.\.25 \(guidance"):
        flux.generate(_request(guidance_scale=28.0), lambda _: None)
    # The scribble model takes 80 steps; without a key it then stops at the key.
    scribble = flux.with_model("jagilley/controlnet-scribble")
    with pytest.raises(AuthFailedError):
        scribble.generate(_request(steps=80), lambda _: None)
