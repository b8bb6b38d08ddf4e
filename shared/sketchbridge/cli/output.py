"""What the commands print on stdout: plain-text tables, or the API's answer as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from sketchbridge.cli.options import Context

_Answer = TypeVar("_Answer")


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """One line a row: each column padded to its widest cell, the last one as it is."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def emit(
    args: argparse.Namespace,
    context: Context,
    answer: _Answer,
    render: Callable[[_Answer], str],
) -> int:
    """Print ``answer``: whole as JSON with ``--json``, else as ``render`` shows it. Exit 0."""
    context.stdout.write((json.dumps(answer) if args.json else render(answer)) + "\n")
    return 0
