"""``sketchbridge history``: your jobs, newest first, page after page."""

from __future__ import annotations

import argparse
from typing import Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.options import Context, endpoints_for
from sketchbridge.cli.output import emit, table

DEFAULT_LIMIT = 20
# The most GET /generations gives in one page.
PAGE_LIMIT = 100
PROMPT_WIDTH = 40
STATUSES = ("queued", "running", "succeeded", "failed", "canceled")


def collect_history(
    client: SketchbridgeClient, *, limit: int | None, status: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` jobs (None: all), following ``next_cursor``; and the cursor left."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while limit is None or len(items) < limit:
        wanted = PAGE_LIMIT if limit is None else min(PAGE_LIMIT, limit - len(items))
        page = client.history_page(limit=wanted, cursor=cursor, status=status)
        items.extend(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items, cursor


def _cost(job: dict[str, Any]) -> str:
    cost = job.get("cost_usd")
    return "-" if cost is None else f"${cost:.4f}"


def _prompt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PROMPT_WIDTH else text[: PROMPT_WIDTH - 1] + "…"


def render_history(items: list[dict[str, Any]], *, more: bool) -> str:
    """The jobs as a table; a refined job names the job it came from."""
    if not items:
        return "No jobs."
    rows = [("ID", "CREATED", "STATUS", "PROVIDER", "COST", "FROM", "PROMPT")]
    for job in items:
        rows.append(
            (
                str(job.get("id", "")),
                str(job.get("created_at", ""))[:19].replace("T", " "),
                str(job.get("status", "")),
                str(job.get("provider", "")),
                _cost(job),
                str(job.get("parent_id") or "-"),
                _prompt(str(job.get("prompt", ""))),
            )
        )
    lines = table(rows)
    if more:
        lines.append("More jobs are older: raise --limit, or --all.")
    return "\n".join(line.rstrip() for line in lines)


def run_history(args: argparse.Namespace, context: Context) -> int:
    limit = None if args.all else args.limit
    with SketchbridgeClient(endpoints_for(args, context)) as client:
        items, cursor = collect_history(client, limit=limit, status=args.status)
    answer = {"items": items, "next_cursor": cursor}
    return emit(args, context, answer, lambda _: render_history(items, more=cursor is not None))


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    history = commands.add_parser(
        "history",
        parents=[user],
        help="your jobs, newest first",
        description="List your jobs, newest first, fetching page after page as needed.",
    )
    amount = history.add_mutually_exclusive_group()
    amount.add_argument(
        "--limit",
        type=_count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show the newest N (default {DEFAULT_LIMIT})",
    )
    amount.add_argument("--all", action="store_true", help="show every job")
    history.add_argument("--status", choices=STATUSES, help="only jobs in this state")
    history.set_defaults(handler=run_history)
