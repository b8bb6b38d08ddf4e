"""Settings read from the environment, validated once per cold start.

The variable names are shared with template.yaml and the local stack; the
table in docs/architecture.md lists them.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sketchbridge.domain.budgets import BudgetDefaults, Quota, default_limit


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs_table: str = Field(alias="JOBS_TABLE")
    connections_table: str = Field(alias="CONNECTIONS_TABLE")
    # Provider circuit breakers, rate-limit buckets, latencies and admin overrides.
    providers_table: str = Field(alias="PROVIDERS_TABLE")
    cache_table: str = Field(alias="CACHE_TABLE")
    # Budgets (admin overrides and per-period counters), quotas and reservations.
    budgets_table: str = Field(alias="BUDGETS_TABLE")
    # The cost ledger: one entry per billable provider call and cache hit, with daily totals.
    ledger_table: str = Field(alias="LEDGER_TABLE")
    # Each user's preferences (PUT /preferences), keyed by their sub.
    preferences_table: str = Field(alias="PREFERENCES_TABLE")
    jobs_queue_url: str = Field(alias="JOBS_QUEUE_URL")
    # Work that may wait; empty: everything goes to the jobs (interactive) queue.
    batch_queue_url: str = Field(default="", alias="BATCH_QUEUE_URL")
    artifacts_bucket: str = Field(alias="ARTIFACTS_BUCKET")
    websocket_management_url: str = Field(alias="WEBSOCKET_MANAGEMENT_URL")
    jwt_issuer: str = Field(default="", alias="JWT_ISSUER")
    jwt_audience: str = Field(default="", alias="JWT_AUDIENCE")
    result_url_ttl_seconds: int = Field(default=3600, alias="RESULT_URL_TTL_SECONDS", ge=60)
    job_ttl_days: int = Field(default=30, alias="JOB_TTL_DAYS", ge=1)
    # How long a processor may hold a job before another delivery may take it over.
    job_lease_seconds: int = Field(default=150, alias="JOB_LEASE_SECONDS", ge=10)
    # Receives after which a retryable failure becomes final (the queue's maxReceiveCount).
    max_receive_count: int = Field(default=3, alias="MAX_RECEIVE_COUNT", ge=1)
    # Providers this deployment may call, in order of preference for "auto".
    enabled_providers: str = Field(default="local", alias="ENABLED_PROVIDERS")
    # The Secrets Manager secret holding provider keys as JSON; empty: env vars only.
    provider_keys_secret: str = Field(default="", alias="PROVIDER_KEYS_SECRET")
    # One provider call's whole budget, retries and polling included.
    provider_timeout_seconds: float = Field(default=90.0, alias="PROVIDER_TIMEOUT_SECONDS", gt=0)
    # Let a provider's policy refusal move on to the next provider (an admin's call).
    failover_on_policy: bool = Field(default=False, alias="FAILOVER_ON_POLICY")
    # The OCR function that reads words on sketches (text=describe); empty: the heuristic only.
    ocr_function_name: str = Field(default="", alias="OCR_FUNCTION_NAME")
    # How long a provider's open circuit refuses calls before one probe may try it again.
    # Not set by the template (the default suits production); tests shorten it.
    breaker_cooldown_s: float = Field(default=30.0, alias="BREAKER_COOLDOWN_S", ge=0)
    # App-wide budgets in USD per UTC day and month, unless an admin overrides them; empty
    # or 0: no such limit. Soft warns (and notifies the admins), hard refuses with a 402.
    app_budget_day_soft_usd: float | None = Field(
        default=None, alias="APP_BUDGET_DAY_SOFT_USD", ge=0
    )
    app_budget_day_hard_usd: float | None = Field(
        default=None, alias="APP_BUDGET_DAY_HARD_USD", ge=0
    )
    app_budget_month_soft_usd: float | None = Field(
        default=None, alias="APP_BUDGET_MONTH_SOFT_USD", ge=0
    )
    app_budget_month_hard_usd: float | None = Field(
        default=None, alias="APP_BUDGET_MONTH_HARD_USD", ge=0
    )
    # Per-user quotas unless an admin overrides them; empty or 0: unlimited.
    user_requests_per_minute: int | None = Field(
        default=None, alias="USER_REQUESTS_PER_MINUTE", ge=0
    )
    user_jobs_in_flight: int | None = Field(default=None, alias="USER_JOBS_IN_FLIGHT", ge=0)
    # The SNS topic admins are notified on (a soft budget limit crossed); empty: nobody.
    alerts_topic_arn: str = Field(default="", alias="ALERTS_TOPIC_ARN")

    @field_validator(
        "app_budget_day_soft_usd",
        "app_budget_day_hard_usd",
        "app_budget_month_soft_usd",
        "app_budget_month_hard_usd",
        "user_requests_per_minute",
        "user_jobs_in_flight",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def budget_defaults(self) -> BudgetDefaults:
        return BudgetDefaults(
            app_day=default_limit(self.app_budget_day_soft_usd, self.app_budget_day_hard_usd),
            app_month=default_limit(self.app_budget_month_soft_usd, self.app_budget_month_hard_usd),
            quota=Quota(
                requests_per_minute=self.user_requests_per_minute or None,
                jobs_in_flight=self.user_jobs_in_flight or None,
            ),
        )

    @property
    def provider_names(self) -> list[str]:
        return [name.strip() for name in self.enabled_providers.split(",") if name.strip()]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        source = dict(os.environ if environ is None else environ)
        return cls.model_validate(source)


@lru_cache(maxsize=1)
def current_settings() -> Settings:
    """The process's settings, read on first use (never at import time)."""
    return Settings.from_env()
