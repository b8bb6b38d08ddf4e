"""The providers a deployment has, and how ``auto`` resolves.

Which providers exist and how each is built is in ``catalog.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.providers.base import ImageProvider
from sketchbridge.providers.local import LocalProvider

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


def default_registry() -> ProviderRegistry:
    return ProviderRegistry({"local": LocalProvider()}, default="local")
