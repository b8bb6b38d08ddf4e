"""What each provider accepts for the generic generation parameters.

A request speaks one vocabulary (``steps``, ``strength``, ``guidance_scale``, ``seed``); each
provider (and each Replicate catalog model) accepts its own range of each under its own name,
or ignores it. ``ParameterRanges`` is that declaration; it rides on
``ProviderCapabilities.parameters`` so that submit can refuse an out-of-range value for an
explicit provider, leave a provider out of ``auto`` when it cannot take the values, and
record the values in the provider's native names. Pure data: no I/O.

How to use::

    ranges = provider.capabilities.parameters
    ranges.steps            # ParameterRange(minimum=1, maximum=50, default=28, ...) or None
    ranges.ignored()        # ("strength",): the generic names this provider does not use
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

# The generic parameter names, in the order they are reported.
GENERIC_PARAMETERS = ("steps", "strength", "guidance_scale", "seed")


@dataclass(frozen=True)
class ParameterRange:
    """The values one parameter may take on one provider, its default there, and the name the
    provider's own API gives it (``num_inference_steps``, ``ddim_steps``, ``cfgScale``...)."""

    minimum: float
    maximum: float
    default: float
    native_name: str
    integer: bool = False
    # How a request's value becomes the value sent under ``native_name`` when the two scales
    # differ (Bedrock's control_strength runs opposite to strength); None: sent as it is.
    to_native: Callable[[float], float] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"{self.native_name}: default {self.default} outside {self.minimum}..{self.maximum}"
            )

    def contains(self, value: float) -> bool:
        if self.integer and value != int(value):
            return False
        return self.minimum <= value <= self.maximum

    def native_value(self, value: float) -> int | float:
        """``value`` as the provider's API receives it under ``native_name``."""
        native = self.to_native(value) if self.to_native is not None else value
        return int(native) if self.integer and self.to_native is None else native

    def describe(self) -> str:
        """``1..50`` or ``0.0..1.0``: the range as an error message names it."""
        if self.integer:
            return f"{int(self.minimum)}..{int(self.maximum)}"
        return f"{self.minimum:g}..{self.maximum:g}"


@dataclass(frozen=True)
class ParameterRanges:
    """Per generic parameter, its range on this provider; None where the provider ignores it.

    The default (everything None) is what a provider that declared nothing honestly offers:
    none of the knobs do anything there.
    """

    steps: ParameterRange | None = None
    strength: ParameterRange | None = None
    guidance_scale: ParameterRange | None = None
    seed: ParameterRange | None = None

    def get(self, generic_name: str) -> ParameterRange | None:
        if generic_name not in GENERIC_PARAMETERS:
            raise KeyError(generic_name)
        value: ParameterRange | None = getattr(self, generic_name)
        return value

    def ignored(self) -> tuple[str, ...]:
        """The generic names this provider does not use, in ``GENERIC_PARAMETERS`` order."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is None)
