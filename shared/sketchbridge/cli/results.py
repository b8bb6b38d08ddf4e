"""Watching a submitted job to its end and saving its picture: ``generate`` and ``refine``."""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.errors import CliError, InterruptedByUserError
from sketchbridge.cli.follow import JobFollower
from sketchbridge.cli.options import Context
from sketchbridge.cli.progress import ProgressDisplay
from sketchbridge.cli.sketch import png_dimensions

if TYPE_CHECKING:
    from sketchbridge.domain.models import JobEventMessage, JobResponse


@dataclass(frozen=True)
class GenerationSummary:
    job_id: str
    output: Path
    bytes: int
    width: int
    height: int
    provider: str
    model: str
    seed: int | None
    elapsed_seconds: float
    progress_events: int
    cached: bool
    transports: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "job_id": self.job_id,
            "output": str(self.output),
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "provider": self.provider,
            "model": self.model,
            "seed": self.seed,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "progress_events": self.progress_events,
            "cached": self.cached,
            "transport": "+".join(self.transports) or "none",
        }


def format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def render_summary(summary: GenerationSummary, *, shown_path: Path | None = None) -> str:
    seed = "none" if summary.seed is None else str(summary.seed)
    how = "served from cache" if summary.cached else "via " + " then ".join(summary.transports)
    return "\n".join(
        [
            f"Saved {shown_path or summary.output} "
            f"({summary.width}x{summary.height} PNG, {format_bytes(summary.bytes)})",
            f"provider {summary.provider}, model {summary.model}, seed {seed}",
            f"job {summary.job_id}: {summary.elapsed_seconds:.1f} s, "
            f"{summary.progress_events} progress events, {how}",
        ]
    )


def job_failure(event: JobEventMessage | None, job_id: str) -> CliError:
    """The error to report for a job that ended without a result."""
    if event is not None and event.error is not None:
        return CliError(
            event.error.message,
            code=event.error.code,
            suggestions=event.error.suggestions,
            retryable=event.error.retryable,
            job_id=job_id,
        )
    status = event.status.value if event is not None else "unknown"
    if status == "canceled":
        return CliError("The job was canceled.", code="canceled", job_id=job_id)
    return CliError(f"The job ended {status} without a result.", code="failed", job_id=job_id)


def write_atomically(path: Path, data: bytes) -> None:
    """Write the file whole or not at all: a reader never sees half an image."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def check_output_folder(output: str | None, context: Context) -> None:
    if output is not None and not (context.cwd / output).parent.is_dir():
        from sketchbridge.cli.errors import UsageError

        raise UsageError(f"The folder for {output} does not exist.")


def watch_and_save(
    client: SketchbridgeClient,
    job: JobResponse,
    args: argparse.Namespace,
    context: Context,
    *,
    started: float,
    name: str,
) -> None:
    """Show the job's progress until it ends (``--timeout``), save its PNG at ``--output``
    (default ``name``.png here), print a summary (``--json``)."""
    from sketchbridge.domain.models import JobStatus

    output = context.cwd / (args.output or f"{name}.png")

    display = ProgressDisplay(context.stderr, interactive=context.stderr.isatty())
    cached = job.status is JobStatus.SUCCEEDED
    display.provider = job.provider
    display.note(f"Job {job.id} " + ("served from cache" if cached else "submitted"))
    follower = JobFollower(client, job, wait_seconds=args.timeout, on_notice=display.note)
    progress_events = 0
    try:
        for event in follower:
            progress_events += event.type == "progress"
            display.show(event)
    except KeyboardInterrupt as exc:
        raise InterruptedByUserError(
            "Interrupted; the job goes on without us.",
            code="interrupted",
            suggestions=[
                f"Look it up later: GET /generations/{job.id}",
                f"Or stop it: sketchbridge cancel {job.id}",
            ],
            job_id=job.id,
        ) from exc
    except CliError as exc:
        exc.job_id = exc.job_id or job.id
        raise
    finally:
        display.close()

    final = follower.last_event
    if final is None or final.status is not JobStatus.SUCCEEDED:
        raise job_failure(final, job.id)
    # A frame may leave the result out; the job itself always has it once succeeded.
    result = final.result or client.get(job.id).result
    if result is None:
        raise CliError(
            "The job succeeded but carries no result.", code="bad_response", job_id=job.id
        )
    image = client.download(result.url)
    size = png_dimensions(image)
    if size is None:
        raise CliError(
            "The result downloaded is not a PNG image.", code="bad_result", job_id=job.id
        )
    write_atomically(output, image)
    summary = GenerationSummary(
        job_id=job.id,
        output=output.resolve(),
        bytes=len(image),
        width=size[0],
        height=size[1],
        provider=result.provider,
        model=result.model,
        seed=result.seed,
        elapsed_seconds=time.monotonic() - started,
        progress_events=progress_events,
        cached=cached,
        transports=list(follower.transports),
    )
    if args.json:
        context.stdout.write(json.dumps(summary.as_dict()) + "\n")
    else:
        cwd = context.cwd
        shown = output.relative_to(cwd) if output.is_relative_to(cwd) else output
        context.stdout.write(render_summary(summary, shown_path=shown) + "\n")
