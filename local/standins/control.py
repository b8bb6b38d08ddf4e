"""The control API every stand-in shares: script outcomes, set a mode, read the request log.

    POST /_control/script    [outcome, ...] or {"outcomes": [...]}: used by the next
                             generation requests, one each, before the mode applies
    POST /_control/mode      {"mode": "up" | "down" | "flaky", "failure_rate": 0.3}
    GET  /_control/requests  [{"method", "path", "time", "model"}, ...] every request received
    POST /_control/reset     empty script, mode up, empty log, nothing billed
    GET  /_control/billing   {"calls": [{"id", "model", "usd", "basis", ...}], "total_usd"}:
                             what the real provider would bill for each call so far, from
                             the stand-in's own price constants (never Sketchbridge's table)

An outcome is one of
    {"status": 429, "headers": {"retry-after": "2"}, "body": {...}}   answer exactly this
    {"delay_s": N}                  wait N seconds, then answer normally
    {"outcome": "moderation"}       the provider's own safety refusal
    {"outcome": "slow_start", "s": N}  accept, then make no progress for N seconds
    {"outcome": "aborted"}          the provider gives up on the job midway
    {"outcome": "slow", "s_per_step": N}  run, each step taking N seconds (Replicate)
    {"outcome": "ok"}               answer normally

Only requests that would start (and bill) a generation consume an outcome;
polls, cancels and file downloads are logged but never scripted. Model lookups (what the
health probes call) are logged and follow the mode alone (``probe_outcome``): down, they
answer 503 as the provider's front door would.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sketchbridge.domain import clock

Mode = Literal["up", "down", "flaky"]

OK: dict[str, Any] = {"outcome": "ok"}
# What "down" and a flaky failure look like: the provider's front door answers 503.
UNAVAILABLE: dict[str, Any] = {"status": 503, "outcome": "unavailable"}


class ScriptError(ValueError):
    """A scripted outcome that no stand-in understands."""


def validate_outcome(outcome: Any) -> dict[str, Any]:
    if not isinstance(outcome, dict):
        raise ScriptError(f"an outcome is an object, not {outcome!r}")
    if "status" in outcome:
        if not isinstance(outcome["status"], int) or not 100 <= outcome["status"] <= 599:
            raise ScriptError(f"status must be an HTTP status code: {outcome!r}")
        return outcome
    if "delay_s" in outcome:
        if not isinstance(outcome["delay_s"], int | float) or outcome["delay_s"] < 0:
            raise ScriptError(f"delay_s must be a non-negative number: {outcome!r}")
        return outcome
    kind = outcome.get("outcome")
    if kind in ("moderation", "aborted", "ok"):
        return outcome
    if kind == "slow_start" and isinstance(outcome.get("s"), int | float):
        return outcome
    if kind == "slow" and isinstance(outcome.get("s_per_step"), int | float):
        return outcome
    raise ScriptError(f"unknown outcome {outcome!r}")


@dataclass
class StandinControl:
    """Thread-safe state behind the control API; the stand-in asks it what to do next."""

    seed: int = 0
    mode: Mode = "up"
    failure_rate: float = 0.0
    script: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # What each billable call would cost at the real provider, in the order they were made.
    bills: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def next_outcome(self) -> dict[str, Any]:
        """What the next generation request gets: the script first, then the mode."""
        with self._lock:
            if self.script:
                return self.script.pop(0)
            if self.mode == "down":
                return UNAVAILABLE
            if self.mode == "flaky" and self._random.random() < self.failure_rate:
                return UNAVAILABLE
            return OK

    def probe_outcome(self) -> dict[str, Any]:
        """What a request that starts nothing (a model lookup) gets: the mode, never the script."""
        with self._lock:
            if self.mode == "down":
                return UNAVAILABLE
            if self.mode == "flaky" and self._random.random() < self.failure_rate:
                return UNAVAILABLE
            return OK

    def record(self, request: Request, *, model: str | None = None) -> None:
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "time": clock.epoch_seconds(),
                    "model": model,
                }
            )

    def bill(self, call_id: str, *, model: str, usd: float, basis: str, **facts: Any) -> None:
        """Record what the real provider would charge for one call (``usd`` to a millionth)."""
        with self._lock:
            self.bills.append(
                {"id": call_id, "model": model, "usd": round(usd, 6), "basis": basis, **facts}
            )

    def billing(self) -> dict[str, Any]:
        with self._lock:
            calls = [dict(call) for call in self.bills]
        return {"calls": calls, "total_usd": round(sum(call["usd"] for call in calls), 6)}

    def set_script(self, outcomes: list[Any]) -> None:
        validated = [validate_outcome(outcome) for outcome in outcomes]
        with self._lock:
            self.script = validated

    def set_mode(self, mode: str, failure_rate: float = 0.0) -> None:
        if mode not in ("up", "down", "flaky"):
            raise ScriptError(f"mode must be up, down or flaky, not {mode!r}")
        if not 0.0 <= failure_rate <= 1.0:
            raise ScriptError("failure_rate must be between 0 and 1")
        with self._lock:
            self.mode = mode  # type: ignore[assignment]
            self.failure_rate = failure_rate

    def reset(self) -> None:
        with self._lock:
            self.script = []
            self.requests = []
            self.mode = "up"
            self.failure_rate = 0.0
            self._random = random.Random(self.seed)
            self.bills = []


def control_routes(control: StandinControl) -> list[Route]:
    async def script(request: Request) -> Response:
        body = await request.json()
        outcomes = body.get("outcomes") if isinstance(body, dict) else body
        try:
            control.set_script(outcomes if isinstance(outcomes, list) else [outcomes])
        except ScriptError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"scripted": len(control.script)})

    async def mode(request: Request) -> Response:
        body = await request.json()
        try:
            control.set_mode(str(body.get("mode")), float(body.get("failure_rate", 0.0)))
        except ScriptError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"mode": control.mode, "failure_rate": control.failure_rate})

    async def requests(_: Request) -> Response:
        with control._lock:
            return JSONResponse(list(control.requests))

    async def reset(_: Request) -> Response:
        control.reset()
        return JSONResponse({"reset": True})

    async def billing(_: Request) -> Response:
        return JSONResponse(control.billing())

    return [
        Route("/_control/script", script, methods=["POST"]),
        Route("/_control/mode", mode, methods=["POST"]),
        Route("/_control/requests", requests, methods=["GET"]),
        Route("/_control/reset", reset, methods=["POST"]),
        Route("/_control/billing", billing, methods=["GET"]),
    ]
