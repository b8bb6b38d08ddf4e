"""The rules of ``GET /generations``: its query parameters and its opaque cursor.

A cursor is where the last page stopped (the last job's ``created_at`` and id) and the
status it filtered on, with a MAC over both that is bound to the user: another user's
cursor, or one altered by a single character, is refused (400) before any read. The MAC
binds, it is not a secret: the query's partition is always the caller's own (the token's
``sub``), so even a cursor a user forged for themself can only move within their own jobs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sketchbridge.domain.errors import InvalidRequestError
from sketchbridge.domain.models import JobStatus

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Far more than any cursor we make (an ISO time, a 32-hex id, a status, a MAC).
MAX_CURSOR_CHARS = 512
_MAC_BYTES = 16
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_TIMESTAMP = re.compile(r"[0-9T:.+\-Z]{10,40}")
_DIGITS = re.compile(r"[0-9]{1,3}")
_STATUSES = ", ".join(status.value for status in JobStatus)


@dataclass(frozen=True)
class HistoryQuery:
    """What one ``GET /generations`` asks for."""

    limit: int = DEFAULT_LIMIT
    status: JobStatus | None = None
    # Where the previous page stopped: (created_at, id); None: from the newest.
    after: tuple[str, str] | None = None


def parse_history_query(query: Mapping[str, str] | None, *, user_id: str) -> HistoryQuery:
    """The query parameters, checked: 400 ``invalid_input`` naming the one that is wrong."""
    query = query or {}
    limit = DEFAULT_LIMIT
    raw_limit = query.get("limit")
    if raw_limit is not None:
        if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise _invalid("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
        limit = int(raw_limit)
    status = None
    raw_status = query.get("status")
    if raw_status is not None:
        try:
            status = JobStatus(raw_status)
        except ValueError:
            raise _invalid("status", f"status must be one of: {_STATUSES}.") from None
    after = None
    raw_cursor = query.get("cursor")
    if raw_cursor is not None:
        after = decode_cursor(raw_cursor, user_id=user_id, status=status)
    return HistoryQuery(limit=limit, status=status, after=after)


def encode_cursor(after: tuple[str, str], *, user_id: str, status: JobStatus | None) -> str:
    """The cursor a page answers for the next one."""
    created_at, job_id = after
    payload = json.dumps(
        {"c": created_at, "i": job_id, "s": status.value if status else None},
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, user_id))}"


def decode_cursor(cursor: str, *, user_id: str, status: JobStatus | None) -> tuple[str, str]:
    """Where the page that made ``cursor`` stopped; 400 unless this user made it for this
    same ``status``."""
    if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
        raise _bad_cursor()
    encoded_payload, encoded_mac = cursor.split(".")
    try:
        payload = _unb64(encoded_payload)
        mac = _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    if not hmac.compare_digest(mac, _mac(payload, user_id)):
        raise _bad_cursor()
    try:
        fields = json.loads(payload)
    except ValueError:
        raise _bad_cursor() from None
    if not isinstance(fields, dict):
        raise _bad_cursor()
    created_at, job_id, cursor_status = fields.get("c"), fields.get("i"), fields.get("s")
    if not (
        isinstance(created_at, str)
        and _TIMESTAMP.fullmatch(created_at)
        and isinstance(job_id, str)
        and _JOB_ID.fullmatch(job_id)
    ):
        raise _bad_cursor()
    if cursor_status != (status.value if status else None):
        raise _invalid(
            "cursor", "This cursor belongs to a listing with another status filter: send the same."
        )
    return created_at, job_id


def _mac(payload: bytes, user_id: str) -> bytes:
    key = hashlib.sha256(b"sketchbridge history cursor\0" + user_id.encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad_cursor() -> InvalidRequestError:
    return _invalid(
        "cursor",
        "The cursor is not one this listing gave you: send next_cursor exactly as it came, "
        "or leave it out to start from the newest.",
    )


def _invalid(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, details={"field": field})
