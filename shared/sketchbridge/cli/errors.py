"""What the command reports when it fails, and the exit code it ends with.

Exit codes: 0 done, 1 the API or the job failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command reports to its user: a code, a message and what to do next."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        code: str = "failed",
        suggestions: Sequence[str] = (),
        retryable: bool = False,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.suggestions = tuple(suggestions)
        self.retryable = retryable
        self.job_id = job_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "suggestions": list(self.suggestions),
            "retryable": self.retryable,
        }


class UsageError(CliError):
    """The command line or the files it names are wrong; nothing was sent."""

    exit_code = EXIT_USAGE

    def __init__(
        self, message: str, *, code: str = "usage", suggestions: Sequence[str] = ()
    ) -> None:
        super().__init__(message, code=code, suggestions=suggestions)


class ApiError(CliError):
    """The API refused a request or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        suggestions: Sequence[str] = (),
        retryable: bool = False,
        http_status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, suggestions=suggestions, retryable=retryable)
        self.http_status = http_status
        # The rest of the API's error object (e.g. a finished job's ``status``).
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {**self.details, **super().as_dict()}


class InterruptedByUserError(CliError):
    exit_code = EXIT_INTERRUPTED


def render_error(error: CliError) -> str:
    lines = [f"error: {error.message} [{error.code}]"]
    lines += [f"  - {suggestion}" for suggestion in error.suggestions]
    if error.job_id:
        lines.append(f"  job {error.job_id}")
    if error.retryable:
        lines.append("  Trying again may help.")
    return "\n".join(lines)


def report_error(error: CliError, *, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
    stderr.write(render_error(error) + "\n")
    if as_json:
        stdout.write(json.dumps({"ok": False, "job_id": error.job_id, "error": error.as_dict()}))
        stdout.write("\n")
