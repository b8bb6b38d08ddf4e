"""Progress from a prediction's logs: diffusion models print a tqdm bar, one line a step.

Replicate exposes no progress field; the logs are it. ``StepReporter`` reads the logs as
they grow between polls and reports each step once, in order (a held answer's logs may be
empty: ``complete`` then says the picture is done).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sketchbridge.providers.base import ProgressCallback, ProgressUpdate

# The SDK's own pattern for tqdm lines (Prediction.Progress), e.g.
# " 45%|████▌     | 9/20 [00:02<00:02,  4.1it/s]".
_TQDM_LINE = re.compile(r"^\s*(\d+)%\s*\|.+?\|\s*(\d+)/(\d+)")


def tqdm_steps(lines: str) -> list[tuple[int, int]]:
    """Every (step, total) a chunk of logs reports, in order."""
    found = []
    for line in re.split(r"[\r\n]", lines):
        match = _TQDM_LINE.match(line)
        if match:
            step, total = int(match.group(2)), int(match.group(3))
            if total > 0 and 0 <= step <= total:
                found.append((step, total))
    return found


@dataclass
class StepReporter:
    """Reads growing logs and reports each step they show once, in order.

    Steps the logs skip (tqdm prints at most every so often) are not made up: each event
    is a step the model reported, and every one of them costs the processor a push.
    """

    on_progress: ProgressCallback
    _read: int = 0
    _bar_total: int = 0
    _last_step: int = 0

    def feed(self, logs: str, *, final: bool) -> None:
        if len(logs) < self._read:
            self._read = 0  # the logs were replaced; steps already reported stay reported
        # Only whole lines: a line still being written may read "9/2" for "9/20".
        last_line_end = max(logs.rfind("\n", self._read), logs.rfind("\r", self._read)) + 1
        end = len(logs) if final else last_line_end
        if end <= self._read:
            return
        chunk, self._read = logs[self._read : end], end
        for step, total in tqdm_steps(chunk):
            if total != self._bar_total:
                self._bar_total, self._last_step = total, 0  # a new progress bar began
            if step > self._last_step:
                self._last_step = step
                self.on_progress(ProgressUpdate(step=step, total_steps=total))

    def complete(self, steps: int) -> None:
        """The picture is there: say so, if the logs (empty on a held answer) stopped short."""
        total = self._bar_total or steps
        if self._last_step < total:
            self._last_step = total
            self.on_progress(ProgressUpdate(step=total, total_steps=total))
