"""What admins are told and shown: alarms to one topic, a dashboard of metrics the code emits.

The alarms and the dashboard are generated from the metric catalog (`python -m local.dashboard`);
these tests hold the template to the generator, and the generator to what the code emits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local import dashboard
from sketchbridge.domain import metric_catalog as catalog

pytestmark = pytest.mark.infrastructure

ALARM = "AWS::CloudWatch::Alarm"
# Metrics the dashboard or an alarm reads that no code emits yet, with who will; each entry
# leaves this list in the commit that emits it (the last test below insists). Empty now.
PENDING_EMITTERS: dict[str, str] = {}
_EMITTED = re.compile(r"\b(?:metrics|metric_catalog)\.([A-Z][A-Z0-9_]+)\b")
_IMPORTED = re.compile(r"from sketchbridge\.domain\.metric_catalog import (\([^)]*\)|[^\n]*)")
_SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<name>\w+)\"")
# Fn::Sub variables (not its ${!...} escapes, which the dashboard keeps as its own labels).
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == ALARM}


def _dashboard_body(resources: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON as CloudFormation would hand it over, variables filled in."""
    template = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = _SUB_VARIABLE.sub(lambda match: f"<{match[1]}>", template).replace("${!", "${")
    decoded: dict[str, Any] = json.loads(body)
    return decoded


def _widget_metrics(body: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric, dimension names) of every metric a widget charts or searches."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                for match in _SEARCH.finditer(row[0]["expression"]):
                    namespace, *dimensions = match["schema"].split(",")
                    found.append((namespace, match["name"], tuple(sorted(dimensions))))
                continue
            names = [item for item in row if isinstance(item, str)]
            found.append((names[0], names[1], tuple(sorted(names[2::2]))))
    return found


def _alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    properties = alarm["Properties"]
    metrics = [
        query["MetricStat"]["Metric"]
        for query in properties.get("Metrics", [])
        if "MetricStat" in query
    ]
    if "MetricName" in properties:
        metrics.append(properties)
    return [
        (
            metric["Namespace"],
            metric["MetricName"],
            tuple(sorted(d["Name"] for d in metric.get("Dimensions", []))),
        )
        for metric in metrics
    ]


def _emitted_constants(repo_root: Path) -> set[str]:
    """Catalog constants the shipped code passes to MetricsRecorder.add."""
    package = repo_root / "shared" / "sketchbridge"
    emitted: set[str] = set()
    for path in package.rglob("*.py"):
        if path.name == "metric_catalog.py":
            continue
        text = path.read_text(encoding="utf-8")
        emitted.update(_EMITTED.findall(text))
        # `from ...metric_catalog import PROVIDER_FAILED`: emitted if used past the import.
        for imported in _IMPORTED.finditer(text):
            rest = text[: imported.start()] + text[imported.end() :]
            emitted.update(
                name
                for name in re.findall(r"\b[A-Z][A-Z0-9_]+\b", imported[1])
                if re.search(rf"\b{name}\b", rest)
            )
    return emitted


def _constant(metric_name: str) -> str:
    [constant] = [
        name
        for name, value in vars(catalog).items()
        if isinstance(value, catalog.Metric) and value.name == metric_name
    ]
    return constant


def _ours_in(resources: dict[str, Any]) -> set[str]:
    used = list(_widget_metrics(_dashboard_body(resources)))
    for alarm in _alarms(resources).values():
        used.extend(_alarm_metrics(alarm))
    return {name for namespace, name, _ in used if namespace == catalog.NAMESPACE}


# ---------------------------------------------------------------- generated from the catalog


def test_the_templates_alarms_and_dashboard_are_what_the_generator_makes_of_the_catalog(
    repo_root: Path,
) -> None:
    text = (repo_root / "template.yaml").read_text(encoding="utf-8")

    assert dashboard.generated_part(text) == dashboard.generated_block(), (
        "template.yaml is stale: run `python -m local.dashboard`"
    )


def test_every_metric_of_ours_on_the_dashboard_is_catalogued_with_its_dimensions(
    resources: dict[str, Any],
) -> None:
    charted = _widget_metrics(_dashboard_body(resources))

    ours = [(name, dims) for namespace, name, dims in charted if namespace == catalog.NAMESPACE]
    assert ours
    for name, dimensions in ours:
        assert name in catalog.BY_NAME, name
        assert dimensions == tuple(sorted(catalog.BY_NAME[name].dimensions)), name
    others = {namespace for namespace, _, _ in charted} - {catalog.NAMESPACE}
    assert others == {"AWS/SQS", "AWS/Lambda"}


def test_every_metric_of_ours_in_an_alarm_is_catalogued_with_its_dimensions(
    resources: dict[str, Any],
) -> None:
    for logical_id, alarm in _alarms(resources).items():
        for namespace, name, dimensions in _alarm_metrics(alarm):
            if namespace != catalog.NAMESPACE:
                continue
            assert name in catalog.BY_NAME, (logical_id, name)
            assert dimensions == tuple(sorted(catalog.BY_NAME[name].dimensions)), logical_id


