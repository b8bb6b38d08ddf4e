"""The providers a deployment has, and how ``auto`` resolves.

Which providers exist and how each is built is in ``catalog.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.providers.base import ImageProvider

AUTO = "auto"


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, ImageProvider], default: str) -> None:
        if default not in providers:
            raise ValueError(f"default provider {default!r} is not registered")
        self._providers = dict(providers)
        self.default = default
        # Adapters running an admin's choice of model, built once per (provider, model).
        self._with_model: dict[tuple[str, str], ImageProvider] = {}

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

    def resolve_model(self, requested: str, model: str | None) -> ImageProvider:
        """The provider a request names, running ``model`` instead of its configured one
        (an admin's choice: ProviderProfile.model); ValueError when it cannot run that model.
        """
        provider = self.resolve(requested)
        if model is None or model == provider.model:
            return provider
        key = (provider.name, model)
        if key not in self._with_model:
            choose = getattr(provider, "with_model", None)
            if choose is None:
                raise ValueError(f"{provider.name} runs its one model ({provider.model}) only")
            chosen: ImageProvider = choose(model)
            self._with_model[key] = chosen
        return self._with_model[key]


def default_registry() -> ProviderRegistry:
    # Imported here: the local renderer brings numpy and Pillow, which a registry
    # built from the catalog may never need.
    from sketchbridge.providers.local import LocalProvider

    return ProviderRegistry({"local": LocalProvider()}, default="local")
