"""Requests we make to URLs a caller chose: webhook deliveries and Replicate image inputs.

They leave from inside our network, so a URL naming a loopback, private, link-local (the
instance metadata service) or reserved address is refused, as is plain http, unless
``ALLOW_PRIVATE_URLS`` is set (the local stack, whose receivers and test servers are on
127.0.0.1). The name is resolved before the check; redirects are never followed (Replicate
does not follow a webhook's either), timeouts are short and what is read is capped.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from sketchbridge.domain.errors import ImageTooLargeError, InvalidSketchError
from sketchbridge.preprocessing.decode import MAX_SKETCH_BYTES
from sketchbridge.services.webhooks import WebhookDeliveryError

IMAGE_FETCH_TIMEOUT_S = 10.0


class _Refused(Exception):
    pass


def _check(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _Refused("it is not an http(s) URL")
    if allow_private:
        return
    if parts.scheme != "https":
        raise _Refused("only https URLs are fetched")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError) as exc:
        raise _Refused(f"its host {parts.hostname!r} does not resolve") from exc
    for address in addresses:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            raise _Refused(f"its host {parts.hostname!r} is not a public address")


class HttpWebhookSender:
    def __init__(self, *, allow_private_hosts: bool = False) -> None:
        self._allow_private_hosts = allow_private_hosts

    def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        try:
            _check(url, allow_private=self._allow_private_hosts)
        except _Refused as exc:
            raise WebhookDeliveryError(f"The webhook is not delivered: {exc}.") from exc
        try:
            response = httpx.post(
                url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise WebhookDeliveryError(f"The webhook could not be reached: {exc}") from exc
        return response.status_code


class HttpImageFetcher:
    """A prediction's ``image`` given as a URL: its bytes, at most ``MAX_SKETCH_BYTES``."""

    def __init__(self, *, allow_private_hosts: bool = False) -> None:
        self._allow_private_hosts = allow_private_hosts

    def fetch(self, url: str, *, field: str = "input.image") -> bytes:
        try:
            _check(url, allow_private=self._allow_private_hosts)
        except _Refused as exc:
            raise InvalidSketchError(
                f"{field} is not fetched: {exc}.", details={"field": field}
            ) from exc
        try:
            with httpx.stream(
                "GET", url, timeout=IMAGE_FETCH_TIMEOUT_S, follow_redirects=False
            ) as response:
                if response.status_code != 200:
                    raise InvalidSketchError(
                        f"{field} could not be fetched: its server answered "
                        f"{response.status_code}.",
                        details={"field": field},
                    )
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > MAX_SKETCH_BYTES:
                        raise ImageTooLargeError(
                            f"{field} is larger than {MAX_SKETCH_BYTES // (1024 * 1024)} MB.",
                            details={"field": field},
                        )
        except httpx.HTTPError as exc:
            raise InvalidSketchError(
                f"{field} could not be fetched: {exc}", details={"field": field}
            ) from exc
        return bytes(data)
