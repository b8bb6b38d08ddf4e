"""``sketchbridge generate SKETCH -p PROMPT``: send a sketch, watch it render, save the PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.follow import DEFAULT_WAIT_SECONDS
from sketchbridge.cli.options import (
    Context,
    add_choice_options,
    add_parameter_options,
    add_preprocessing_options,
    endpoints_for,
    positive_seconds,
    request_fields,
    usage_error_from,
)
from sketchbridge.cli.results import check_output_folder, watch_and_save
from sketchbridge.cli.sketch import read_sketch, sketch_data_url

if TYPE_CHECKING:
    from sketchbridge.domain.models import GenerationRequest


def build_generation_request(
    *,
    sketch: str,
    prompt: str,
    negative_prompt: str | None = None,
    provider: str | None = None,
    seed: int | None = None,
    steps: int | None = None,
    strength: float | None = None,
    guidance_scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    **fields: Any,
) -> GenerationRequest:
    """The request body, validated by the API's own model so that a bad value never leaves.

    Only what is given is set (``exclude_unset`` sends just that); ``fields`` are further
    request fields by the API's names (``policy``, ``preprocessing`` ...).
    """
    from pydantic import ValidationError

    from sketchbridge.domain.models import GenerationRequest

    given = {
        "seed": seed,
        "steps": steps,
        "strength": strength,
        "guidance_scale": guidance_scale,
        "width": width,
        "height": height,
    }
    params = {name: value for name, value in given.items() if value is not None}
    body: dict[str, Any] = {"sketch": sketch, "prompt": prompt, **fields}
    if params:
        body["params"] = {**body.get("params", {}), **params}
    if provider is not None:
        body["provider"] = provider
    if negative_prompt is not None:
        body["negative_prompt"] = negative_prompt
    try:
        return GenerationRequest.model_validate(body)
    except ValidationError as exc:
        raise usage_error_from(exc) from exc


def run_generate(args: argparse.Namespace, context: Context) -> int:
    # Everything that can be checked locally is checked before anything is sent.
    check_output_folder(args.output, context)
    request = build_generation_request(
        sketch=sketch_data_url(read_sketch(context.cwd / args.sketch), name=args.sketch),
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        **request_fields(args),
    )
    endpoints = endpoints_for(args, context)

    started = time.monotonic()
    with SketchbridgeClient(endpoints) as client:
        job = client.submit(request)
        name = f"{Path(args.sketch).stem}-{job.id[:8]}"
        watch_and_save(client, job, args, context, started=started, name=name)
    return 0


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="S",
        help=f"give up waiting after S seconds (default {DEFAULT_WAIT_SECONDS:g})",
    )


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    generate = commands.add_parser(
        "generate",
        parents=[user],
        help="turn a sketch into an image",
        description="Send a sketch and a prompt, show progress live, save the PNG. What is "
        "left out comes from your preferences (sketchbridge preferences), else the API's.",
    )
    generate.add_argument("sketch", metavar="SKETCH", help="the sketch: a PNG, JPEG or WebP file")
    generate.add_argument("-p", "--prompt", required=True, help="what the image should show")
    generate.add_argument("--negative-prompt", metavar="TEXT", help="what it should not show")
    add_choice_options(generate)
    add_parameter_options(generate)
    add_preprocessing_options(generate)
    generate.add_argument(
        "-o", "--output", metavar="OUT.png", help="where to save (default: SKETCH-<job>.png here)"
    )
    add_timeout_option(generate)
    generate.set_defaults(handler=run_generate)
