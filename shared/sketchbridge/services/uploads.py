"""Sketches too big for a JSON body: a presigned S3 POST per upload, read back by submit.

A data URL travels inside the request, and on AWS a synchronous Lambda payload is capped at
6 MB (about 4.4 MB of image once base64-encoded). ``POST /uploads`` hands out a form that
lets the client send the bytes straight to S3, under a key only its owner's id leads to;
``POST /generations`` then takes ``sketch_upload_id`` and decodes the bytes exactly as it
decodes a data URL. The bucket's lifecycle deletes uploads after a day.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from sketchbridge.domain.errors import NotFoundError
from sketchbridge.domain.models import UploadRequest, UploadResponse
from sketchbridge.preprocessing.decode import MAX_SKETCH_BYTES
from sketchbridge.services.ports import Dependencies

# Long enough to send 8 MB on a slow link; short enough that a leaked form is soon useless.
UPLOAD_TTL_SECONDS = 300
UPLOAD_PREFIX = "uploads/"


def create_upload(request: UploadRequest, *, user_id: str, deps: Dependencies) -> UploadResponse:
    """A presigned POST for one sketch of ``request.content_type``, at most MAX_SKETCH_BYTES."""
    upload_id = uuid.uuid4().hex
    expires_at = deps.clock() + timedelta(seconds=UPLOAD_TTL_SECONDS)
    form = deps.objects.presigned_post(
        upload_key(user_id, upload_id),
        content_type=request.content_type,
        max_bytes=MAX_SKETCH_BYTES,
        expires_in=UPLOAD_TTL_SECONDS,
    )
    return UploadResponse(
        upload_id=upload_id,
        url=form.url,
        fields=dict(form.fields),
        content_type=request.content_type,
        max_bytes=MAX_SKETCH_BYTES,
        expires_in=UPLOAD_TTL_SECONDS,
        expires_at=expires_at.isoformat(),
    )


def read_upload(upload_id: str, *, user_id: str, deps: Dependencies) -> bytes:
    """The bytes ``user_id`` uploaded as ``upload_id``; another user's upload does not exist.

    The key is derived from the caller's id, so a guessed or stolen id of someone else's
    upload leads to an object that is not there: the same 404 as an id never issued.
    """
    key = upload_key(user_id, upload_id)
    if deps.objects.metadata(key) is None:
        raise NotFoundError(
            "No uploaded sketch with this sketch_upload_id: it was never uploaded, has expired, "
            "or is not yours.",
            suggestions=(
                "Ask POST /uploads for a form, POST the sketch to it, then send its upload_id.",
            ),
        )
    return deps.objects.get(key)


def upload_key(user_id: str, upload_id: str) -> str:
    """``uploads/<hash of the user>/<upload id>``: a user id is hashed so that no character
    in it (a ``/``, a ``..``) can reach into another user's prefix."""
    owner = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return f"{UPLOAD_PREFIX}{owner}/{upload_id}"
