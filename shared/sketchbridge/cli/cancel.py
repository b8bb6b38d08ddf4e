"""``sketchbridge cancel ID``: stop a queued or running job.

A job already canceled answers as it is; a finished one is an error (409 ``job_finished``,
with its status), which the command reports as the API words it.
"""

from __future__ import annotations

import argparse
from typing import Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.options import Context, endpoints_for
from sketchbridge.cli.output import emit


def run_cancel(args: argparse.Namespace, context: Context) -> int:
    with SketchbridgeClient(endpoints_for(args, context)) as client:
        job = client.cancel(args.job_id)
    return emit(args, context, job, lambda job: f"job {job.get('id')} {job.get('status')}")


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    cancel = commands.add_parser(
        "cancel",
        parents=[user],
        help="stop a queued or running job",
        description="Cancel job ID: a queued job never reaches a provider; a running one is "
        "abandoned (the provider's own cancel is called where it has one).",
    )
    cancel.add_argument("job_id", metavar="ID", help="the job to stop")
    cancel.set_defaults(handler=run_cancel)
