"""The parser of every command, and ``main``, which runs one and turns failures into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sketchbridge.cli import (
    admin,
    cancel,
    generate,
    history,
    preferences,
    preprocess,
    providers,
    refine,
    standins,
)
from sketchbridge.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError, report_error
from sketchbridge.cli.options import Context, user_options, where_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sketchbridge",
        description="Turn a sketch and a prompt into an image, and watch it render.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    where = where_options()
    user = user_options(where)
    generate.add_parser(commands, user)
    refine.add_parser(commands, user)
    cancel.add_parser(commands, user)
    history.add_parser(commands, user)
    preferences.add_parser(commands, user)
    providers.add_parser(commands, user)
    preprocess.add_parser(commands)
    standins.add_parser(commands)
    admin.add_parser(commands, where)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code, so it can run in-process."""
    context = Context(
        stdout=stdout or sys.stdout, stderr=stderr or sys.stderr, environ=os.environ, cwd=Path.cwd()
    )
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has already printed help or the usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        exit_code: int = args.handler(args, context)
    except CliError as exc:
        report_error(exc, as_json=args.json, stdout=context.stdout, stderr=context.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        context.stderr.write("Interrupted.\n")
        return EXIT_INTERRUPTED
    return exit_code
