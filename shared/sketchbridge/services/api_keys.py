"""API keys: create (shown once), list without secrets, revoke; and the authorizer's check.

Keys authenticate only the drop-in routes (``/openai/v1/*``, ``/replicate/v1/*``); the rest
of the API keeps its JWT. On AWS the check runs in a Lambda authorizer whose answers API
Gateway caches (``KEY_AUTHORIZER_CACHE_SECONDS``), so a revoked key stops working within that
time; the local gateway runs the same function on every request, without a cache.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sketchbridge.domain import clock as calendar
from sketchbridge.domain.api_keys import (
    ApiKeyRecord,
    CreatedKeyResponse,
    KeyCreateRequest,
    KeyIdentity,
    KeysResponse,
    bearer_token,
    new_key,
    new_webhook_secret,
    parse_key,
    secret_matches,
)
from sketchbridge.domain.errors import InvalidRequestError, NotFoundError

# Matches ReauthorizeEvery on the template's KeyAuthorizer: how long a revoked key may live on.
KEY_AUTHORIZER_CACHE_SECONDS = 60
# A user's keys; more is a leak waiting to happen, not a use case.
MAX_KEYS_PER_USER = 20


class ApiKeyStore(Protocol):
    def create(self, record: ApiKeyRecord) -> None: ...

    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    def for_user(self, user_id: str) -> list[ApiKeyRecord]:
        """The user's keys, oldest first."""
        ...

    def delete(self, key_id: str, *, user_id: str) -> bool:
        """Remove the key if it is the user's; False when there was no such key of theirs."""
        ...


def create_key(
    request: KeyCreateRequest,
    *,
    user_id: str,
    keys: ApiKeyStore,
    clock: Callable[[], datetime] = calendar.utc_now,
) -> CreatedKeyResponse:
    if len(keys.for_user(user_id)) >= MAX_KEYS_PER_USER:
        raise InvalidRequestError(
            f"You have {MAX_KEYS_PER_USER} keys already.",
            suggestions=("Revoke a key you no longer use (DELETE /keys/{id}), then try again.",),
        )
    fresh = new_key()
    record = ApiKeyRecord(
        id=fresh.key_id,
        user_id=user_id,
        name=request.name,
        scopes=list(request.scopes),
        secret_hash=fresh.secret_hash,
        webhook_secret=new_webhook_secret(),
        created_at=clock().isoformat(),
    )
    keys.create(record)
    return CreatedKeyResponse(**record.as_response().model_dump(), key=fresh.key)


def list_keys(*, user_id: str, keys: ApiKeyStore) -> KeysResponse:
    return KeysResponse(items=[record.as_response() for record in keys.for_user(user_id)])


def revoke_key(key_id: str, *, user_id: str, keys: ApiKeyStore) -> None:
    """Delete the key at once; another user's key, like an unknown one, is a 404."""
    if not keys.delete(key_id, user_id=user_id):
        raise NotFoundError(
            f"There is no key {key_id!r}.",
            suggestions=("GET /keys lists your keys and their ids.",),
        )


def authorize(authorization: str, *, keys: ApiKeyStore) -> KeyIdentity | None:
    """Who the ``Authorization`` header's key speaks for, or None (malformed, unknown, revoked)."""
    parsed = parse_key(bearer_token(authorization))
    if parsed is None:
        return None
    key_id, secret = parsed
    record = keys.get(key_id)
    if record is None or not secret_matches(secret, record.secret_hash):
        return None
    return KeyIdentity(user_id=record.user_id, key_id=record.id, scopes=tuple(record.scopes))


def owned_key(key_id: str, *, user_id: str, keys: ApiKeyStore) -> ApiKeyRecord:
    record = keys.get(key_id)
    if record is None or record.user_id != user_id:
        raise NotFoundError("This key no longer exists.")
    return record
