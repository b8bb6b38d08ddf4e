"""A fake provider with the optional health probe (``ProbeableProvider``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.support.fakes import FakeProvider


@dataclass
class ProbedProvider(FakeProvider):
    """Its probe fails with ``failure`` while that is set, and waits on ``hang`` if given."""

    failure: Exception | None = None
    hang: threading.Event | None = None
    probes: int = 0

    def probe(self, *, timeout_s: float = 5.0) -> None:
        self.probes += 1
        if self.hang is not None:
            self.hang.wait(timeout=10)
        if self.failure is not None:
            raise self.failure
