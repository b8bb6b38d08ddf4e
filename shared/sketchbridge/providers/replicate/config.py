"""How this deployment talks to Replicate: which catalog model, where, and how patiently.

Configuration (environment, all optional):

    REPLICATE_MODEL              a catalog model, owner/name[:version]
                                 (default black-forest-labs/flux-canny-dev)
    REPLICATE_MODEL_VERSION      pins another version of that model (predictions then
                                 go to /v1/predictions)                 the catalog's pin
    REPLICATE_BASE_URL           the API's host root, without /v1       https://api.replicate.com
    REPLICATE_PREFER_WAIT_S      seconds create holds for the result (1..60)       2
    REPLICATE_POLL_INTERVAL      seconds between polls (the SDK's own variable)     0.5
    REPLICATE_CONNECT_TIMEOUT_S  per connection                                     5
    REPLICATE_READ_TIMEOUT_S     per answer (polls, uploads, downloads)             30
    REPLICATE_CONNECT_RETRIES    retries of a connection that could not be opened   1
    REPLICATE_STATUS_RETRIES     retries of a poll answered 429/503/504             3
    REPLICATE_INLINE_MAX_BYTES   larger sketches are uploaded, not sent inline      262144
    REPLICATE_OUTPUT_FORMAT      png | webp | jpg (models that take one)            png
    REPLICATE_CANCEL_GRACE_S     time allowed past the budget to cancel             3

A model outside the catalog (``catalog.py``) is refused when the configuration is built.
The key is not configuration: it comes from the ``api_key`` reader the caller passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sketchbridge.providers.replicate.catalog import DEFAULT_MODEL, ChosenModel, catalog_entry

# Replicate's own bound: Prefer: wait=1..60.
_MAX_PREFER_WAIT_S = 60


@dataclass(frozen=True)
class ReplicateConfig:
    model: str = DEFAULT_MODEL
    version: str | None = None
    base_url: str = "https://api.replicate.com"
    # A short hold keeps the first byte inside the 5 s first-byte deadline (provider_profile).
    prefer_wait_s: int = 2
    poll_interval_s: float = 0.5
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    connect_retries: int = 1
    status_retries: int = 3
    inline_max_bytes: int = 256 * 1024
    output_format: str = "png"
    cancel_grace_s: float = 3.0

    def __post_init__(self) -> None:
        catalog_entry(self.model, self.version)  # ValueError: not a catalog model
        if not 1 <= self.prefer_wait_s <= _MAX_PREFER_WAIT_S:
            raise ValueError("REPLICATE_PREFER_WAIT_S must be between 1 and 60")
        if self.output_format not in ("png", "webp", "jpg"):
            raise ValueError("REPLICATE_OUTPUT_FORMAT must be png, webp or jpg")

    @property
    def chosen(self) -> ChosenModel:
        """The catalog entry this configuration runs, and its version."""
        return catalog_entry(self.model, self.version)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReplicateConfig:
        defaults = cls()

        def text(name: str, default: str) -> str:
            return environ.get(name, "").strip() or default

        def number(name: str, default: float) -> float:
            return float(text(name, str(default)))

        return cls(
            model=text("REPLICATE_MODEL", defaults.model),
            version=text("REPLICATE_MODEL_VERSION", "") or None,
            base_url=text("REPLICATE_BASE_URL", defaults.base_url).rstrip("/"),
            prefer_wait_s=int(number("REPLICATE_PREFER_WAIT_S", defaults.prefer_wait_s)),
            poll_interval_s=number("REPLICATE_POLL_INTERVAL", defaults.poll_interval_s),
            connect_timeout_s=number("REPLICATE_CONNECT_TIMEOUT_S", defaults.connect_timeout_s),
            read_timeout_s=number("REPLICATE_READ_TIMEOUT_S", defaults.read_timeout_s),
            connect_retries=int(number("REPLICATE_CONNECT_RETRIES", defaults.connect_retries)),
            status_retries=int(number("REPLICATE_STATUS_RETRIES", defaults.status_retries)),
            inline_max_bytes=int(number("REPLICATE_INLINE_MAX_BYTES", defaults.inline_max_bytes)),
            output_format=text("REPLICATE_OUTPUT_FORMAT", defaults.output_format),
            cancel_grace_s=number("REPLICATE_CANCEL_GRACE_S", defaults.cancel_grace_s),
        )
