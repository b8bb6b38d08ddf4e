"""The Replicate models Sketchbridge can run, and how a request becomes each one's input.

An entry says everything that differs between models: which model (an *official* model,
run by name through ``/v1/models/{owner}/{name}/predictions``, or a *community* model
pinned to a version and run through ``/v1/predictions``), the input field names and how the
generic request maps onto them, which preprocessing target it wants, the ranges it accepts
(``ProviderCapabilities.parameters``) and its price model (``domain/pricing.py``'s table:
per image for an official model, per second of its hardware for a community one). The
admin picks one with ``REPLICATE_MODEL`` or ``PUT /admin/providers/replicate {"model"}``;
a model not in the catalog is refused there (``catalog_entry`` raises ``ValueError``).

    model                              runs by   wants                        billed
    black-forest-labs/flux-canny-dev   name      the clean sketch (it finds   per image
                                                 the edges itself), 16 px
    jagilley/controlnet-scribble       version   a scribble map (lines.py),   per second
                                                 dark strokes on white, 64 px  (L40S)

FLUX canny-dev is the default because it is an *official* model: kept warm, priced per
image, no version to pin. A community model such as the scribble one may cold-boot for
minutes when it has not run lately, past what a person at a canvas will wait (the quote's
typical seconds do not include a cold boot).

Sources: FLUX canny [dev]'s inputs as the stand-in plays them (``local/standins/``) and as
recorded in ``../shared/providers/replicate.md``; the scribble model's inputs (``image``,
``prompt``, ``ddim_steps``, ``scale`` 0.1..30, ``seed``, ``eta``, ``a_prompt``,
``n_prompt``, ``num_samples`` "1"|"4", ``image_resolution`` "256"|"512"|"768") as its
Replicate page lists them, quoted by public client code. Pure data and pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from sketchbridge.domain.models import MAX_SEED
from sketchbridge.domain.parameters import ParameterRange, ParameterRanges
from sketchbridge.domain.pricing import PRICE_TABLE, PriceModel
from sketchbridge.preprocessing.fit import ControlKind
from sketchbridge.providers.base import ProviderCapabilities, ProviderRequest

# request, the picture's URL (data: or uploaded), output format → the model's input.
InputMapping = Callable[[ProviderRequest, str, str], dict[str, Any]]

_SEED = ParameterRange(0, MAX_SEED, 0, "seed", integer=True)


@dataclass(frozen=True)
class ReplicateModel:
    """One model of the catalog: what it is called, wants, accepts and costs."""

    name: str  # owner/name
    version: str | None  # a community model's pinned version; None: an official model
    summary: str  # what the model does with a sketch, for GET /providers
    image_target: str  # the preprocessing target (preprocessing/targets.py) submit fits to
    control: ControlKind  # the control map the model conditions on
    # The paper's colour of the picture the model is sent: FLUX reads a sketch (white
    # paper); the scribble model reads dark strokes on white and inverts them itself.
    paper: tuple[int, int, int]
    capabilities: ProviderCapabilities
    map_input: InputMapping
    # The generic parameters as this model runs them, under its own names (params_native).
    native_parameters: Callable[[ProviderRequest], dict[str, Any]]

    @property
    def official(self) -> bool:
        return self.version is None

    @property
    def price(self) -> PriceModel:
        return PRICE_TABLE["replicate"][self.name]

    def model_input(
        self, request: ProviderRequest, image: str, *, output_format: str = "png"
    ) -> dict[str, Any]:
        return self.map_input(request, image, output_format)


# --- FLUX.1 Canny [dev] --------------------------------------------------------------------

# FLUX canny [dev]'s guidance is four times classic CFG (its recommended 30 ~ CFG 7.5).
FLUX_GUIDANCE_FACTOR = 4.0
_FLUX_MAX_GUIDANCE = 100.0


def _flux_native(request: ProviderRequest) -> dict[str, Any]:
    return {
        "num_inference_steps": request.steps,
        "guidance": min(request.guidance_scale * FLUX_GUIDANCE_FACTOR, _FLUX_MAX_GUIDANCE),
        "seed": request.seed,
        "megapixels": "match_input",
    }


def _flux_input(request: ProviderRequest, image: str, output_format: str) -> dict[str, Any]:
    return {
        "prompt": request.prompt,
        "control_image": image,
        **_flux_native(request),
        "num_outputs": 1,
        "output_format": output_format,
    }


FLUX_CANNY_DEV = ReplicateModel(
    name="black-forest-labs/flux-canny-dev",
    version=None,
    summary=(
        "follows the lines of the sketch and paints what the prompt describes. Honours the "
        "seed; has no negative prompt and no strength setting (the drawing's lines always lead)."
    ),
    image_target="replicate-flux-canny",
    control="sketch",
    paper=(255, 255, 255),
    capabilities=ProviderCapabilities(
        image_input=True,
        seed=True,
        negative_prompt=False,
        # FLUX works on 16-pixel latents; "match_input" caps the output at 1440 x 1440.
        min_side=256,
        max_side=1440,
        size_multiple=16,
        max_steps=50,
        progress="steps",
        parameters=ParameterRanges(
            steps=ParameterRange(1, 50, 28, "num_inference_steps", integer=True),
            # guidance 0..100 natively: the generic scale is a quarter of it.
            guidance_scale=ParameterRange(
                0.0, 25.0, 7.5, "guidance", to_native=lambda g: g * FLUX_GUIDANCE_FACTOR
            ),
            seed=_SEED,
        ),
    ),
    map_input=_flux_input,
    native_parameters=_flux_native,
)


# --- ControlNet scribble (Stable Diffusion 1.5), jagilley/controlnet-scribble ----------------

# The version public clients pin (e.g. omyo96/NextNovel AI-Server/diffusion.py, which links
# replicate.com/jagilley/controlnet-scribble/versions/435061a1...#input); not recorded in
# ../shared/providers/ [?]. REPLICATE_MODEL_VERSION (or "owner/name:version") pins another.
CONTROLNET_SCRIBBLE_VERSION = "435061a1b5a4c1e26740464bf786efdfa9cb3a3ac488595a2de23e143fdb0117"
# The model's choices: the short side of its working size, which it rounds to 64 px.
SCRIBBLE_RESOLUTIONS = (256, 512, 768)
# The model's own defaults, kept: its "added prompt" and negative prompt are what it was
# tuned with; a request's negative prompt is appended to the latter.
SCRIBBLE_ADDED_PROMPT = "best quality, extremely detailed"
SCRIBBLE_NEGATIVE_PROMPT = (
    "longbody, lowres, bad anatomy, bad hands, missing fingers, extra digit, fewer digits, "
    "cropped, worst quality, low quality"
)


def scribble_resolution(width: int, height: int) -> int:
    """The model's ``image_resolution`` nearest the picture's short side (ties: the larger)."""
    short = min(width, height)
    return min(SCRIBBLE_RESOLUTIONS, key=lambda option: (abs(option - short), -option))


def _scribble_native(request: ProviderRequest) -> dict[str, Any]:
    negative = SCRIBBLE_NEGATIVE_PROMPT
    if request.negative_prompt:
        negative = f"{request.negative_prompt}, {negative}"
    return {
        "ddim_steps": request.steps,
        "scale": request.guidance_scale,
        "seed": request.seed,
        "image_resolution": str(scribble_resolution(request.width, request.height)),
        "a_prompt": SCRIBBLE_ADDED_PROMPT,
        "n_prompt": negative,
    }


def _scribble_input(request: ProviderRequest, image: str, _format: str) -> dict[str, Any]:
    # No output format: the model writes PNG, which the adapter hands on as it is.
    return {
        "image": image,
        "prompt": request.prompt,
        **_scribble_native(request),
        "num_samples": "1",
    }


CONTROLNET_SCRIBBLE = ReplicateModel(
    name="jagilley/controlnet-scribble",
    version=CONTROLNET_SCRIBBLE_VERSION,
    summary=(
        "draws what the prompt describes along the strokes of the sketch (sent as an "
        "even-width scribble map), with Stable Diffusion 1.5 and ControlNet scribble. Honours "
        "the seed and the negative prompt; has no strength setting."
    ),
    image_target="replicate-controlnet-scribble",
    control="scribble",
    paper=(255, 255, 255),
    capabilities=ProviderCapabilities(
        image_input=True,
        seed=True,
        negative_prompt=True,
        # It works at 256/512/768 on the short side in 64 px blocks; the picture is then
        # resized to the size asked for (targets.py's replicate-controlnet-scribble).
        min_side=256,
        max_side=1024,
        size_multiple=64,
        max_steps=100,
        progress="steps",
        parameters=ParameterRanges(
            # [?] the page gives no bound for ddim_steps; 100 is ControlNet's own slider.
            steps=ParameterRange(1, 100, 20, "ddim_steps", integer=True),
            guidance_scale=ParameterRange(0.1, 30.0, 9.0, "scale"),
            seed=_SEED,
        ),
    ),
    map_input=_scribble_input,
    native_parameters=_scribble_native,
)


CATALOG: MappingProxyType[str, ReplicateModel] = MappingProxyType(
    {entry.name: entry for entry in (FLUX_CANNY_DEV, CONTROLNET_SCRIBBLE)}
)
DEFAULT_MODEL = FLUX_CANNY_DEV.name


@dataclass(frozen=True)
class ChosenModel:
    """A catalog entry and the version it runs (None: the official model by name)."""

    entry: ReplicateModel
    version: str | None

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def route(self) -> Literal["model", "version"]:
        return "model" if self.version is None else "version"


def catalog_entry(model: str, version: str | None = None) -> ChosenModel:
    """The catalog's entry for ``owner/name`` (or ``owner/name:version``), pinned to
    ``version`` if given, else to the entry's own; ValueError naming the choices if the
    catalog does not have it."""
    name, _, pinned = model.strip().partition(":")
    entry = CATALOG.get(name)
    if entry is None:
        known = ", ".join(CATALOG)
        raise ValueError(
            f"Replicate's catalog has no model {model!r}: choose an owner/name of {known} "
            "(a community model may add :version)"
        )
    chosen_version = pinned or version or entry.version
    if chosen_version is not None and not chosen_version.strip():
        chosen_version = entry.version
    return ChosenModel(entry, chosen_version)
