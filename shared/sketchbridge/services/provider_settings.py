"""An admin reads and changes how the deployment uses a provider (``/admin/providers/{name}``).

The settings are the provider's profile (domain/provider_profile.py): defaults in code with
the admin's override laid over them, stored in the providers table. A change is validated
against the defaults before it is stored, and applies from the next request or job that
starts (ProviderManager reads the overrides once per request or job), without a deploy.

How to use::

    get_provider_settings(deps, "replicate")
    change_provider_settings(deps, "replicate", ProviderSettingsRequest(enabled=False))
"""

from __future__ import annotations

from typing import Any

from sketchbridge.domain.errors import InvalidParamsError, NotFoundError
from sketchbridge.domain.models import ProviderSettingsRequest, ProviderSettingsResponse
from sketchbridge.domain.provider_profile import (
    DEFAULT_PROFILES,
    apply_override,
    profile_to_dict,
)
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import ProviderManager


def get_provider_settings(deps: Dependencies, name: str) -> ProviderSettingsResponse:
    """The provider's settings as jobs see them now, and what an admin changed."""
    _known(name)
    return _describe(deps, name, deps.provider_config.overrides([name]).get(name, {}))


def change_provider_settings(
    deps: Dependencies, name: str, request: ProviderSettingsRequest
) -> ProviderSettingsResponse:
    """Lay the request's settings over the stored override; ``null`` drops one."""
    _known(name)
    override = dict(deps.provider_config.overrides([name]).get(name, {}))
    for key in request.model_fields_set:
        value = getattr(request, key)
        if value is None:
            override.pop(key, None)
        elif key == "rate_limit":
            override[key] = value.model_dump()
        else:
            override[key] = value
    model = override.get("model")
    if model is not None and name in deps.providers.names:
        try:
            deps.providers.resolve_model(name, model)
        except ValueError as exc:
            raise InvalidParamsError(f"{name} cannot run the model {model!r}: {exc}") from None
    if override:
        # Refuses (400, invalid_params) what does not apply to the provider's defaults.
        deps.provider_config.put(name, override)
    else:
        # Every setting back to its default: no override is left to read.
        deps.provider_config.clear(name)
    return _describe(deps, name, override)


def _known(name: str) -> None:
    if name not in DEFAULT_PROFILES:
        known = ", ".join(DEFAULT_PROFILES)
        raise NotFoundError(f"There is no provider called {name!r}. Known: {known}.")


def _describe(deps: Dependencies, name: str, override: dict[str, Any]) -> ProviderSettingsResponse:
    deployed = name in deps.providers.names
    manager = ProviderManager(deps)
    # A deployed provider's default price is that of the model it runs.
    model = override.get("model")
    default = manager.default_profile(name, model=model) if deployed else DEFAULT_PROFILES[name]
    profile = apply_override(default, override)
    response: dict[str, Any] = {
        "name": name,
        "deployed": deployed,
        "settings": profile_to_dict(profile),
        "override": override,
        "model": model,
    }
    if deployed:
        status = manager.statuses(now=deps.clock().timestamp())[name]
        response |= {
            "model": manager.provider(name).model,
            "status": status.health,
            "reason": status.reason,
        }
    return ProviderSettingsResponse.model_validate(response)
