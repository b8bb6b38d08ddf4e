"""API keys for programmatic clients (the drop-in routes): their format and the hash we keep.

A key reads ``sb_<id>_<secret>``: the id (24 hex digits) names the stored record, so the
authorizer makes one GetItem; the secret (32 random bytes, URL-safe base64) is never stored,
only its SHA-256, compared in constant time. A 256-bit secret needs no slow hash: nothing
short of the secret itself matches its digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sketchbridge.domain.models import has_visible_text

KEY_PREFIX = "sb_"
WEBHOOK_SECRET_PREFIX = "whsec_"
_KEY_ID_HEX = 24
_KEY = re.compile(r"sb_(?P<id>[0-9a-f]{24})_(?P<secret>[A-Za-z0-9_-]{43})")
# What a key may be allowed to do; every key gets both today (the drop-in routes).
Scope = Literal["openai", "replicate"]
SCOPES: tuple[Scope, ...] = ("openai", "replicate")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: str
    # The whole key, shown to its owner once and never again.
    key: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(_KEY_ID_HEX // 2)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return NewKey(
        key_id=key_id, secret_hash=secret_hash(secret), key=f"{KEY_PREFIX}{key_id}_{secret}"
    )


def parse_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None; never raises on any text."""
    found = _KEY.fullmatch(text)
    return None if found is None else (found["id"], found["secret"])


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def is_key_id(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{24}", text))


def new_webhook_secret() -> str:
    """A webhook signing secret in Replicate's (Standard Webhooks') form: whsec_<base64>."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (or the bare header)."""
    header = authorization.strip()
    return header[7:].strip() if header.lower().startswith("bearer ") else header


# -- the shapes of POST/GET /keys and the stored record ---------------------------------------


class KeyCreateRequest(BaseModel):
    """Body of ``POST /keys``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, description="What the key is for")
    scopes: list[Scope] = Field(
        default_factory=lambda: list(SCOPES), min_length=1, max_length=len(SCOPES)
    )

    @field_validator("name")
    @classmethod
    def _name_is_visible(cls, name: str) -> str:
        if not has_visible_text(name) or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ValueError("the name must be visible text without control characters")
        return name.strip()


class KeyResponse(BaseModel):
    """An API key as its owner sees it: never its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    scopes: list[str]
    created_at: str
    # The key's first characters, so its owner can tell which one is in their config.
    prefix: str


class CreatedKeyResponse(KeyResponse):
    """The new key: ``key`` is shown this once; only its hash is kept."""

    key: str


class KeysResponse(BaseModel):
    """Your API keys (without their secrets)."""

    model_config = ConfigDict(frozen=True)

    items: list[KeyResponse]


class ApiKeyRecord(BaseModel):
    """A key as stored in the keys table."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    user_id: str
    name: str
    scopes: list[str]
    secret_hash: str
    # Signs this key's webhooks (Replicate's scheme); readable by its owner through the API.
    webhook_secret: str
    created_at: str

    def as_response(self) -> KeyResponse:
        return KeyResponse(
            id=self.id,
            name=self.name,
            scopes=list(self.scopes),
            created_at=self.created_at,
            prefix=f"{KEY_PREFIX}{self.id[:8]}",
        )


@dataclass(frozen=True)
class KeyIdentity:
    """Who a valid key speaks for: what the authorizer hands the drop-in function."""

    user_id: str
    key_id: str
    scopes: tuple[str, ...]
