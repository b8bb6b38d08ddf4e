"""The ``replicate`` provider: a catalog model on Replicate, through the ``replicate`` SDK.

Read in this order; each module is small enough to read whole:

    catalog.py     the models we can run (FLUX.1 Canny [dev], ControlNet scribble): each
                   one's input mapping, preprocessing target, parameter ranges and price
    config.py      ReplicateConfig: which catalog model, where, timeouts (environment)
    provider.py    ReplicateProvider: check, send, create, follow, cancel, fetch
    picture.py     the picture each model reads, and the PNG handed back
    client.py      the prediction client over the SDK's own httpx client, within a budget
    prediction.py  a prediction read from raw JSON; the time budget
    progress.py    progress from the logs' tqdm lines
    errors.py      the one error table

``import replicate`` happens on the first call that talks to Replicate, never at import time.
"""

from __future__ import annotations

from typing import Any

from sketchbridge.providers.base import ProviderRequest
from sketchbridge.providers.replicate.catalog import (
    CATALOG,
    CONTROLNET_SCRIBBLE,
    DEFAULT_MODEL,
    FLUX_CANNY_DEV,
    ReplicateModel,
    catalog_entry,
)
from sketchbridge.providers.replicate.config import ReplicateConfig
from sketchbridge.providers.replicate.errors import (
    PROVIDER_NAME,
    retry_after_seconds,
    translate_failure,
)
from sketchbridge.providers.replicate.progress import tqdm_steps
from sketchbridge.providers.replicate.provider import ReplicateProvider

# The default model's capabilities (a deployment's adapter reports its own model's).
REPLICATE_CAPABILITIES = FLUX_CANNY_DEV.capabilities


def model_input(
    request: ProviderRequest, image: str, config: ReplicateConfig | None = None
) -> dict[str, Any]:
    """The configured model's input for a request (the picture already prepared)."""
    config = config or ReplicateConfig()
    return config.chosen.entry.model_input(request, image, output_format=config.output_format)


__all__ = [
    "CATALOG",
    "CONTROLNET_SCRIBBLE",
    "DEFAULT_MODEL",
    "FLUX_CANNY_DEV",
    "PROVIDER_NAME",
    "REPLICATE_CAPABILITIES",
    "ReplicateConfig",
    "ReplicateModel",
    "ReplicateProvider",
    "catalog_entry",
    "model_input",
    "retry_after_seconds",
    "tqdm_steps",
    "translate_failure",
]
