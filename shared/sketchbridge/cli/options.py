"""The option groups several commands share, and what a command runs with.

``generate``, ``refine`` and ``preferences set`` take the same names for the same request
fields (``--provider``, ``--steps``, ``--text`` ...): they are declared once here, and
``request_fields`` turns the ones given into the API's field names. Where to connect is
declared once too: ``where_options`` (the API, the stack file, ``--json``), which the user's
commands extend with ``--ws``/``--token`` and the admins' with ``--region``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sketchbridge.cli.endpoints import (
    API_URL_ENV,
    STACK_FILE_ENV,
    TOKEN_ENV,
    WS_URL_ENV,
    Endpoints,
    resolve_endpoints,
)
from sketchbridge.cli.errors import UsageError


@dataclass(frozen=True)
class Context:
    """What a command runs with besides its arguments; tests hand in their own."""

    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]
    cwd: Path


Handler = Callable[[argparse.Namespace, Context], int]

# The option each request field comes from, to name it in validation messages.
FIELD_OPTIONS = {
    "sketch": "SKETCH",
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "provider": "--provider",
    "policy": "--policy",
    "max_cost_usd": "--max-cost",
    "max_eta_s": "--max-eta",
    "seed": "--seed",
    "steps": "--steps",
    "strength": "--strength",
    "guidance_scale": "--guidance-scale",
    "width": "--width",
    "height": "--height",
    "text": "--text",
    "palette_hint": "--palette-hint",
    "fit": "--fit",
}
_CHOICE_FIELDS = ("provider", "policy", "max_cost_usd", "max_eta_s")
PARAMETER_FIELDS = ("seed", "steps", "strength", "guidance_scale", "width", "height")
PREPROCESSING_FIELDS = ("text", "palette_hint", "fit")
# Where a request's left-out fields come from, as the option groups' titles say.
PREFERRED = "your preferences, else the API's"


def where_options() -> argparse.ArgumentParser:
    """The API to talk to and how to print: a parent of every command that calls it."""
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_argument_group("where to connect (default: the local stack)")
    group.add_argument("--api", metavar="URL", help=f"the HTTP API (or ${API_URL_ENV})")
    group.add_argument(
        "--stack-file",
        metavar="PATH",
        help=f"the local stack's stack.json (or ${STACK_FILE_ENV}; default .local/stack.json)",
    )
    where.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout instead of text"
    )
    return where


def user_options(where: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``where`` plus the user's WebSocket and token."""
    user = argparse.ArgumentParser(add_help=False, parents=[where])
    group = user.add_argument_group("the user (default: the local stack's dev user)")
    group.add_argument("--ws", metavar="URL", help=f"the WebSocket API (or ${WS_URL_ENV})")
    group.add_argument("--token", metavar="TOKEN", help=f"a bearer token (or ${TOKEN_ENV})")
    return user


def endpoints_for(args: argparse.Namespace, context: Context) -> Endpoints:
    return resolve_endpoints(
        api=args.api,
        ws=args.ws,
        token=args.token,
        stack_file=args.stack_file,
        environ=context.environ,
        cwd=context.cwd,
    )


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return seconds


def add_choice_options(parser: argparse.ArgumentParser, *, defaults: str = PREFERRED) -> None:
    """Which provider takes the job: by name, or what ``auto`` weighs."""
    group = parser.add_argument_group(f"choosing a provider (default: {defaults})")
    group.add_argument("--provider", metavar="NAME", help="a provider name, or auto")
    group.add_argument(
        "--policy", choices=["cheapest", "fastest", "balanced"], help="how auto chooses"
    )
    group.add_argument(
        "--max-cost", dest="max_cost_usd", type=float, metavar="USD", help="at most this much"
    )
    group.add_argument(
        "--max-eta", dest="max_eta_s", type=float, metavar="S", help="done within S seconds"
    )


def add_parameter_options(parser: argparse.ArgumentParser, *, defaults: str = PREFERRED) -> None:
    group = parser.add_argument_group(f"generation parameters (default: {defaults})")
    group.add_argument("--seed", type=int, metavar="N", help="for a reproducible image")
    group.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="1 to 100; each provider's range: sketchbridge providers",
    )
    group.add_argument("--strength", type=float, metavar="X", help="0 to 1: how far from the lines")
    group.add_argument("--guidance-scale", type=float, metavar="X", help="0 to 30")
    group.add_argument(
        "--width",
        type=int,
        metavar="N",
        help="pixels; with one side given, the sketch's shape sets the other",
    )
    group.add_argument("--height", type=int, metavar="N", help="pixels")


def add_preprocessing_options(
    parser: argparse.ArgumentParser, *, defaults: str = PREFERRED
) -> None:
    group = parser.add_argument_group(f"preparing the sketch (default: {defaults})")
    group.add_argument(
        "--text",
        choices=["keep", "remove", "describe"],
        help="words drawn on the sketch: keep, erase, or erase and add to the prompt",
    )
    group.add_argument(
        "--palette-hint",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="name the sketch's colours in the prompt",
    )
    group.add_argument("--fit", choices=["pad", "crop"], help="to the provider's size")


def request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields the options set, by the API's names; what is left out stays out."""
    fields: dict[str, Any] = {
        name: getattr(args, name)
        for name in _CHOICE_FIELDS
        if getattr(args, name, None) is not None
    }
    params = {
        name: getattr(args, name)
        for name in PARAMETER_FIELDS
        if getattr(args, name, None) is not None
    }
    preprocessing = {
        name: getattr(args, name)
        for name in PREPROCESSING_FIELDS
        if getattr(args, name, None) is not None
    }
    if params:
        fields["params"] = params
    if preprocessing:
        fields["preprocessing"] = preprocessing
    return fields


def checked_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as they are, once the API's own model finds nothing wrong with them.

    A generation request's rules apply to each field given (a prompt, a sketch not needed).
    """
    from pydantic import ValidationError

    from sketchbridge.domain.models import EstimateRequest

    try:
        EstimateRequest.model_validate({"prompt": "-", **fields})
    except ValidationError as exc:
        raise usage_error_from(exc) from exc
    return dict(fields)


def usage_error_from(exc: Any) -> UsageError:
    """A pydantic ValidationError as a UsageError naming the options at fault."""
    problems = []
    for problem in exc.errors():
        field_name = str(problem["loc"][-1]) if problem["loc"] else "request"
        option = FIELD_OPTIONS.get(field_name, field_name)
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"{option}: {message}")
    return UsageError("; ".join(problems))
