"""The ``sketchbridge`` command: send a sketch, watch it render live, save the image.

    sketchbridge generate turtle.png -p "a sea turtle, watercolour" -o turtle-art.png
    sketchbridge refine ID --strength 0.5 --watch      a new picture from an earlier job
    sketchbridge cancel ID                             stop a queued or running job
    sketchbridge history [--limit N] [--status S] [--all]
    sketchbridge preferences get|set|reset             what requests fall back on
    sketchbridge providers                             price, ETA and ranges of each
    sketchbridge admin ...     (SigV4-signed admin API)
    sketchbridge standins      (from a checkout: the provider stand-ins alone)

One module per command (``generate``, ``refine``, ``cancel``, ``history``,
``preferences``, ``providers``, ``preprocess``, ``standins``, ``admin``), beside what they
share: where to connect (``endpoints``), one HTTP exchange (``http``) under the user's client
(``client``) and the admins' (``admin_client``), the option groups (``options``), following a
job (``follow``), its progress bar (``progress``), and watching a job to its saved picture
(``results``). httpx, websockets and pydantic are imported by the code that needs them, so
importing the package and ``--help`` stay fast.

Exit codes (``errors``): 0 done, 1 the API or the job failed, 2 bad usage, 130 interrupted.
This module re-exports the names callers and tests use.
"""

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.endpoints import (
    API_URL_ENV,
    STACK_FILE_ENV,
    TOKEN_ENV,
    WS_URL_ENV,
    Endpoints,
    find_stack_file,
    package_stack_file,
    read_stack_file,
    resolve_endpoints,
    websocket_url,
)
from sketchbridge.cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ApiError,
    CliError,
    UsageError,
    render_error,
)
from sketchbridge.cli.follow import DEFAULT_WAIT_SECONDS, JobFollower
from sketchbridge.cli.generate import build_generation_request
from sketchbridge.cli.http import error_from_response
from sketchbridge.cli.main import build_parser, main
from sketchbridge.cli.progress import ProgressDisplay, render_progress_line
from sketchbridge.cli.providers import render_providers_table
from sketchbridge.cli.results import (
    GenerationSummary,
    format_bytes,
    job_failure,
    render_summary,
)
from sketchbridge.cli.sketch import png_dimensions, sketch_data_url, sniff_image_type

__all__ = [
    "API_URL_ENV",
    "DEFAULT_WAIT_SECONDS",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "STACK_FILE_ENV",
    "TOKEN_ENV",
    "WS_URL_ENV",
    "ApiError",
    "CliError",
    "Endpoints",
    "GenerationSummary",
    "JobFollower",
    "ProgressDisplay",
    "SketchbridgeClient",
    "UsageError",
    "build_generation_request",
    "build_parser",
    "error_from_response",
    "find_stack_file",
    "format_bytes",
    "job_failure",
    "main",
    "package_stack_file",
    "png_dimensions",
    "read_stack_file",
    "render_error",
    "render_progress_line",
    "render_providers_table",
    "render_summary",
    "resolve_endpoints",
    "sketch_data_url",
    "sniff_image_type",
    "websocket_url",
]
