"""The input image each provider takes: sizes, control map and byte budget.

Figures come from ../shared/providers/ (OpenAI sizes; Stability's 64 px minimum,
1:2.5..2.5:1 ratio and 10 MiB request; Replicate's data URLs, which the
service keeps under 1 MB and otherwise uploads). Providers that are not listed
get ``DEFAULT_SPEC``.
"""

from __future__ import annotations

from sketchbridge.preprocessing.fit import ProviderImageSpec

DATA_URI_BUDGET = 1_000_000

PROVIDER_IMAGE_SPECS: dict[str, ProviderImageSpec] = {
    spec.name: spec
    for spec in (
        ProviderImageSpec(name="local", control="sketch", multiple=8, long_side=768),
        # "auto": the provider is chosen later; every adapter fits this to its sizes.
        ProviderImageSpec(name="auto", control="sketch", multiple=16, long_side=1024),
        ProviderImageSpec(
            name="replicate-controlnet-scribble",
            control="scribble",
            multiple=64,
            min_side=256,
            max_side=1024,
            long_side=768,
            max_bytes=DATA_URI_BUDGET,
            data_uri=True,
        ),
        ProviderImageSpec(
            name="replicate-flux-canny",
            # flux-canny-dev derives the edges from its control image itself, so it gets
            # the clean sketch; that also keeps a failover to another provider honest.
            control="sketch",
            multiple=16,
            min_side=256,
            max_side=1440,
            long_side=1024,
            max_bytes=DATA_URI_BUDGET,
            data_uri=True,
        ),
        ProviderImageSpec(
            name="replicate-sdxl-img2img",
            control="sketch",
            multiple=8,
            min_side=256,
            max_side=1024,
            long_side=1024,
            max_bytes=DATA_URI_BUDGET,
            data_uri=True,
        ),
        ProviderImageSpec(
            name="openai",
            control="sketch",
            allowed_sizes=((1024, 1024), (1536, 1024), (1024, 1536)),
            max_bytes=50 * 1024 * 1024,
        ),
        ProviderImageSpec(
            name="stability-sketch",
            control="sketch",
            multiple=64,
            min_side=64,
            max_side=2048,
            long_side=1024,
            max_aspect=2.5,
            max_bytes=9 * 1024 * 1024,
        ),
    )
}

DEFAULT_SPEC = PROVIDER_IMAGE_SPECS["local"]

# Provider names as the API knows them → the spec of their default model.
PROVIDER_ALIASES: dict[str, str] = {
    "replicate": "replicate-flux-canny",
    "bedrock": "stability-sketch",
}


def target_names() -> list[str]:
    return sorted([*PROVIDER_IMAGE_SPECS, *PROVIDER_ALIASES])


def spec_for(provider: str) -> ProviderImageSpec:
    """The image spec for a provider (or model) name; KeyError for one not listed."""
    return PROVIDER_IMAGE_SPECS[PROVIDER_ALIASES.get(provider, provider)]
