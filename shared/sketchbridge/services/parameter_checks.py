"""A request's parameters against the providers that may run it: refused, warned, resolved.

Submit refuses (400 ``invalid_params``, nothing stored or queued) a value outside an explicit
provider's range, or parameters no provider ``auto`` may use can take; a value for a parameter
the provider ignores is accepted with a ``parameter_ignored`` warning. A job records the values
its provider runs with: ``ResolvedParams`` (generic names, defaults filled in) and
``params_native`` (the provider's own names). The processor resolves them again for each
failover hop, whose provider may have other ranges and defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sketchbridge.domain.errors import InvalidParamsError
from sketchbridge.domain.models import GenerationParams, GenerationRequest, WarningInfo
from sketchbridge.domain.parameter_rules import ParameterCheck
from sketchbridge.domain.parameters import GENERIC_PARAMETERS
from sketchbridge.providers.base import ImageProvider, ProviderRequest
from sketchbridge.services.provider_manager import ProviderManager


@dataclass(frozen=True)
class Resolved:
    """What one provider runs a job's parameters as."""

    steps: int
    strength: float
    guidance_scale: float
    seed: int
    native: dict[str, int | float]
    warnings: list[WarningInfo]


def refuse_unfit_parameters(request: GenerationRequest, manager: ProviderManager) -> None:
    """Raise ``InvalidParamsError`` unless the provider asked for (or one ``auto`` may use)
    takes the request's parameters."""
    if request.provider != "auto":
        name = manager.provider(request.provider).name
        check = manager.check_parameters(name, request.params)
        if not check.accepted:
            raise parameters_refused([check])
        return
    pool = manager.auto_pool(allow_offline_fallback=request.allow_offline_fallback)
    checks = [manager.check_parameters(name, request.params) for name in pool]
    if checks and not any(check.accepted for check in checks):
        raise parameters_refused(checks)


def parameters_refused(checks: Sequence[ParameterCheck]) -> InvalidParamsError:
    """The 400 that names each refused parameter, the provider and its range."""
    refused = [check for check in checks if not check.accepted]
    if len(refused) == 1:
        message = f"{refused[0].reason()}."
    else:
        message = "No provider takes these parameters: " + "; ".join(
            f"{check.provider}: {check.reason()}" for check in refused
        )
        message += "."
    return InvalidParamsError(
        message,
        suggestions=[
            "Send a value within the provider's range (GET /providers lists each one), "
            "or leave the parameter out to use the provider's default."
        ],
        details={
            "problems": [problem.as_details() for check in refused for problem in check.problems],
            "excluded": [
                {"provider": check.provider, "reason": check.reason()} for check in refused
            ],
        },
    )


def resolve_on(
    manager: ProviderManager, name: str, requested: GenerationParams, *, seed: int
) -> Resolved:
    """The values provider ``name`` runs the job with; raises ``InvalidParamsError`` when it
    cannot take them. ``seed`` is the job's (the request's, or the one drawn for it)."""
    if requested.seed is not None:
        requested = requested.model_copy(update={"seed": seed})  # a variation's own seed
    check = manager.check_parameters(name, requested, drawn_seed=seed)
    if not check.accepted:
        raise parameters_refused([check])
    return Resolved(
        steps=int(check.values["steps"]),
        strength=float(check.values["strength"]),
        guidance_scale=float(check.values["guidance_scale"]),
        seed=int(check.values["seed"]),
        native=dict(check.native),
        warnings=[
            WarningInfo(
                code="parameter_ignored",
                message=f"{name} does not use {parameter}: the value sent has no effect there.",
                parameter=parameter,
                provider=name,
            )
            for parameter in check.ignored
        ],
    )


def adapter_native(
    provider: ImageProvider, request: ProviderRequest, declared: dict[str, int | float]
) -> dict[str, int | float]:
    """The parameters as the adapter itself sends them, where it can say
    (``native_parameters(request)``, e.g. a Replicate catalog model's input mapping): only
    the declared parameters' names, not the prompts or sizes it also sends. Else ``declared``.
    """
    native = getattr(provider, "native_parameters", None)
    if not callable(native):
        return declared
    ranges = provider.capabilities.parameters
    names = {found.native_name for found in map(ranges.get, GENERIC_PARAMETERS) if found}
    sent = native(request)
    return {
        name: value
        for name, value in sent.items()
        if name in names and isinstance(value, int | float) and not isinstance(value, bool)
    }
