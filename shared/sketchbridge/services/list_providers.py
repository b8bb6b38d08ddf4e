"""What providers exist and what each can do (``GET /providers``)."""

from __future__ import annotations

from sketchbridge.domain.models import (
    ProviderCapabilitiesResponse,
    ProviderResponse,
    ProvidersResponse,
)
from sketchbridge.providers.registry import ProviderRegistry


def list_providers(registry: ProviderRegistry) -> ProvidersResponse:
    return ProvidersResponse(
        default=registry.default,
        providers=[
            ProviderResponse(
                name=provider.name,
                description=provider.description,
                is_ai=provider.is_ai,
                model=provider.model,
                # Health tracking arrives with the provider manager; until then a
                # registered provider is reported healthy.
                status="healthy",
                capabilities=ProviderCapabilitiesResponse(
                    image_input=provider.capabilities.image_input,
                    seed=provider.capabilities.seed,
                    negative_prompt=provider.capabilities.negative_prompt,
                    min_side=provider.capabilities.min_side,
                    max_side=provider.capabilities.max_side,
                    size_multiple=provider.capabilities.size_multiple,
                    max_steps=provider.capabilities.max_steps,
                    progress=provider.capabilities.progress,
                ),
            )
            for provider in registry.all()
        ],
    )
