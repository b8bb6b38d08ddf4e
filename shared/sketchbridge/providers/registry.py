"""Which providers exist and how ``auto`` resolves.

Adding a provider is one module plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.bedrock import BedrockConfig, BedrockProvider
from sketchbridge.providers.local import LocalProvider
from sketchbridge.providers.openai_images import OpenAIConfig, OpenAIProvider
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

AUTO = "auto"


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, ImageProvider], default: str) -> None:
        if default not in providers:
            raise ValueError(f"default provider {default!r} is not registered")
        self._providers = dict(providers)
        self.default = default

    @property
    def names(self) -> list[str]:
        return list(self._providers)

    def all(self) -> list[ImageProvider]:
        return list(self._providers.values())

    def resolve(self, requested: str) -> ImageProvider:
        """The provider a request names; ``auto`` is the default until selection lands."""
        name = self.default if requested == AUTO else requested
        try:
            return self._providers[name]
        except KeyError:
            known = ", ".join([AUTO, *self._providers])
            raise UnknownProviderError(
                f"There is no provider called {requested!r}. Choose one of: {known}."
            ) from None


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


def default_registry() -> ProviderRegistry:
    return ProviderRegistry({"local": LocalProvider()}, default="local")
