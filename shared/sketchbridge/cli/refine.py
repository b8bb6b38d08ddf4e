"""``sketchbridge refine ID``: a new job from a finished one, with what the options change."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sketchbridge.cli.client import SketchbridgeClient, parse_answer
from sketchbridge.cli.generate import add_timeout_option
from sketchbridge.cli.options import (
    Context,
    add_choice_options,
    add_parameter_options,
    checked_fields,
    endpoints_for,
    request_fields,
)
from sketchbridge.cli.output import emit
from sketchbridge.cli.results import check_output_folder, watch_and_save


def refine_body(args: argparse.Namespace) -> dict[str, Any]:
    """``POST /generations/{id}/refine``'s body: only what the options change."""
    fields = request_fields(args)
    if args.prompt is not None:
        fields["prompt"] = args.prompt
    if args.negative_prompt is not None:
        fields["negative_prompt"] = args.negative_prompt
    body = checked_fields(fields)
    # The checks of a generation request leave the prompt's surrounding spaces out.
    if "prompt" in body:
        body["prompt"] = body["prompt"].strip()
    body["from"] = args.source
    return body


def describe_job(job: dict[str, Any]) -> str:
    """``job 1234 queued on replicate (refines abcd, depth 1)``."""
    where = f" on {job['provider']}" if job.get("provider") not in (None, "auto") else ""
    lineage = ""
    if job.get("parent_id"):
        lineage = f" (refines {job['parent_id']}, depth {job.get('depth', '?')})"
    return f"job {job.get('id')} {job.get('status')}{where}{lineage}"


def run_refine(args: argparse.Namespace, context: Context) -> int:
    check_output_folder(args.output, context)
    body = refine_body(args)
    endpoints = endpoints_for(args, context)
    started = time.monotonic()
    with SketchbridgeClient(endpoints) as client:
        answer = client.refine(args.job_id, body)
        if not args.watch:
            context.stderr.write(f"Stop it with: sketchbridge cancel {answer.get('id')}\n")
            return emit(args, context, answer, describe_job)
        from sketchbridge.domain.models import JobResponse

        job = parse_answer(JobResponse, answer)
        watch_and_save(client, job, args, context, started=started, name=f"refined-{job.id[:8]}")
    return 0


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    refine = commands.add_parser(
        "refine",
        parents=[user],
        help="a new picture from an earlier job, with changes",
        description="Start a new job from job ID: from its picture (default) or its sketch, "
        "with the prompt or parameters the options change; the rest is the earlier job's.",
    )
    refine.add_argument("job_id", metavar="ID", help="the job to start from")
    refine.add_argument("-p", "--prompt", help="a new prompt (default: the job's)")
    refine.add_argument("--negative-prompt", metavar="TEXT", help="what it should not show")
    refine.add_argument(
        "--from",
        dest="source",
        choices=["result", "sketch"],
        default="result",
        help="start from the job's picture (default) or from its sketch",
    )
    add_choice_options(refine, defaults="the earlier job's")
    add_parameter_options(refine, defaults="the earlier job's")
    refine.add_argument(
        "--watch", action="store_true", help="show its progress and save the PNG when done"
    )
    refine.add_argument("-o", "--output", metavar="OUT.png", help="with --watch: where to save")
    add_timeout_option(refine)
    refine.set_defaults(handler=run_refine)
