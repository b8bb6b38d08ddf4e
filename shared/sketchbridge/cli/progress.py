"""How a job's progress looks on the terminal: one bar, redrawn, with notes above it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sketchbridge.domain.models import JobEventMessage


def render_progress_line(
    *,
    progress: float,
    status: str,
    step: int | None = None,
    total_steps: int | None = None,
    provider: str | None = None,
    width: int = 20,
) -> str:
    """One line of progress: ``[#####.....] 45% step 9/20 running on local``.

    The bar is full, and the percentage 100, only when the job is done; 99.6%
    of the way still reads 99%.
    """
    fraction = min(max(progress, 0.0), 1.0)
    done = fraction >= 1.0
    filled = width if done else min(int(fraction * width + 0.5), width - 1)
    percent = 100 if done else min(int(fraction * 100 + 0.5), 99)
    parts = [f"[{'#' * filled}{'.' * (width - filled)}]", f"{percent}%"]
    if step is not None and total_steps:
        parts.append(f"step {step}/{total_steps}")
    parts.append(status)
    if provider and provider != "auto":
        parts.append(f"on {provider}")
    return " ".join(parts)


class ProgressDisplay:
    """Shows a job's progress on a stream (stderr).

    On a terminal one bar is redrawn in place with a carriage return; anywhere
    else (a log, a pipe) each change gets its own line. Messages such as a
    switch of provider always get their own line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool,
        provider: str | None = None,
        bar_width: int = 20,
    ) -> None:
        self.provider = provider
        self._stream = stream
        self._interactive = interactive
        self._bar_width = bar_width
        self._bar = ""
        self._last_message: str | None = None
        self._step: int | None = None
        self._total_steps: int | None = None

    def show(self, event: JobEventMessage) -> None:
        if event.result is not None:
            self.provider = event.result.provider
        if event.step is not None:
            self._step = event.step
        if event.total_steps is not None:
            self._total_steps = event.total_steps
        if event.type == "result" and self._total_steps:
            # Polling may have seen only some steps; a result means all of them ran.
            self._step = self._total_steps
        if event.message and event.message != self._last_message:
            self._last_message = event.message
            self.note(event.message)
        line = render_progress_line(
            progress=1.0 if event.type == "result" else event.progress,
            status=event.status.value,
            step=self._step,
            total_steps=self._total_steps,
            provider=self.provider,
            width=self._bar_width,
        )
        self._draw(line)

    def note(self, text: str) -> None:
        """A line of its own, above the bar."""
        if self._interactive and self._bar:
            self._stream.write(f"\r{text.ljust(len(self._bar))}\n{self._bar}")
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()

    def close(self) -> None:
        if self._interactive and self._bar:
            self._stream.write("\n")
            self._stream.flush()
        self._bar = ""

    def _draw(self, line: str) -> None:
        if self._interactive:
            # Pad with spaces so a shorter line wipes the end of a longer one.
            self._stream.write(f"\r{line.ljust(len(self._bar))}")
        elif line != self._bar:
            self._stream.write(f"{line}\n")
        self._bar = line
        self._stream.flush()
