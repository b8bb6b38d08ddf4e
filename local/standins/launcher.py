"""Run the three provider stand-ins side by side, and say how to point the adapters at them.

    with Standins(port_base=0) as standins:
        standins.urls        {"replicate": "http://127.0.0.1:…", "openai": …, "bedrock": …}
        standins.controls    each stand-in's StandinControl, the same state its /_control/ serves
        standins.environment()   what the handlers need to call them instead of the providers

Each URL is the stand-in's root; its control API is at ``<url>/_control/...``. The keys in
``environment()`` are dummies that only these stand-ins accept, so a real key can never be
needed (or leaked) locally, and a wrong one is refused as the provider would refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Self

from starlette.types import ASGIApp

from local.server import BackgroundServer, listen
from local.standins import bedrock, openai, replicate
from local.standins.control import StandinControl

NAMES = ("replicate", "openai", "bedrock")
# Dummies: only these stand-ins accept them, and no provider ever would.
REPLICATE_API_TOKEN = "r8_local-standin-token"
OPENAI_API_KEY = "sk-local-standin-key"
# The stand-ins draw in well under a second; paced like this, a 20-step picture takes ~2 s
# and its progress can be watched arriving, as it would from the real providers.
REPLICATE_SECONDS_PER_STEP = 0.1
OPENAI_SECONDS_PER_PARTIAL = 0.4
# Replicate's create holds the answer this long (Prefer: wait). The adapter's default, 5 s,
# would cover a whole stand-in run, so no poll, and no step-by-step progress, would happen;
# 1 s leaves most of the run to polling, as a real ~10 s FLUX run leaves it past the 5 s.
REPLICATE_PREFER_WAIT_S = 1


@dataclass(frozen=True)
class StandinPacing:
    """How slowly the stand-ins work; tests that need no progress can make it all zero."""

    replicate_seconds_per_step: float = REPLICATE_SECONDS_PER_STEP
    openai_seconds_per_partial: float = OPENAI_SECONDS_PER_PARTIAL


def ports_from(port_base: int) -> dict[str, int]:
    """``port_base``, +1, +2 in ``NAMES`` order; 0 gives each stand-in any free port."""
    return {name: port_base + offset if port_base else 0 for offset, name in enumerate(NAMES)}


class Standins:
    """The three stand-ins, each in its own background server, started and stopped together."""

    def __init__(self, *, port_base: int = 0, pacing: StandinPacing | None = None) -> None:
        self._ports = ports_from(port_base)
        self._pacing = pacing or StandinPacing()
        self._servers: dict[str, BackgroundServer] = {}
        self.controls: dict[str, StandinControl] = {name: StandinControl() for name in NAMES}

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{server.port}" for name, server in self._servers.items()}

    def environment(self) -> dict[str, str]:
        """The variables that point the adapters at the stand-ins, with the keys they accept."""
        urls = self.urls
        return {
            "REPLICATE_BASE_URL": urls["replicate"],  # the host root: the SDK's paths add /v1
            "REPLICATE_API_TOKEN": REPLICATE_API_TOKEN,
            "REPLICATE_PREFER_WAIT_S": str(REPLICATE_PREFER_WAIT_S),
            "OPENAI_BASE_URL": f"{urls['openai']}/v1",  # the SDK's paths are relative to /v1
            "OPENAI_API_KEY": OPENAI_API_KEY,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": urls["bedrock"],
            # The control plane, which the health probe asks (GetFoundationModel).
            "AWS_ENDPOINT_URL_BEDROCK": urls["bedrock"],
        }

    def start(self) -> Self:
        try:
            for name in NAMES:
                self._start_one(name)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_one(self, name: str) -> None:
        listener = listen(self._ports[name])
        try:
            server = BackgroundServer(self._app(name), listener)
            server.start()
        except BaseException:
            listener.close()
            raise
        self._servers[name] = server

    def _app(self, name: str) -> ASGIApp:
        control = self.controls[name]
        if name == "replicate":
            return replicate.create_app(
                control,
                api_token=REPLICATE_API_TOKEN,
                seconds_per_step=self._pacing.replicate_seconds_per_step,
            )
        if name == "openai":
            return openai.create_app(
                control,
                api_key=OPENAI_API_KEY,
                seconds_per_partial=self._pacing.openai_seconds_per_partial,
            )
        # Bedrock takes any SigV4-signed request: the stack's dummy AWS credentials sign it.
        return bedrock.create_app(control)

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()
