"""What the adapter reads of a prediction, and the time budget it is followed within.

A prediction is read from raw JSON, not through the SDK's pydantic ``Prediction``, which
rejects the ``aborted`` status Replicate now sends (``sdk-behaviour.md``).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sketchbridge.providers.replicate.errors import PredictionEndedError, UnexpectedAnswerError

FINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "aborted"})
# Replicate's Cancel-After is at least 5 s.
_MIN_CANCEL_AFTER_S = 5


def resumable(prediction: Prediction) -> bool:
    """A prediction worth following again: still running, or done with its output."""
    return prediction.status not in ("failed", "canceled", "aborted")


@dataclass(frozen=True)
class Prediction:
    """What we read of a prediction's raw JSON; any status string is accepted."""

    id: str
    status: str
    logs: str
    output: Any
    error: str | None
    predict_time_s: float | None = None  # metrics.predict_time, once the prediction is final
    cancel_url: str | None = None  # urls.cancel

    @classmethod
    def from_json(cls, payload: Any) -> Prediction:
        if not isinstance(payload, dict):
            raise UnexpectedAnswerError("a prediction is a JSON object")
        prediction_id, status = payload.get("id"), payload.get("status")
        if not isinstance(prediction_id, str) or not isinstance(status, str):
            raise UnexpectedAnswerError("a prediction has a string id and status")
        logs, error = payload.get("logs"), payload.get("error")
        metrics, urls = payload.get("metrics"), payload.get("urls")
        cancel_url = urls.get("cancel") if isinstance(urls, dict) else None
        predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
        return cls(
            id=prediction_id,
            status=status,
            logs=logs if isinstance(logs, str) else "",
            output=payload.get("output"),
            error=None if error is None else str(error),
            predict_time_s=(
                float(predict_time)
                if isinstance(predict_time, int | float) and not isinstance(predict_time, bool)
                else None
            ),
            cancel_url=cancel_url if isinstance(cancel_url, str) else None,
        )

    @property
    def output_count(self) -> int:
        """Pictures the prediction produced (what an official model bills by)."""
        if isinstance(self.output, list):
            return sum(1 for item in self.output if isinstance(item, str))
        return 1 if isinstance(self.output, str) else 0

    @property
    def has_output(self) -> bool:
        return picture_url_or_none(self.output) is not None

    @property
    def is_done(self) -> bool:
        # Prefer: wait answers "processing" with the output already there (recorded, see
        # replicate-examples/02); an image model's output is complete once it appears.
        if self.status in FINAL_STATUSES:
            return True
        return self.status == "processing" and self.has_output


@dataclass(frozen=True)
class Budget:
    started_at: float
    seconds: float
    clock: Callable[[], float] = field(compare=False)

    @property
    def ends_at(self) -> float:
        return self.started_at + self.seconds

    def remaining(self) -> float:
        return self.ends_at - self.clock()

    def cancel_after(self) -> str:
        """Replicate's Cancel-After: lifetime from creation, whole seconds, at least 5."""
        return f"{max(_MIN_CANCEL_AFTER_S, math.ceil(self.seconds))}s"


def picture_url_or_none(output: Any) -> str | None:
    """The picture among a prediction's outputs: the last image URL. FLUX sends one; a
    ControlNet model may send its control map first and the picture after it."""
    candidates = output if isinstance(output, list) else [output]
    for candidate in reversed(candidates):
        if isinstance(candidate, str) and candidate.startswith(("data:", "https:", "http:")):
            return candidate
    return None


def picture_url(prediction: Prediction) -> str:
    url = picture_url_or_none(prediction.output)
    if url is None:
        raise PredictionEndedError(prediction)
    return url


def data_url_bytes(url: str) -> bytes:
    header, _, data = url.partition(",")
    if not header.endswith(";base64"):
        raise UnexpectedAnswerError("an output data URL is not base64")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise UnexpectedAnswerError("an output data URL does not decode") from exc
