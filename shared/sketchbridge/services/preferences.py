"""``GET/PUT/DELETE /preferences``, and their use at submit.

Preferences are keyed by the token's ``sub``: they follow the user to any device or token.
A submit reads them (one GetItem) only when the request leaves a field out.
"""

from __future__ import annotations

from typing import TypeVar

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.domain.models import (
    GenerationRequest,
    PreferencesRequest,
    PreferencesResponse,
)
from sketchbridge.domain.preferences import (
    apply_preferences,
    leaves_fields_out,
    preferences_view,
    updated_preferences,
)
from sketchbridge.providers.registry import AUTO
from sketchbridge.services.ports import Dependencies

Request = TypeVar("Request", bound=GenerationRequest)


def get_preferences(*, user_id: str, deps: Dependencies) -> PreferencesResponse:
    return preferences_view(deps.preferences.get(user_id))


def save_preferences(
    change: PreferencesRequest, *, user_id: str, deps: Dependencies
) -> PreferencesResponse:
    """Change the fields sent; a provider must be one this deployment has, as at submit."""
    if change.provider is not None and change.provider != AUTO:
        deps.providers.resolve(change.provider)  # unknown_provider (400) otherwise
    saved = updated_preferences(
        deps.preferences.get(user_id), change, user_id=user_id, at=deps.clock().isoformat()
    )
    deps.preferences.put(saved)
    return preferences_view(saved)


def reset_preferences(*, user_id: str, deps: Dependencies) -> PreferencesResponse:
    deps.preferences.delete(user_id)
    return preferences_view(None)


def with_preferences(request: Request, *, user_id: str, deps: Dependencies) -> Request:
    """The request as the user means it: their preferences where it left fields out."""
    if not leaves_fields_out(request):
        return request
    saved = deps.preferences.get(user_id)
    applied = apply_preferences(request, saved)
    preferred = saved.provider if saved is not None else None
    if (
        preferred is not None
        and "provider" not in request.model_fields_set
        and preferred != AUTO
        and preferred not in deps.providers.names
    ):
        raise UnknownProviderError(
            f"Your preferences name the provider {preferred!r}, which is no longer offered.",
            suggestions=(
                'Send "provider" with the request, or choose another with PUT /preferences.',
            ),
        )
    return applied