def test_every_catalogued_metric_on_the_dashboard_or_in_an_alarm_is_emitted_by_the_code(
    repo_root: Path, resources: dict[str, Any]
) -> None:
    emitted = _emitted_constants(repo_root)
    used = {_constant(name) for name in _ours_in(resources)}

    assert {"PROVIDER_REQUESTED", "PROVIDER_FAILED", "JOB_SUCCEEDED"} <= emitted
    assert used - emitted - set(PENDING_EMITTERS) == set()
    # A pending metric someone now emits leaves the list; one nobody charts never joins it.
    assert set(PENDING_EMITTERS) & emitted == set()
    assert set(PENDING_EMITTERS) <= used


def test_the_dashboard_shows_what_admins_watch(resources: dict[str, Any]) -> None:
    body = _dashboard_body(resources)
    charted = {name for _, name, _ in _widget_metrics(body)}
    titles = " / ".join(widget["properties"].get("title", "") for widget in body["widgets"])

    assert {
        "ProviderRequested",
        "ProviderFailed",
        "ProviderLatency",
        "ProviderFailedOver",
        "ProviderCost",
        "BudgetSpentFraction",
        "CacheHit",
        "ProviderCostSaved",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    } <= charted
    assert "p50" in titles and "p90" in titles and "per day" in titles
    for widget in body["widgets"]:
        assert widget["width"] <= 24 and widget["x"] + widget["width"] <= 24


def test_every_substitution_in_the_dashboard_names_a_parameter_or_resource(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    body = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    known = set(template["Parameters"]) | set(resources) | {"AWS::Region"}

    for variable in _SUB_VARIABLE.findall(body):
        assert variable.split(".")[0] in known, variable


# ---------------------------------------------------------------- alarms


def test_every_alarm_notifies_the_alerts_topic_when_it_fires_and_when_it_clears(
    resources: dict[str, Any],
) -> None:
    alarms = _alarms(resources)

    assert len(alarms) >= 10
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlertsTopic"}], logical_id
        assert properties["OKActions"] == [{"Ref": "AlertsTopic"}], logical_id
        # CloudWatch refuses an alarm that reads more than 10 metrics.
        assert sum("MetricStat" in q for q in properties.get("Metrics", [])) <= 10, logical_id


def test_each_paid_provider_has_an_error_rate_alarm_over_its_own_faults(
    resources: dict[str, Any],
) -> None:
    from sketchbridge.domain.circuit_breaker import PROVIDER_FAULT_CODES

    for provider in ("replicate", "openai", "bedrock"):
        alarm = resources[f"{provider.title()}ErrorRateAlarm"]["Properties"]
        failed = {
            dimension["Value"]
            for query in alarm["Metrics"]
            if "MetricStat" in query
            and query["MetricStat"]["Metric"]["MetricName"] == "ProviderFailed"
            for dimension in query["MetricStat"]["Metric"]["Dimensions"]
            if dimension["Name"] == "ErrorCode"
        }
        assert failed == set(PROVIDER_FAULT_CODES), provider
        assert alarm["Threshold"] == {"Ref": "ProviderErrorRateThreshold"}


def test_every_queue_has_an_age_alarm_and_every_dead_letter_queue_a_not_empty_alarm(
    resources: dict[str, Any],
) -> None:
    queues = {name for name, res in resources.items() if res["Type"] == "AWS::SQS::Queue"}
    dead_letter = {
        res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for res in resources.values()
        if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in res["Properties"]
    }

    def watched(metric: str) -> set[str]:
        return {
            dimension["Value"]["Fn::GetAtt"][0]
            for alarm in _alarms(resources).values()
            for query in [
                alarm["Properties"],
                *(
                    q["MetricStat"]["Metric"]
                    for q in alarm["Properties"].get("Metrics", [])
                    if "MetricStat" in q
                ),
            ]
            if query.get("MetricName") == metric
            for dimension in query.get("Dimensions", [])
            if dimension["Name"] == "QueueName"
        }

    assert watched("ApproximateAgeOfOldestMessage") == queues - dead_letter
    assert watched("ApproximateNumberOfMessagesVisible") == dead_letter


def test_app_spend_alarms_fire_when_the_month_reaches_the_limit_in_force(
    resources: dict[str, Any],
) -> None:
    # The fraction is of the limit in force (an admin's override included), so each alarm
    # fires at 1.0 whatever the limit is, and a limit of 0 (none) reports nothing.
    for limit in ("soft", "hard"):
        alarm = resources[f"AppMonthly{limit.title()}BudgetAlarm"]
        assert "Condition" not in alarm
        properties = alarm["Properties"]
        assert properties["Threshold"] == 1
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        queries = {query["Id"]: query for query in properties["Metrics"]}
        metric = queries["spent_fraction"]["MetricStat"]["Metric"]
        assert metric["MetricName"] == "BudgetSpentFraction"
        assert metric["Dimensions"] == [
            {"Name": "Scope", "Value": "app"},
            {"Name": "Period", "Value": "month"},
            {"Name": "Limit", "Value": limit},
        ]
        assert queries["spent_of_limit"]["Expression"] == "FILL(spent_fraction, REPEAT)"
        assert queries["spent_of_limit"]["ReturnData"] is True


def test_processor_errors_throttles_and_a_stall_each_alarm(resources: dict[str, Any]) -> None:
    for metric in ("Errors", "Throttles"):
        alarm = resources[f"Processor{metric}Alarm"]["Properties"]
        assert alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric
        assert alarm["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": "ProcessorFunction"}}
        ]
    stall = resources["NoSuccessfulJobAlarm"]["Properties"]
    assert {_alarm_metric["Id"] for _alarm_metric in stall["Metrics"]} >= {"queued", "succeeded"}
    assert stall["EvaluationPeriods"] == {"Ref": "NoSuccessfulJobPeriods"}


