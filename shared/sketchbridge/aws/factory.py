"""Build the real adapters from settings, once per cold start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sketchbridge.aws.clients import client
from sketchbridge.aws.connections_pusher import ApiGatewayPusher
from sketchbridge.aws.dynamo_budgets import DynamoBudgetStore
from sketchbridge.aws.dynamo_cache import DynamoIdempotencyStore, DynamoResultCache
from sketchbridge.aws.dynamo_connections import DynamoConnectionStore
from sketchbridge.aws.dynamo_job_history import DynamoJobHistory
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.dynamo_ledger import DynamoUsageLedger
from sketchbridge.aws.dynamo_preferences import DynamoPreferenceStore
from sketchbridge.aws.dynamo_providers import (
    DynamoBreakerStore,
    DynamoLatencyStore,
    DynamoProviderConfigStore,
    DynamoRateLimiter,
)
from sketchbridge.aws.lazy import Lazy, lazy_client
from sketchbridge.aws.metrics import EmfMetrics
from sketchbridge.aws.s3_objects import S3ObjectStore
from sketchbridge.aws.secrets import ProviderKeys
from sketchbridge.aws.sns_alerts import SnsAdminAlerts
from sketchbridge.aws.sqs_queue import SqsJobQueue, SqsQueueBacklogs, SqsQueueDepth
from sketchbridge.aws.sqs_webhooks import SqsWebhookQueue
from sketchbridge.domain.circuit_breaker import BreakerPolicy
from sketchbridge.services.ports import AdminAlerts, ConnectionPusher, Dependencies, NoAlerts
from sketchbridge.services.webhooks import WebhookPusher
from sketchbridge.settings import Settings

if TYPE_CHECKING:
    from sketchbridge.preprocessing.text import TextDetector
    from sketchbridge.providers.registry import ProviderRegistry


def build_dependencies(settings: Settings, environ: Mapping[str, str]) -> Dependencies:
    """Every function's dependencies; what only some paths use is built on first use.

    DynamoDB is on every path and built now. The other clients, the provider adapters
    (numpy, Pillow, the providers' SDKs) and the OCR client wait for their first call, so
    a query or WebSocket cold start never loads them (tests/unit/test_cold_imports.py).
    """
    dynamodb = client("dynamodb")
    secret = settings.provider_keys_secret
    keys = ProviderKeys(lazy_client("secretsmanager") if secret else None, secret or None)
    sqs = lazy_client("sqs")
    budgets = DynamoBudgetStore(dynamodb, settings.budgets_table)
    alerts: AdminAlerts = (
        SnsAdminAlerts(lazy_client("sns"), settings.alerts_topic_arn)
        if settings.alerts_topic_arn
        else NoAlerts()
    )
    connections = DynamoConnectionStore(dynamodb, settings.connections_table)
    pusher: ConnectionPusher = ApiGatewayPusher(
        lazy_client("apigatewaymanagementapi", endpoint_url=settings.websocket_management_url)
    )
    if settings.webhooks_queue_url:
        # Replicate-style webhooks subscribe like WebSocket clients; their frames go to SQS.
        pusher = WebhookPusher(pusher, SqsWebhookQueue(sqs, settings.webhooks_queue_url))
    return Dependencies(
        jobs=DynamoJobStore(dynamodb, settings.jobs_table),
        history=DynamoJobHistory(dynamodb, settings.jobs_table),
        preferences=DynamoPreferenceStore(dynamodb, settings.preferences_table),
        objects=S3ObjectStore(lazy_client("s3"), settings.artifacts_bucket),
        queue=SqsJobQueue(sqs, settings.jobs_queue_url, settings.batch_queue_url),
        queue_depth=SqsQueueDepth(
            sqs,
            {"interactive": settings.jobs_queue_url, "batch": settings.batch_queue_url},
        ),
        queue_backlogs=SqsQueueBacklogs(
            sqs,
            {"interactive": settings.jobs_queue_url, "batch": settings.batch_queue_url},
        ),
        connections=connections,
        tickets=connections,
        cache=DynamoResultCache(dynamodb, settings.cache_table),
        idempotency=DynamoIdempotencyStore(dynamodb, settings.cache_table),
        ledger=DynamoUsageLedger(dynamodb, settings.ledger_table),
        metrics=EmfMetrics(),
        budgets=budgets,
        budget_defaults=settings.budget_defaults,
        reservations=budgets,
        alerts=alerts,
        breakers=DynamoBreakerStore(
            dynamodb,
            settings.providers_table,
            BreakerPolicy(cooldown_s=settings.breaker_cooldown_s),
        ),
        rate_limiter=DynamoRateLimiter(dynamodb, settings.providers_table),
        latency=DynamoLatencyStore(dynamodb, settings.providers_table),
        provider_config=DynamoProviderConfigStore(dynamodb, settings.providers_table),
        text_detector=_lazy_text_detector(settings.ocr_function_name)
        if settings.ocr_function_name
        else None,
        pusher=pusher,
        providers=_lazy_registry(settings.provider_names, keys, environ),
        result_url_ttl_seconds=settings.result_url_ttl_seconds,
        job_ttl_days=settings.job_ttl_days,
        job_lease_seconds=settings.job_lease_seconds,
        max_receive_count=settings.max_receive_count,
        provider_timeout_seconds=settings.provider_timeout_seconds,
        failover_on_policy=settings.failover_on_policy,
    )


def _lazy_registry(
    names: list[str], keys: ProviderKeys, environ: Mapping[str, str]
) -> ProviderRegistry:
    """The providers, built (and their modules imported) when a path first needs one."""

    def build() -> ProviderRegistry:
        from sketchbridge.providers.catalog import build_registry

        return build_registry(names, keys=keys.reader, environ=environ)

    return cast("ProviderRegistry", Lazy(build))


def _lazy_text_detector(function_name: str) -> TextDetector:
    """The OCR function's client and the heuristic fallback (numpy), on first use."""

    def build() -> Any:
        from sketchbridge.aws.ocr_detector import (
            LambdaTextDetector,
            ocr_function_invoker,
            ocr_lambda_client,
        )

        return LambdaTextDetector(ocr_function_invoker(ocr_lambda_client(), function_name))

    return cast("TextDetector", Lazy(build))
