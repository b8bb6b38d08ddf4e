"""Where a job's picture is stored in the artifacts bucket.

A pure rule with no imports beyond the job's record, so the read-only functions (history's
delete checks) use it without loading the processor's path (Pillow, numpy).
"""

from __future__ import annotations

from sketchbridge.domain.models import JobRecord

RESULTS_PREFIX = "results/"


def result_key_of(record: JobRecord) -> str:
    """Where a job's picture is stored: under its fingerprint, in a key no other job has.

    A shared key per fingerprint let a later refresh or bypass of the same request
    overwrite the picture an earlier job had already shown its user.
    """
    return f"{RESULTS_PREFIX}{record.fingerprint}/{record.id}.png"
