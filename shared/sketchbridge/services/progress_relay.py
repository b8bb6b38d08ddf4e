"""A running job's progress: every step a frame, about one write a second.

Each step the provider reports used to be one conditional DynamoDB UpdateItem, to number
its frame with the job's write sequence: a 20-step job, 20 writes. Here a write reserves a
block of sequence numbers for the frames expected before the next one, and the frames
between writes are numbered from it in memory. A write happens on the first frame, when a
second has passed since the last one, when the block is used up, and when the processor
asks (a failover's status message): a 20-step job of one second writes once or twice.

What depended on the per-step write still holds:
- the write stays conditional on the job still running. Once it no longer runs here
  (canceled, taken over after a lost lease) the next write fails, ``next_frame`` answers
  None, and the processor stops speaking for the job — within a second, as the cancel
  signal (ProviderRequest.should_stop) expects.
- a client never sees seq go backwards. The stored seq (``stored_seq``) is always at or
  above every frame sent, so a frame another writer numbers from it later (a cancel, the
  sweep, this job's own end) is above them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sketchbridge.services.ports import JobStore

# At most one progress write per job per this many seconds (issue 13: ≤ 1/s).
WRITE_INTERVAL_S = 1.0


class ProgressRelay:
    """Numbers a running job's frames; writes its progress when one of the rules says so."""

    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        *,
        seq: int,
        updated_at: Callable[[], str],
        interval_s: float = WRITE_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jobs = jobs
        self._job_id = job_id
        self._updated_at = updated_at
        self._interval_s = interval_s
        self._monotonic = monotonic
        # The last frame's seq, and the seq stored on the record (the top of the block).
        self.seq = seq
        self.stored_seq = seq
        self._last_write: float | None = None
        self.writes = 0
        # Set when a write found the job no longer running: it will not run here again.
        self.gone = False

    def next_frame(self, progress: float, *, expected: int = 1, write: bool = False) -> int | None:
        """The seq of the next frame; None when the job no longer runs here.

        ``expected``: how many frames may follow before the job ends (the provider's
        remaining steps), so one write can number them all. ``write``: store the
        progress now whatever the interval (a status change every reader should see).
        """
        if self.gone:
            return None
        now = self._monotonic()
        due = self._last_write is None or now - self._last_write >= self._interval_s
        if not (write or due) and self.seq < self.stored_seq:
            self.seq += 1
            return self.seq
        # This frame and the ones expected after it: numbered above everything stored so
        # far (numbers reserved and not used are skipped; clients only compare them).
        block = max(0, expected) + 1
        stored = self._jobs.record_progress(
            self._job_id, progress, updated_at=self._updated_at(), frames=block
        )
        self.writes += 1
        if stored is None:
            self.gone = True
            return None
        self._last_write = now
        # Another writer may have moved seq on meanwhile: number from what is stored.
        self.seq = stored - block + 1
        self.stored_seq = stored
        return self.seq
