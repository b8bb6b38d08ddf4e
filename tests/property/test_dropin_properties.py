"""Whatever bytes arrive, the drop-in edge answers with a refusal it names, never a crash."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from sketchbridge.api.multipart import read_form
from sketchbridge.domain.errors import InvalidBodyError
from sketchbridge.services import api_keys

BOUNDARY = "b0undary"
# Pieces a hostile multipart body is made of: delimiters, header lines, CRLFs, junk.
PIECES = st.sampled_from(
    [
        b"--" + BOUNDARY.encode(),
        b"--" + BOUNDARY.encode() + b"--",
        b"\r\n",
        b"\r\n\r\n",
        b'Content-Disposition: form-data; name="prompt"',
        b'Content-Disposition: form-data; name="image"; filename="a.png"',
        b"Content-Disposition: attachment",
        b"Content-Type: image/png",
        b'name="',
        b"\xff\xfe\x00",
        b"a sea turtle",
    ]
)


def _event(body: bytes, content_type: str) -> dict[str, object]:
    return {
        "headers": {"content-type": content_type},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(PIECES, st.binary(max_size=40)), max_size=30).map(b"".join),
    st.sampled_from(
        [
            f"multipart/form-data; boundary={BOUNDARY}",
            f'multipart/form-data; boundary="{BOUNDARY}"',
            "multipart/form-data",
            "multipart/form-data; boundary=",
        ]
    ),
)
def test_any_body_parses_or_is_refused_as_invalid_body(body: bytes, content_type: str) -> None:
    try:
        form = read_form(_event(body, content_type))
    except InvalidBodyError:
        return
    try:
        form.text_fields()
    except InvalidBodyError:
        return
    assert all(part.name for part in form.parts)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_no_authorization_header_crashes_the_authorizer(header: str) -> None:
    class NoKeys:
        def get(self, key_id: str) -> None:
            return None

    assert api_keys.authorize(header, keys=NoKeys()) is None  # type: ignore[arg-type]
