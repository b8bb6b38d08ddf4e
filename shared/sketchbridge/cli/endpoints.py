"""Where to connect: explicit options, then the environment, then the local stack's file.

Without ``--api`` the commands talk to the local stack that ``make run`` started, whose
addresses and dev token are in ``.local/stack.json``. With ``--api`` (or
``SKETCHBRIDGE_API_URL``) they talk to a deployed API; the token then comes from ``--token``
or ``SKETCHBRIDGE_TOKEN`` and the WebSocket from ``--ws`` or ``SKETCHBRIDGE_WS_URL``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sketchbridge.cli.errors import UsageError

STACK_FILE_ENV = "SKETCHBRIDGE_STACK_FILE"
API_URL_ENV = "SKETCHBRIDGE_API_URL"
TOKEN_ENV = "SKETCHBRIDGE_TOKEN"
WS_URL_ENV = "SKETCHBRIDGE_WS_URL"
STACK_FILE_RELATIVE = Path(".local") / "stack.json"


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    ws_url: str | None
    token: str | None


def package_stack_file() -> Path:
    """The repository's ``.local/stack.json``, found from this file (shared/sketchbridge/cli/)."""
    return Path(__file__).resolve().parents[3] / STACK_FILE_RELATIVE


def find_stack_file(explicit: str | None, *, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The stack file to use: --stack-file, $SKETCHBRIDGE_STACK_FILE, ./.local, the repo's."""
    named = explicit or environ.get(STACK_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise UsageError(
                f"The stack file {path} does not exist.",
                suggestions=["Start the local stack with `make run`, which writes it."],
            )
        return path
    for candidate in (cwd / STACK_FILE_RELATIVE, package_stack_file()):
        if candidate.is_file():
            return candidate
    return None


def read_stack_file(path: Path) -> dict[str, Any]:
    try:
        stack = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"The stack file {path} cannot be read: {exc}") from exc
    if not isinstance(stack, dict) or not isinstance(stack.get("api_url"), str):
        raise UsageError(f"The stack file {path} has no api_url.")
    return stack


def same_url(first: str, second: str) -> bool:
    return first.rstrip("/") == second.rstrip("/")


def no_api_error() -> UsageError:
    return UsageError(
        "No API to talk to: no --api given and no local stack found (.local/stack.json).",
        suggestions=[
            "Start the local stack with `make run` in the repository, then run this again.",
            f"Or pass --api URL and --token TOKEN (or set {API_URL_ENV} and {TOKEN_ENV}).",
        ],
    )


def resolve_endpoints(
    *,
    api: str | None,
    ws: str | None,
    token: str | None,
    stack_file: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> Endpoints:
    """Decide where to send requests: explicit options, then the environment, then the stack."""
    api = api or environ.get(API_URL_ENV)
    if api:
        # A deployed API: its token and WebSocket come from options or the environment.
        ws = ws or environ.get(WS_URL_ENV)
        token = token or environ.get(TOKEN_ENV)
        path = find_stack_file(stack_file, environ=environ, cwd=cwd)
        if path is not None and (ws is None or token is None):
            # `--api http://127.0.0.1:3000` names the local stack: its file fills the gaps.
            stack = read_stack_file(path)
            if same_url(stack["api_url"], api):
                ws = ws or stack.get("ws_url")
                token = token or stack.get("dev_token")
        return Endpoints(api_url=api, ws_url=ws or None, token=token or None)

    path = find_stack_file(stack_file, environ=environ, cwd=cwd)
    if path is None:
        raise no_api_error()
    stack = read_stack_file(path)
    return Endpoints(
        api_url=stack["api_url"],
        ws_url=ws or stack.get("ws_url") or None,
        token=token or stack.get("dev_token") or None,
    )


def websocket_url(ws_url: str, token: str | None) -> str:
    """The WebSocket address with ``?token=`` added, keeping any query it already has."""
    if not token:
        return ws_url
    parts = urlsplit(ws_url)
    query = [*parse_qsl(parts.query), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))
