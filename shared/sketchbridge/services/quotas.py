"""Admins' quotas per user: requests per minute and jobs in flight.

The deployment's defaults come from configuration (``USER_REQUESTS_PER_MINUTE``,
``USER_JOBS_IN_FLIGHT``); an admin's override replaces either for one user and is read by
that user's very next submit.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sketchbridge.domain.budgets import validated_quota
from sketchbridge.domain.errors import InternalError, InvalidParamsError
from sketchbridge.domain.models import QuotaRequest, QuotaResponse
from sketchbridge.services.ports import BudgetStore, Dependencies
from sketchbridge.services.reservations import effective_quota


def quota_request(payload: Any) -> QuotaRequest:
    """A request body as a ``QuotaRequest``; what is wrong with it as ``invalid_params``."""
    try:
        return QuotaRequest.model_validate(payload)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        raise InvalidParamsError(f"{field}: {problem['msg']}") from exc


def get_quota(deps: Dependencies, sub: str) -> QuotaResponse:
    user_id = _user(sub)
    store = _store(deps)
    quota = effective_quota(store, deps, user_id)
    return QuotaResponse(
        sub=user_id,
        requests_per_minute=quota.requests_per_minute,
        jobs_in_flight=quota.jobs_in_flight,
        in_flight=store.jobs_in_flight(user_id),
        source=quota.source,
    )


def put_quota(deps: Dependencies, sub: str, request: QuotaRequest) -> QuotaResponse:
    """Override the user's quotas (a None field keeps the deployment's default)."""
    user_id = _user(sub)
    _store(deps).put_quota(
        user_id, validated_quota(request.requests_per_minute, request.jobs_in_flight)
    )
    return get_quota(deps, user_id)


def delete_quota(deps: Dependencies, sub: str) -> None:
    """Back to the deployment's defaults for this user."""
    _store(deps).delete_quota(_user(sub))


def _user(sub: str) -> str:
    user_id = sub.removeprefix("user:")
    if not user_id.strip():
        raise InvalidParamsError("Name the user by their sub.")
    return user_id


def _store(deps: Dependencies) -> BudgetStore:
    if deps.budgets is None:
        raise InternalError("Quotas are not configured on this deployment.")
    return deps.budgets
