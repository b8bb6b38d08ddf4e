"""The composition root: real adapters wired into the use cases, once per cold start.

Nothing is built at import time, so tests import any handler freely; the first
call builds the dependencies and later calls in the same container reuse them.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sketchbridge.api.outbound import HttpImageFetcher, HttpWebhookSender
from sketchbridge.auth import JwksTokenVerifier
from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_keys import DynamoApiKeyStore
from sketchbridge.aws.factory import build_dependencies
from sketchbridge.aws.metrics import METRICS
from sketchbridge.aws.sqs_queue import SqsRedelivery
from sketchbridge.aws.sqs_webhooks import SqsWebhookQueue
from sketchbridge.services.ports import Dependencies
from sketchbridge.settings import current_settings

# Handlers flush the metrics a use case recorded with ``@metrics.log_metrics``.
metrics = METRICS


@lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    return build_dependencies(current_settings(), os.environ)


@lru_cache(maxsize=1)
def token_verifier() -> JwksTokenVerifier:
    settings = current_settings()
    return JwksTokenVerifier(settings.jwt_issuer, settings.jwt_audience)


@lru_cache(maxsize=1)
def redelivery() -> SqsRedelivery:
    """How the processor brings a job that failed for a while back in seconds."""
    settings = current_settings()
    return SqsRedelivery(client("sqs"), [settings.jobs_queue_url, settings.batch_queue_url])


@lru_cache(maxsize=1)
def api_keys() -> DynamoApiKeyStore:
    """The keys table: the drop-in routes' keys and their jobs' webhooks."""
    return DynamoApiKeyStore(client("dynamodb"), current_settings().keys_table)


@lru_cache(maxsize=1)
def webhook_queue() -> SqsWebhookQueue | None:
    """Where webhook deliveries are queued; None when the deployment has no webhooks queue."""
    url = current_settings().webhooks_queue_url
    return SqsWebhookQueue(client("sqs"), url) if url else None


@lru_cache(maxsize=1)
def image_fetcher() -> HttpImageFetcher:
    """Fetches a Replicate prediction's image URL (public https only on AWS)."""
    return HttpImageFetcher(allow_private_hosts=current_settings().allow_private_urls)


@lru_cache(maxsize=1)
def webhook_sender() -> HttpWebhookSender:
    """POSTs webhooks (public https only on AWS)."""
    return HttpWebhookSender(allow_private_hosts=current_settings().allow_private_urls)
