"""``sketchbridge standins``: the provider stand-ins alone, from a development checkout."""

from __future__ import annotations

import argparse
from typing import Any

from sketchbridge.cli.errors import UsageError
from sketchbridge.cli.options import Context

STANDINS_MODULE = "local.standins"


def standins_available() -> bool:
    """Whether the repository's ``local`` package is importable here (it is never shipped)."""
    import importlib.util

    try:
        return importlib.util.find_spec(STANDINS_MODULE) is not None
    except ModuleNotFoundError:  # no ``local`` package at all
        return False


def run_standins(args: argparse.Namespace, context: Context) -> int:
    """Run the stand-ins in this process until Ctrl-C or SIGTERM; they stop cleanly on either."""
    import importlib

    if not standins_available():
        raise UsageError(
            "The provider stand-ins are not installed here: they live in the repository's "
            "local/ package, which is for development and never shipped.",
            suggestions=[
                "Run this from a checkout of the repository after `make install`.",
                "Or start them with the local stack: `make run STANDINS=1`.",
            ],
        )
    # Imported by name, not statically: the shipped package must not depend on local/.
    entry_point = importlib.import_module(f"{STANDINS_MODULE}.__main__")
    argv = ["--port-base", str(args.port_base)]
    if args.state_file:
        argv += ["--state-file", str(context.cwd / args.state_file)]
    exit_code: int = entry_point.main(argv)
    return exit_code


def add_parser(commands: Any) -> None:
    standins = commands.add_parser(
        "standins",
        help="run the provider stand-ins alone (development checkouts only)",
        description="Start offline stand-ins for the Replicate, OpenAI and Bedrock APIs, print "
        "their URLs and the variables that point the adapters at them, and run until Ctrl-C. "
        "`make run STANDINS=1` starts them with the local stack instead.",
    )
    standins.add_argument(
        "--port-base",
        type=int,
        default=0,
        metavar="N",
        help="replicate on N, openai on N+1, bedrock on N+2 (default: any free ports)",
    )
    standins.add_argument(
        "--state-file", metavar="PATH", help="where to write their URLs (default .local/...)"
    )
    standins.set_defaults(handler=run_standins, json=False)
