"""A strict ``multipart/form-data`` reader for the drop-in routes (OpenAI's images/edits,
Replicate's files), over the bytes ``api/http.py`` already capped.

Hostile bodies are refused with ``invalid_body`` (never a 5xx): no boundary, a boundary
longer than RFC 2046's 70 characters, a part without headers or without the closing
delimiter, more parts or header bytes than any client sends, text fields that are not
UTF-8. The whole body is in memory already (API Gateway hands it over base64-encoded), so
the parse is linear scans with ``bytes.find``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sketchbridge.api.http import body_bytes
from sketchbridge.domain.errors import InvalidBodyError

MAX_PARTS = 64
MAX_PART_HEADER_BYTES = 8 * 1024
MAX_TEXT_FIELD_CHARS = 64 * 1024
_BOUNDARY = re.compile(r"""boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))(?:;|\s|$)""", re.I)
_PARAMETER = re.compile(r';\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
_FIELD_NAME = re.compile(r"[\x21-\x7e]{1,100}")


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        return self.filename is not None


@dataclass(frozen=True)
class Form:
    parts: tuple[Part, ...]

    def files(self, *names: str) -> list[Part]:
        return [part for part in self.parts if part.name in names and part.is_file]

    def text_fields(self) -> dict[str, str]:
        """Every non-file field as text; a field sent twice is refused (which would win?)."""
        fields: dict[str, str] = {}
        for part in self.parts:
            if part.is_file:
                continue
            if part.name in fields:
                raise InvalidBodyError(
                    f"The form field {part.name!r} is sent more than once.",
                    details={"field": part.name},
                )
            try:
                text = part.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidBodyError(
                    f"The form field {part.name!r} is not UTF-8 text.", details={"field": part.name}
                ) from exc
            if len(text) > MAX_TEXT_FIELD_CHARS:
                raise InvalidBodyError(
                    f"The form field {part.name!r} is over {MAX_TEXT_FIELD_CHARS} characters.",
                    details={"field": part.name},
                )
            fields[part.name] = text
        return fields


def is_multipart(event: dict[str, Any]) -> bool:
    return _content_type(event).lower().startswith("multipart/form-data")


def read_form(event: dict[str, Any]) -> Form:
    """The event's multipart body, or an ``InvalidBodyError`` saying what is wrong with it."""
    content_type = _content_type(event)
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidBodyError("The request body must be multipart/form-data.")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise InvalidBodyError("The multipart Content-Type names no valid boundary.")
    boundary = (found.group(1) or found.group(2)).encode("latin-1")
    return Form(parts=tuple(_parts(body_bytes(event), boundary)))


def _content_type(event: dict[str, Any]) -> str:
    headers = event.get("headers") or {}
    value = headers.get("content-type", "") if isinstance(headers, dict) else ""
    return value if isinstance(value, str) else ""


def _parts(raw: bytes, boundary: bytes) -> list[Part]:
    delimiter = b"--" + boundary
    # A preamble before the first delimiter is allowed (RFC 2046) and ignored.
    if raw.startswith(delimiter):
        position = len(delimiter)
    else:
        first = raw.find(b"\r\n" + delimiter)
        if first < 0:
            raise InvalidBodyError("The multipart body does not contain its boundary.")
        position = first + 2 + len(delimiter)
    parts: list[Part] = []
    separator = b"\r\n" + delimiter
    while True:
        if raw.startswith(b"--", position):
            return parts  # the close delimiter; an epilogue is ignored
        if not raw.startswith(b"\r\n", position):
            raise InvalidBodyError("The multipart body is malformed after a boundary.")
        position += 2
        end = raw.find(separator, position)
        if end < 0:
            raise InvalidBodyError("The multipart body ends without its closing boundary.")
        if len(parts) == MAX_PARTS:
            raise InvalidBodyError(f"The multipart body has more than {MAX_PARTS} parts.")
        parts.append(_part(raw[position:end]))
        position = end + len(separator)


def _part(raw: bytes) -> Part:
    head_end = raw.find(b"\r\n\r\n", 0, MAX_PART_HEADER_BYTES + 4)
    if head_end < 0:
        raise InvalidBodyError("A multipart part has no headers, or headers too long.")
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    for line in raw[:head_end].decode("latin-1").split("\r\n"):
        header, colon, value = line.partition(":")
        if not colon:
            raise InvalidBodyError("A multipart part has a malformed header line.")
        header = header.strip().lower()
        if header == "content-disposition":
            kind, _, _ = value.strip().partition(";")
            if kind.strip().lower() != "form-data":
                raise InvalidBodyError("A multipart part is not form-data.")
            parameters = {
                key.lower(): quoted
                if quoted is not None and quoted != ""
                else (bare or quoted or "")
                for key, quoted, bare in _PARAMETER.findall(value)
            }
            name = parameters.get("name")
            filename = parameters.get("filename")
        elif header == "content-type":
            content_type = value.strip()
    if name is None or not _FIELD_NAME.fullmatch(name):
        raise InvalidBodyError("A multipart part has no valid field name.")
    return Part(name=name, data=raw[head_end + 4 :], filename=filename, content_type=content_type)