# ---------------------------------------------------------------- the topic, the AWS budget


def test_the_alerts_topic_is_encrypted_with_a_key_alarms_and_budgets_may_use(
    resources: dict[str, Any],
) -> None:
    topic = resources["AlertsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertsTopicKey"}

    services = {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    key_statements = resources["AlertsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    may_encrypt = {
        service
        for statement in key_statements
        if statement["Effect"] == "Allow" and "kms:GenerateDataKey*" in statement["Action"]
        for service in statement["Principal"].get("Service", [])
    }
    topic_statements = resources["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    may_publish = {
        service
        for statement in topic_statements
        if statement["Effect"] == "Allow" and statement["Action"] == "sns:Publish"
        for service in statement["Principal"].get("Service", [])
    }
    assert may_encrypt == services and may_publish == services


def test_an_email_subscription_only_when_an_address_is_given(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    subscription = resources["AlertEmailSubscription"]

    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    assert subscription["Condition"] == "HasAlertEmail"
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlertsTopic"}


def test_the_aws_bill_budget_notifies_the_alerts_topic(resources: dict[str, Any]) -> None:
    budget = resources["AwsBillBudget"]["Properties"]

    assert budget["Budget"]["BudgetLimit"] == {
        "Amount": {"Ref": "AwsMonthlyBudgetUsd"},
        "Unit": "USD",
    }
    for notification in budget["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [
            {"SubscriptionType": "SNS", "Address": {"Ref": "AlertsTopic"}}
        ]


def test_only_the_functions_that_alert_admins_may_publish_to_the_topic(
    functions: dict[str, Any],
) -> None:
    publishers = {
        name
        for name, function in functions.items()
        if any(
            isinstance(policy, dict) and "SNSPublishMessagePolicy" in policy
            for policy in function["Properties"].get("Policies", [])
        )
    }
    told = {
        name
        for name, function in functions.items()
        if "ALERTS_TOPIC_ARN" in function["Properties"].get("Environment", {}).get("Variables", {})
    }

    assert publishers == told == {"SubmitFunction", "ProcessorFunction", "DropinFunction"}


def test_budget_and_quota_defaults_reach_the_functions_from_the_parameters(
    function_globals: dict[str, Any],
) -> None:
    variables = function_globals["Environment"]["Variables"]

    assert {
        name: variables[name]
        for name in (
            "APP_BUDGET_DAY_SOFT_USD",
            "APP_BUDGET_DAY_HARD_USD",
            "APP_BUDGET_MONTH_SOFT_USD",
            "APP_BUDGET_MONTH_HARD_USD",
            "USER_REQUESTS_PER_MINUTE",
            "USER_JOBS_IN_FLIGHT",
        )
    } == {
        "APP_BUDGET_DAY_SOFT_USD": {"Ref": "AppDailySoftBudgetUsd"},
        "APP_BUDGET_DAY_HARD_USD": {"Ref": "AppDailyHardBudgetUsd"},
        "APP_BUDGET_MONTH_SOFT_USD": {"Ref": "AppMonthlySoftBudgetUsd"},
        "APP_BUDGET_MONTH_HARD_USD": {"Ref": "AppMonthlyHardBudgetUsd"},
        "USER_REQUESTS_PER_MINUTE": {"Ref": "UserRequestsPerMinute"},
        "USER_JOBS_IN_FLIGHT": {"Ref": "UserJobsInFlight"},
    }


def test_docs_list_every_alarm(repo_root: Path, resources: dict[str, Any]) -> None:
    docs = (repo_root / "docs" / "architecture.md").read_text(encoding="utf-8")

    assert {name for name in _alarms(resources) if f"`{name}`" not in docs} == set()
