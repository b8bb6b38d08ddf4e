"""Build on first use: what a function may never touch costs its cold start nothing.

Every function shares one composition (``factory.build_dependencies``), but each path uses
a few of its parts: GET /generations/{id} reads a job and signs a URL; it never calls a
provider, the OCR function or SNS. The parts below are built the first time they are used,
so a cold start pays only for its own path (docs/performance.md, "Cold starts").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Built = TypeVar("Built")


class Lazy(Generic[Built]):
    """A stand-in that builds the real object on its first attribute access, once."""

    def __init__(self, build: Callable[[], Built]) -> None:
        self._lazy_build = build
        self._lazy_built: Built | None = None
        self._lazy_lock = threading.Lock()

    def lazy_target(self) -> Built:
        built = self._lazy_built
        if built is None:
            # The local stack's gateway serves requests on threads: build once.
            with self._lazy_lock:
                built = self._lazy_built
                if built is None:
                    built = self._lazy_built = self._lazy_build()
        return built

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class lacks: everything the real object has.
        return getattr(self.lazy_target(), name)


def lazy_client(service: str, **kwargs: Any) -> Any:
    """A boto3 client created when first called (creating one loads its service model)."""
    from sketchbridge.aws.clients import client

    return Lazy(lambda: client(service, **kwargs))
