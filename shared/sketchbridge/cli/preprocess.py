"""``sketchbridge preprocess IN --for PROVIDER -o OUT.png``: what a provider would receive.

Runs the preprocessing pipeline offline: no API, no network.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sketchbridge.cli.errors import CliError, UsageError
from sketchbridge.cli.options import Context


def run_preprocess(args: argparse.Namespace, context: Context) -> int:
    """Preprocess a sketch locally; no API, no network."""
    from sketchbridge.domain.errors import InvalidSketchError
    from sketchbridge.preprocessing.report import preprocess_file
    from sketchbridge.preprocessing.targets import spec_for, target_names

    try:
        spec = spec_for(args.target)
    except KeyError:
        raise UsageError(
            f"--for: no image spec for {args.target!r}",
            suggestions=[f"Choose one of: {', '.join(target_names())}."],
        ) from None
    try:
        report = preprocess_file(
            context.cwd / args.sketch,
            context.cwd / args.output,
            provider_spec=spec,
            text_mode=args.text,
            palette=args.palette,
            fit_mode="crop" if args.crop else "pad",
        )
    except InvalidSketchError as exc:
        raise CliError(exc.message, code=exc.code, suggestions=list(exc.suggestions)) from exc
    except OSError as exc:
        raise UsageError(f"{args.sketch}: {exc.strerror or exc}") from exc
    context.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


def add_parser(commands: Any) -> None:
    preprocess = commands.add_parser(
        "preprocess",
        help="show what a provider would receive for a sketch",
        description="Run the preprocessing pipeline offline, write the image a provider "
        "would receive and print a JSON report (size, steps, palette, text, timings).",
    )
    preprocess.add_argument("sketch", metavar="IN", help="the sketch: a PNG, JPEG or WebP file")
    preprocess.add_argument(
        "--for",
        dest="target",
        default="local",
        metavar="PROVIDER",
        help="a provider or model (default: local); an unknown name lists the known ones",
    )
    preprocess.add_argument("--text", choices=["keep", "remove", "describe"], default="keep")
    preprocess.add_argument("--palette", action="store_true", help="report dominant colours")
    preprocess.add_argument("--crop", action="store_true", help="crop to the size, do not pad")
    preprocess.add_argument("-o", "--output", required=True, metavar="OUT.png")
    preprocess.set_defaults(handler=run_preprocess, json=True)
