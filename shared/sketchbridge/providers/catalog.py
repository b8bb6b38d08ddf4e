"""Every provider there is, and how to build the enabled ones from configuration.

Adding a provider is one module plus one line in ``FACTORIES``. Only the
composition root imports this module, so the use cases never depend on an SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
from sketchbridge.providers.registry import ProviderRegistry
from sketchbridge.providers.replicate import ReplicateConfig, ReplicateProvider

# Given a provider name, a callable that returns its current key (or None).
KeyReader = Callable[[str], Callable[[], str | None]]
ProviderFactory = Callable[[KeyReader, Mapping[str, str]], ImageProvider]

# Every provider there is: adding one is a module plus one line here. Building
# one reads configuration only; no SDK is imported and nothing is called.
FACTORIES: dict[str, ProviderFactory] = {
    "local": lambda keys, environ: LocalProvider(),
    "replicate": lambda keys, environ: ReplicateProvider(
        keys("replicate"), ReplicateConfig.from_env(environ)
    ),
    "openai": lambda keys, environ: OpenAIProvider(
        OpenAIConfig.from_env(environ), api_key=keys("openai")
    ),
    "bedrock": lambda keys, environ: BedrockProvider(BedrockConfig.from_env(environ)),
}


def build_registry(
    enabled: Sequence[str], *, keys: KeyReader, environ: Mapping[str, str]
) -> ProviderRegistry:
    """The enabled providers, the first being the default for ``auto``."""
    unknown = [name for name in enabled if name not in FACTORIES]
    if unknown or not enabled:
        raise ValueError(
            f"ENABLED_PROVIDERS must name some of {', '.join(FACTORIES)}; got {list(enabled)}"
        )
    providers = {name: FACTORIES[name](keys, environ) for name in enabled}
    return ProviderRegistry(providers, default=enabled[0])
