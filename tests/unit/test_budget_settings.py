"""The budget and quota defaults the template hands every function, as settings reads them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sketchbridge.settings import Settings

REQUIRED = {
    "JOBS_TABLE": "jobs",
    "CONNECTIONS_TABLE": "connections",
    "PROVIDERS_TABLE": "providers",
    "CACHE_TABLE": "cache",
    "JOBS_QUEUE_URL": "https://queue",
    "ARTIFACTS_BUCKET": "bucket",
    "WEBSOCKET_MANAGEMENT_URL": "https://ws",
}


def test_an_empty_or_zero_app_budget_means_no_limit_and_alerts_go_nowhere() -> None:
    settings = Settings.from_env(
        {**REQUIRED, "APP_BUDGET_DAY_SOFT_USD": "", "APP_BUDGET_MONTH_HARD_USD": "0"}
    )

    assert settings.app_budget_day_soft_usd == 0.0
    assert settings.app_budget_month_hard_usd == 0.0
    assert settings.alerts_topic_arn == ""


def test_the_templates_values_reach_settings() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "APP_BUDGET_DAY_HARD_USD": "2.5",
            "APP_BUDGET_MONTH_SOFT_USD": "40",
            "USER_REQUESTS_PER_MINUTE": "6",
            "USER_JOBS_IN_FLIGHT": "2",
            "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sketchbridge-dev-alerts",
        }
    )

    assert settings.app_budget_day_hard_usd == 2.5
    assert settings.app_budget_month_soft_usd == 40.0
    assert (settings.user_requests_per_minute, settings.user_jobs_in_flight) == (6, 2)
    assert settings.alerts_topic_arn.endswith(":sketchbridge-dev-alerts")


@pytest.mark.parametrize("variable", ["APP_BUDGET_DAY_HARD_USD", "USER_JOBS_IN_FLIGHT"])
def test_a_negative_limit_is_refused_at_cold_start(variable: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({**REQUIRED, variable: "-1"})
