"""The content fingerprint: one hash for "the same drawing asked for the same way"."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(*, sketch_sha256: str, request: dict[str, Any]) -> str:
    """SHA-256 over the sketch's hash and the normalised request.

    Keys are sorted and floats rounded, so key order, whitespace and float
    formatting never change the answer; any value that changes the image does.
    """
    canonical = json.dumps(
        {"sketch": sketch_sha256, "request": _normalise(request)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        rounded = round(value, 6)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    return value
