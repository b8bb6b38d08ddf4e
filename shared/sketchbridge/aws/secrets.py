"""Provider keys from Secrets Manager, read once and cached; never logged, never returned.

One secret (``PROVIDER_KEYS_SECRET``) holds a JSON object of keys by provider
name, e.g. ``{"replicate": "r8_...", "openai": "sk-..."}``. Locally, or when
no secret is configured, the providers' own environment variables serve
(``REPLICATE_API_TOKEN``, ``OPENAI_API_KEY``).

A secret that cannot be read (missing, access denied, not a JSON object) is logged with the
reason, never the value, and the provider answers ``auth_failed`` naming the secret, so an
admin learns what to fix instead of "no API key". Keys read before keep serving meanwhile.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import AuthFailedError

logger = Logger(child=True)

ENV_FALLBACKS: Mapping[str, str] = {
    "replicate": "REPLICATE_API_TOKEN",
    "openai": "OPENAI_API_KEY",
}
CACHE_SECONDS = 300.0
# After a failed read, how long callers get the same answer before Secrets Manager is asked
# again: a broken secret must not turn every provider call into a Secrets Manager call.
RETRY_AFTER_FAILURE_SECONDS = 30.0


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
        self._failure: tuple[float, _SecretUnreadable] | None = None

    def key(self, provider: str) -> str | None:
        """The provider's key, or None when none is configured.

        Raises ``AuthFailedError`` naming the secret when the secret cannot be read and no
        key read earlier can serve.
        """
        secret = self._secret(provider).get(provider)
        if secret:
            return secret
        variable = ENV_FALLBACKS.get(provider)
        return self._environ.get(variable) if variable else None

    def reader(self, provider: str) -> Callable[[], str | None]:
        return lambda: self.key(provider)

    def _secret(self, provider: str) -> dict[str, str]:
        if not self._secret_id or self._client is None:
            return {}
        with self._lock:
            if self._cached is not None and self._clock() - self._read_at < CACHE_SECONDS:
                return self._cached
            try:
                if self._failure and self._clock() - self._failure[0] < RETRY_AFTER_FAILURE_SECONDS:
                    raise self._failure[1]
                self._cached = self._read(self._client, self._secret_id)
                self._failure = None
            except _SecretUnreadable as problem:
                if self._failure is None or self._failure[1] is not problem:
                    self._failure = (self._clock(), problem)
                    # The reason only: never the value, which may be half a key.
                    logger.error(
                        "provider keys secret unreadable",
                        extra={"secret_id": self._secret_id, "reason": problem.reason},
                    )
                if self._cached is not None:
                    return self._cached  # keep serving the last good keys
                raise AuthFailedError(
                    f"The provider keys could not be read from the secret "
                    f"{self._secret_id!r}: {problem.reason}.",
                    provider=provider,
                    suggestions=(
                        "Choose another provider for now.",
                        f"Admin: check that the secret {self._secret_id!r} exists, that this "
                        "function may read it, and that it holds a JSON object of keys by "
                        'provider name, e.g. {"replicate": "r8_...", "openai": "sk-..."}.',
                    ),
                ) from problem
            self._read_at = self._clock()
            return self._cached

    @staticmethod
    def _read(client: Any, secret_id: str) -> dict[str, str]:
        try:
            response = client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise _SecretUnreadable(f"Secrets Manager answered {code}") from exc
        except BotoCoreError as exc:
            raise _SecretUnreadable(f"Secrets Manager could not be reached ({exc})") from exc
        text = response.get("SecretString")
        if text is None:
            raise _SecretUnreadable("it holds binary data, not a JSON object of keys")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only: the message of a JSON error quotes the text around it.
            raise _SecretUnreadable(f"it is not JSON (error at character {exc.pos})") from exc
        if not isinstance(parsed, dict):
            raise _SecretUnreadable(f"it holds a JSON {type(parsed).__name__}, not an object")
        return {str(name): str(value) for name, value in parsed.items() if value}

    def __repr__(self) -> str:
        return f"ProviderKeys(secret_id={self._secret_id!r})"  # never the keys themselves


class _SecretUnreadable(Exception):
    """Why the secret could not be read; the reason is safe to log and to show an admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
