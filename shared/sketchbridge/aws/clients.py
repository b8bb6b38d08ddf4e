"""boto3 clients with timeouts and retries that fit a Lambda's time budget.

boto3 honours ``AWS_ENDPOINT_URL`` by itself, which is how the local stack
points every client at the emulated AWS without a line of special code here.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    # total_max_attempts counts the first try; plain max_attempts would mean 4 tries.
    retries={"mode": "standard", "total_max_attempts": 3},
    signature_version="v4",
)


def client(service: str, **kwargs: Any) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG, **kwargs)
