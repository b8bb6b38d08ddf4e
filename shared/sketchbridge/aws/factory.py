"""Build the real adapters from settings, once per cold start."""

from __future__ import annotations

from collections.abc import Mapping

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
from sketchbridge.aws.metrics import EmfMetrics
from sketchbridge.aws.ocr_detector import (
    LambdaTextDetector,
    ocr_function_invoker,
    ocr_lambda_client,
)
from sketchbridge.aws.s3_objects import S3ObjectStore
from sketchbridge.aws.secrets import ProviderKeys
from sketchbridge.aws.sns_alerts import SnsAdminAlerts
from sketchbridge.aws.sqs_queue import SqsJobQueue, SqsQueueBacklogs, SqsQueueDepth
from sketchbridge.domain.circuit_breaker import BreakerPolicy
from sketchbridge.providers.catalog import build_registry
from sketchbridge.services.ports import AdminAlerts, Dependencies, NoAlerts
from sketchbridge.settings import Settings


def build_dependencies(settings: Settings, environ: Mapping[str, str]) -> Dependencies:
    dynamodb = client("dynamodb")
    secret = settings.provider_keys_secret
    keys = ProviderKeys(client("secretsmanager") if secret else None, secret or None)
    budgets = DynamoBudgetStore(dynamodb, settings.budgets_table)
    alerts: AdminAlerts = (
        SnsAdminAlerts(client("sns"), settings.alerts_topic_arn)
        if settings.alerts_topic_arn
        else NoAlerts()
    )
    connections = DynamoConnectionStore(dynamodb, settings.connections_table)
    return Dependencies(
        jobs=DynamoJobStore(dynamodb, settings.jobs_table),
        history=DynamoJobHistory(dynamodb, settings.jobs_table),
        preferences=DynamoPreferenceStore(dynamodb, settings.preferences_table),
        objects=S3ObjectStore(client("s3"), settings.artifacts_bucket),
        queue=SqsJobQueue(client("sqs"), settings.jobs_queue_url, settings.batch_queue_url),
        queue_depth=SqsQueueDepth(
            client("sqs"),
            {"interactive": settings.jobs_queue_url, "batch": settings.batch_queue_url},
        ),
        queue_backlogs=SqsQueueBacklogs(
            client("sqs"),
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
        text_detector=LambdaTextDetector(
            ocr_function_invoker(ocr_lambda_client(), settings.ocr_function_name)
        )
        if settings.ocr_function_name
        else None,
        pusher=ApiGatewayPusher(
            client("apigatewaymanagementapi", endpoint_url=settings.websocket_management_url)
        ),
        providers=build_registry(settings.provider_names, keys=keys.reader, environ=environ),
        result_url_ttl_seconds=settings.result_url_ttl_seconds,
        job_ttl_days=settings.job_ttl_days,
        job_lease_seconds=settings.job_lease_seconds,
        max_receive_count=settings.max_receive_count,
        provider_timeout_seconds=settings.provider_timeout_seconds,
        failover_on_policy=settings.failover_on_policy,
    )
