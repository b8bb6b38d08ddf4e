"""Outgoing webhook POSTs: short timeouts, no redirects, and no private addresses.

A webhook URL is the caller's choice, and the POST leaves from inside our network: a URL
naming a loopback, private, link-local (the instance metadata service) or reserved address is
refused, unless ``WEBHOOK_ALLOW_PRIVATE_HOSTS`` is set (the local stack, whose receivers are
on 127.0.0.1). The name is resolved before the check; redirects are not followed, as
Replicate does not follow them either.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from sketchbridge.services.webhooks import WebhookDeliveryError


class HttpWebhookSender:
    def __init__(self, *, allow_private_hosts: bool = False) -> None:
        self._allow_private_hosts = allow_private_hosts

    def post(self, url: str, *, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise WebhookDeliveryError("The webhook URL is not an http(s) URL.")
        if parts.scheme == "http" and not self._allow_private_hosts:
            raise WebhookDeliveryError("Webhooks are delivered over https only.")
        if not self._allow_private_hosts:
            self._refuse_private(parts.hostname, parts.port or 443)
        try:
            response = httpx.post(
                url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise WebhookDeliveryError(f"The webhook could not be reached: {exc}") from exc
        return response.status_code

    @staticmethod
    def _refuse_private(host: str, port: int) -> None:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, port)}
        except (OSError, UnicodeError) as exc:
            raise WebhookDeliveryError(f"The webhook's host {host!r} does not resolve.") from exc
        for address in addresses:
            ip = ipaddress.ip_address(str(address).split("%")[0])
            if not ip.is_global:
                raise WebhookDeliveryError(f"The webhook's host {host!r} is not a public address.")
