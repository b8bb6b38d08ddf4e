"""What the template promises about jobs that cannot finish: no job waits forever."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infrastructure


def _dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Every queue some other queue redrives to."""
    return {
        res["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for res in resources.values()
        if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in res.get("Properties", {})
    }


def test_every_dead_letter_queue_is_drained_by_the_dead_letter_function(
    resources: dict[str, Any], functions: dict[str, Any]
) -> None:
    events = functions["DeadLetterFunction"]["Properties"]["Events"].values()
    drained = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0] for event in events if event["Type"] == "SQS"
    }
    assert "JobsDeadLetterQueue" in _dead_letter_queues(resources)
    assert drained == _dead_letter_queues(resources)
    for event in events:
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_dead_letters_are_handled_before_they_become_visible_again(
    resources: dict[str, Any], functions: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    timeout = functions["DeadLetterFunction"]["Properties"].get(
        "Timeout", function_globals["Timeout"]
    )
    for queue in _dead_letter_queues(resources):
        # SQS's default visibility timeout; Lambda refuses a function that runs longer.
        visibility = resources[queue]["Properties"].get("VisibilityTimeout", 30)
        assert timeout <= visibility, queue


def test_the_sweep_runs_every_five_minutes(functions: dict[str, Any]) -> None:
    events = functions["SweepFunction"]["Properties"]["Events"].values()
    schedules = [event["Properties"]["Schedule"] for event in events if event["Type"] == "Schedule"]
    assert schedules == ["rate(5 minutes)"]


def test_the_sweep_can_find_stuck_jobs_from_the_index_alone(resources: dict[str, Any]) -> None:
    indexes = resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]
    [by_status] = [index for index in indexes if index["IndexName"] == "by_status"]
    projection = by_status["Projection"]
    # What sweep.decide reads (StuckJob), besides the keys.
    assert projection["ProjectionType"] == "INCLUDE"
    assert {"seq", "attempts", "lease_expires_at", "requeued_at", "leader_job_id"} <= set(
        projection["NonKeyAttributes"]
    )
