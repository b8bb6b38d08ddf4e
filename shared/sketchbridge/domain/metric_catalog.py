"""Every CloudWatch metric Sketchbridge emits: its name, unit and dimensions, in one place.

The code emits only names listed here (``MetricsRecorder.add`` takes a ``Metric``), and the
dashboard and alarms in ``template.yaml`` are generated from this list, so a widget can
never chart a metric nobody emits. Names are PascalCase, past tense where they count events.
All metrics live in the ``Sketchbridge`` namespace (``POWERTOOLS_METRICS_NAMESPACE``).

Dimensions are few on purpose: each distinct set is its own CloudWatch metric (and bill).
Per provider: ``Provider``; per error: ``Provider`` + ``ErrorCode``; budgets: ``Scope``
(only ``app``: per-user series would be one metric per user) + ``Period`` + ``Limit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["Count", "Seconds", "Bytes", "None"]

NAMESPACE = "Sketchbridge"

# The values of the budget series' dimensions: the dashboard and the spend alarms chart
# exactly these, so an emitter must use them.
APP_SCOPE = "app"
BUDGET_PERIODS = ("day", "month")
BUDGET_LIMITS = ("soft", "hard")


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    dimensions: tuple[str, ...] = ()
    description: str = ""


# Jobs
JOB_QUEUED = Metric("JobQueued", "Count", description="a job was accepted and queued")
JOB_SUCCEEDED = Metric("JobSucceeded", "Count", description="a job finished with a picture")
JOB_FAILED = Metric("JobFailed", "Count", description="a job ended in a final error")
JOB_CANCELED = Metric("JobCanceled", "Count", description="a job was canceled by its owner")
JOB_DEAD_LETTERED = Metric("JobDeadLettered", "Count", description="a job reached a DLQ")
STUCK_JOB_REQUEUED = Metric("StuckJobRequeued", "Count", description="the sweep requeued a job")
QUEUED_JOB_RESENT = Metric("QueuedJobResent", "Count", description="the sweep resent a message")
STUCK_JOB_FAILED = Metric("StuckJobFailed", "Count", description="the sweep failed a stuck job")

# Providers (one series per provider)
PROVIDER_REQUESTED = Metric(
    "ProviderRequested", "Count", ("Provider",), "a call to a provider began"
)
PROVIDER_SUCCEEDED = Metric(
    "ProviderSucceeded", "Count", ("Provider",), "a provider returned a picture"
)
PROVIDER_FAILED = Metric(
    "ProviderFailed", "Count", ("Provider", "ErrorCode"), "a provider call failed, by error code"
)
PROVIDER_FAILED_OVER = Metric(
    "ProviderFailedOver", "Count", ("Provider",), "a job moved on from this provider"
)
PROVIDER_LATENCY = Metric(
    "ProviderLatency", "Seconds", ("Provider",), "one successful call's duration"
)
PROVIDER_COST = Metric(
    "ProviderCost", "None", ("Provider",), "USD a provider billed (actual cost, from the ledger)"
)
PROVIDER_PROBE_SUCCEEDED = Metric(
    "ProviderProbeSucceeded", "Count", description="a health probe answered"
)
PROVIDER_PROBE_FAILED = Metric("ProviderProbeFailed", "Count", description="a health probe failed")

# Never pay twice
CACHE_HIT = Metric("CacheHit", "Count", description="a request was answered from the cache")
CACHE_MISSED = Metric("CacheMissed", "Count", description="a request had to be rendered")
PROVIDER_COST_SAVED = Metric(
    "ProviderCostSaved", "None", description="USD a cache hit did not spend (the original cost)"
)
CACHED_BYTES_SERVED = Metric(
    "CachedBytesServed", "Bytes", description="bytes of cached pictures served"
)
IN_FLIGHT_JOINED = Metric(
    "InFlightJoined", "Count", description="a request followed an identical one in flight"
)

# Budgets and quotas (app scope only)
BUDGET_SPENT_FRACTION = Metric(
    "BudgetSpentFraction",
    "None",
    ("Scope", "Period", "Limit"),
    "spent ÷ the limit (soft or hard) of the current day or month",
)
BUDGET_RESERVED_FRACTION = Metric(
    "BudgetReservedFraction",
    "None",
    ("Scope", "Period", "Limit"),
    "reserved for running jobs ÷ the limit (soft or hard)",
)
BUDGET_SPENT = Metric(
    "BudgetSpent", "None", ("Scope", "Period"), "USD spent in the current day or month"
)
BUDGET_SOFT_LIMIT_CROSSED = Metric(
    "BudgetSoftLimitCrossed", "Count", description="a job took spend past a soft limit"
)
BUDGET_EXCEEDED = Metric(
    "BudgetExceeded", "Count", description="a request was refused: its quote does not fit"
)
QUOTA_EXCEEDED = Metric(
    "QuotaExceeded", "Count", description="a request was refused by a per-user quota"
)

ALL: tuple[Metric, ...] = tuple(value for value in globals().values() if isinstance(value, Metric))
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in ALL}
