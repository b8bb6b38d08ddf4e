"""Replicate's webhook signature (the Standard Webhooks scheme), pure.

``webhook-signature`` = ``v1,<base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))>``, where
the key is the base64 after ``whsec_`` in the secret that ``GET /v1/webhooks/default/secret``
answers. The replicate SDK's ``Webhooks.validate`` checks exactly this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sketchbridge.domain.api_keys import WEBHOOK_SECRET_PREFIX


def signature(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a delivery carries, plus its content type."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            secret, webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
    }
