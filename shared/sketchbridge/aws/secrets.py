"""Provider keys from Secrets Manager, read once and cached; never logged, never returned.

One secret (``PROVIDER_KEYS_SECRET``) holds a JSON object of keys by provider
name, e.g. ``{"replicate": "r8_...", "openai": "sk-..."}``. Locally, or when
no secret is configured, the providers' own environment variables serve
(``REPLICATE_API_TOKEN``, ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ENV_FALLBACKS: Mapping[str, str] = {
    "replicate": "REPLICATE_API_TOKEN",
    "openai": "OPENAI_API_KEY",
}
CACHE_SECONDS = 300.0


class ProviderKeys:
    """Cached reader of provider keys; a rotated secret is seen within ``CACHE_SECONDS``."""

    def __init__(
        self,
        client: Any | None,
        secret_id: str | None,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, str] | None = None
        self._read_at = 0.0

    def key(self, provider: str) -> str | None:
        """The provider's key, or None when none is configured."""
        secret = self._secret().get(provider)
        if secret:
            return secret
        variable = ENV_FALLBACKS.get(provider)
        return self._environ.get(variable) if variable else None

    def reader(self, provider: str) -> Callable[[], str | None]:
        return lambda: self.key(provider)

    def _secret(self) -> dict[str, str]:
        if not self._secret_id or self._client is None:
            return {}
        with self._lock:
            if self._cached is not None and self._clock() - self._read_at < CACHE_SECONDS:
                return self._cached
            try:
                response = self._client.get_secret_value(SecretId=self._secret_id)
                parsed = json.loads(response.get("SecretString") or "{}")
            except (ClientError, BotoCoreError, json.JSONDecodeError):
                # Keep serving the last good keys; with none, the providers report auth_failed.
                return self._cached or {}
            self._cached = {str(k): str(v) for k, v in parsed.items() if v}
            self._read_at = self._clock()
            return self._cached

    def __repr__(self) -> str:
        return f"ProviderKeys(secret_id={self._secret_id!r})"  # never the keys themselves
