"""The rules of a user's preferences: what a change saves, and what a request gets.

A preference fills a field only where the request left it out: a field the client sent
wins even when it sent the default value (pydantic's ``model_fields_set`` tells the two
apart), and within ``params`` and ``preprocessing`` each value counts on its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from sketchbridge.domain.errors import InvalidRequestError
from sketchbridge.domain.models import (
    GenerationParams,
    GenerationRequest,
    PreferencesRecord,
    PreferencesRequest,
    PreferencesResponse,
    PreprocessingOptions,
)

Request = TypeVar("Request", bound=GenerationRequest)

# The request's fields a preference may fill, besides the two nested ones.
SCALAR_FIELDS = ("provider", "policy", "max_cost_usd", "max_eta_s")
NESTED_FIELDS = ("params", "preprocessing")


def leaves_fields_out(request: GenerationRequest) -> bool:
    """Could a preference change this request? False only when it names every field itself."""
    sent = request.model_fields_set
    if any(name not in sent for name in (*SCALAR_FIELDS, *NESTED_FIELDS)):
        return True
    return request.params.model_fields_set != set(
        GenerationParams.model_fields
    ) or request.preprocessing.model_fields_set != set(PreprocessingOptions.model_fields)


def apply_preferences(request: Request, saved: PreferencesRecord | None) -> Request:
    """The request with the saved preferences where it left fields out."""
    if saved is None:
        return request
    sent = request.model_fields_set
    body: dict[str, Any] = request.model_dump(exclude_unset=True, by_alias=True)
    for name in SCALAR_FIELDS:
        value = getattr(saved, name)
        if name not in sent and value is not None:
            body[name] = value
    for name in NESTED_FIELDS:
        preferred: dict[str, Any] = getattr(saved, name)
        if preferred:
            body[name] = {**preferred, **body.get(name, {})}
    try:
        return type(request).model_validate(body)
    except ValidationError as exc:
        # Each saved value passed the same checks; only a combination can fail.
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        raise InvalidRequestError(
            f"{where}: {problem['msg']} (with your saved preferences applied)",
            suggestions=("Send the field yourself, or change it with PUT /preferences.",),
            details={"field": where},
        ) from exc


def updated_preferences(
    saved: PreferencesRecord | None, change: PreferencesRequest, *, user_id: str, at: str
) -> PreferencesRecord:
    """The preferences after a ``PUT``: the fields it sent replace those saved, ``null``
    forgets one; ``params`` and ``preprocessing`` change only the values they name."""
    current = saved or PreferencesRecord(user_id=user_id, updated_at=at)
    update: dict[str, Any] = {"user_id": user_id, "updated_at": at}
    sent = change.model_fields_set
    for name in SCALAR_FIELDS:
        if name in sent:
            update[name] = getattr(change, name)
    for name in NESTED_FIELDS:
        if name not in sent:
            continue
        nested = getattr(change, name)
        update[name] = (
            {}
            if nested is None
            else {**getattr(current, name), **nested.model_dump(exclude_unset=True)}
        )
    return current.model_copy(update=update)


def preferences_view(saved: PreferencesRecord | None) -> PreferencesResponse:
    """What a request that leaves every field out gets: the saved values over the defaults."""
    if saved is None:
        return PreferencesResponse()
    defaults = PreferencesResponse()
    return PreferencesResponse(
        provider=saved.provider or defaults.provider,
        policy=saved.policy or defaults.policy,
        max_cost_usd=saved.max_cost_usd,
        max_eta_s=saved.max_eta_s,
        params=GenerationParams.model_validate(saved.params),
        preprocessing=PreprocessingOptions.model_validate(saved.preprocessing),
        updated_at=saved.updated_at,
    )
