"""The health function: probes on a schedule, records into the providers table, draws nothing."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infrastructure


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in function["Properties"].get("Policies", [])
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
    ]


def test_the_health_function_probes_every_five_minutes_and_has_no_route(
    functions: dict[str, Any],
) -> None:
    events = functions["HealthFunction"]["Properties"]["Events"]

    assert [event["Type"] for event in events.values()] == ["Schedule"]
    (schedule,) = events.values()
    assert schedule["Properties"]["Schedule"] == "rate(5 minutes)"


def test_the_health_function_writes_only_provider_state_and_never_draws(
    functions: dict[str, Any],
) -> None:
    health = functions["HealthFunction"]["Properties"]
    tables = [
        policy["DynamoDBCrudPolicy"]["TableName"]
        for policy in health["Policies"]
        if isinstance(policy, dict) and "DynamoDBCrudPolicy" in policy
    ]
    actions = {
        action
        for statement in _statements(functions["HealthFunction"])
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }

    assert tables == [{"Ref": "ProvidersTable"}]
    # Bedrock's probe is a control-plane lookup; InvokeModel would bill a picture.
    assert actions == {"bedrock:GetFoundationModel"}
