"""The composition root: real adapters wired into the use cases, once per cold start.

Nothing is built at import time, so tests import any handler freely; the first
call builds the dependencies and later calls in the same container reuse them.
The adapters' modules are imported by that first call too, not by the handler's
import: a function loads only what its own path uses (docs/performance.md).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from sketchbridge.aws.metrics import METRICS
from sketchbridge.settings import current_settings

if TYPE_CHECKING:
    from sketchbridge.api.outbound import HttpImageFetcher, HttpWebhookSender
    from sketchbridge.auth import JwksTokenVerifier
    from sketchbridge.aws.dynamo_keys import DynamoApiKeyStore
    from sketchbridge.aws.sqs_queue import SqsRedelivery
    from sketchbridge.aws.sqs_webhooks import SqsWebhookQueue
    from sketchbridge.services.ports import Dependencies

# Handlers flush the metrics a use case recorded with ``@metrics.log_metrics``.
metrics = METRICS


@lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    from sketchbridge.aws.factory import build_dependencies

    return build_dependencies(current_settings(), os.environ)


@lru_cache(maxsize=1)
def token_verifier() -> JwksTokenVerifier:
    # PyJWT and its cryptography backend: only $connect verifies a token here.
    from sketchbridge.auth import JwksTokenVerifier

    settings = current_settings()
    return JwksTokenVerifier(settings.jwt_issuer, settings.jwt_audience)


@lru_cache(maxsize=1)
def redelivery() -> SqsRedelivery:
    """How the processor brings a job that failed for a while back in seconds."""
    from sketchbridge.aws.clients import client
    from sketchbridge.aws.sqs_queue import SqsRedelivery

    settings = current_settings()
    return SqsRedelivery(client("sqs"), [settings.jobs_queue_url, settings.batch_queue_url])


@lru_cache(maxsize=1)
def api_keys() -> DynamoApiKeyStore:
    """The keys table: the drop-in routes' keys and their jobs' webhooks."""
    from sketchbridge.aws.clients import client
    from sketchbridge.aws.dynamo_keys import DynamoApiKeyStore

    return DynamoApiKeyStore(client("dynamodb"), current_settings().keys_table)


@lru_cache(maxsize=1)
def webhook_queue() -> SqsWebhookQueue | None:
    """Where webhook deliveries are queued; None when the deployment has no webhooks queue."""
    from sketchbridge.aws.clients import client
    from sketchbridge.aws.sqs_webhooks import SqsWebhookQueue

    url = current_settings().webhooks_queue_url
    return SqsWebhookQueue(client("sqs"), url) if url else None


@lru_cache(maxsize=1)
def image_fetcher() -> HttpImageFetcher:
    """Fetches a Replicate prediction's image URL (public https only on AWS)."""
    from sketchbridge.api.outbound import HttpImageFetcher

    return HttpImageFetcher(allow_private_hosts=current_settings().allow_private_urls)


@lru_cache(maxsize=1)
def webhook_sender() -> HttpWebhookSender:
    """POSTs webhooks (public https only on AWS)."""
    from sketchbridge.api.outbound import HttpWebhookSender

    return HttpWebhookSender(allow_private_hosts=current_settings().allow_private_urls)
