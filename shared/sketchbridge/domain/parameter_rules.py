"""Does a provider take a request's parameters, and what does it run them as?

A request sets some of the generic parameters (``steps``, ``strength``, ``guidance_scale``,
``seed``) and leaves the rest unset, which means "the provider's default". ``check_parameters``
holds the values against one provider's ``ParameterRanges``: an out-of-range value is a
problem (never clamped), a value for a parameter the provider ignores is only worth a
warning, and the values the provider runs with are resolved (defaults filled in) and named
as its own API names them (``params_native``). Pure: no I/O.

How to use::

    check = check_parameters(provider.capabilities.parameters, {"steps": 80}, provider="replicate")
    check.problems[0].describe()  # "steps 80 is outside replicate's range 1..50 ..."
    check.native                  # {"num_inference_steps": ..., "guidance": ..., "seed": ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sketchbridge.domain.parameters import GENERIC_PARAMETERS, ParameterRange, ParameterRanges

# What a provider that ignores a parameter is handed for it (the adapter reads nothing of it):
# the values every request ran with before providers declared their own defaults.
IGNORED_FALLBACK: Mapping[str, float] = {"steps": 20, "strength": 0.75, "guidance_scale": 7.5}


@dataclass(frozen=True)
class ParameterProblem:
    """One value a provider cannot take."""

    parameter: str
    value: float
    provider: str
    allowed: ParameterRange

    def describe(self) -> str:
        """E.g. ``steps 80 is outside replicate's range 1..50 (num_inference_steps)``."""
        value = str(int(self.value)) if float(self.value).is_integer() else repr(self.value)
        where = f"{self.provider}'s range {self.allowed.describe()} ({self.allowed.native_name})"
        if self.allowed.integer and not float(self.value).is_integer():
            return f"{self.parameter} {value} must be a whole number in {where}"
        return f"{self.parameter} {value} is outside {where}"

    def as_details(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "value": self.value,
            "provider": self.provider,
            "min": self.allowed.minimum,
            "max": self.allowed.maximum,
            "integer": self.allowed.integer,
            "native_name": self.allowed.native_name,
        }


@dataclass(frozen=True)
class ParameterCheck:
    """One provider's verdict on a request's parameters."""

    provider: str
    problems: tuple[ParameterProblem, ...]
    # Set by the request, ignored by this provider: accepted, and worth a warning.
    ignored: tuple[str, ...]
    # Per generic name, the value to hand the adapter (defaults filled in).
    values: Mapping[str, float]
    # Per native name, the value the provider receives: what the job records.
    native: Mapping[str, int | float]

    @property
    def accepted(self) -> bool:
        return not self.problems

    def reason(self) -> str:
        """Why the provider cannot take the parameters, in one line ("" when it can)."""
        return "; ".join(problem.describe() for problem in self.problems)


def check_parameters(
    ranges: ParameterRanges,
    requested: Mapping[str, float | None],
    *,
    provider: str,
    drawn_seed: int | None = None,
) -> ParameterCheck:
    """Hold ``requested`` (generic name → value, None or absent = unset) against ``ranges``.

    Only the generic names in ``GENERIC_PARAMETERS`` are read. A seed the request left unset
    is ``drawn_seed`` (the job's own, drawn at submit, so the picture can be reproduced) rather
    than the provider's default.
    """
    problems: list[ParameterProblem] = []
    ignored: list[str] = []
    values: dict[str, float] = {}
    native: dict[str, int | float] = {}
    for name in GENERIC_PARAMETERS:
        value = requested.get(name)
        allowed = ranges.get(name)
        if allowed is None:
            if value is not None:
                ignored.append(name)
                values[name] = value
            elif name == "seed" and drawn_seed is not None:
                values[name] = drawn_seed
            elif name in IGNORED_FALLBACK:
                values[name] = IGNORED_FALLBACK[name]
            continue
        if value is None and name == "seed" and drawn_seed is not None:
            # A seed we drew (not the user's) is drawn again within this provider's range.
            span = int(allowed.maximum - allowed.minimum) + 1
            value = (
                drawn_seed if allowed.contains(drawn_seed) else allowed.minimum + drawn_seed % span
            )
        elif value is None:
            value = allowed.default
        elif not allowed.contains(value):
            problems.append(ParameterProblem(name, value, provider, allowed))
            continue
        values[name] = int(value) if allowed.integer else value
        native[allowed.native_name] = allowed.native_value(value)
    return ParameterCheck(
        provider=provider,
        problems=tuple(problems),
        ignored=tuple(ignored),
        values=values,
        native=native,
    )
