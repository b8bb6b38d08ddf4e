"""Never pay twice, never lose a job: the redelivery harness, a short run (the full one is
`make bench`). Real submit and processor handlers, real adapters, emulated AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.redelivery import HarnessConfig, run_harness

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def test_duplicates_kills_and_identical_requests_cost_one_call_per_request_and_lose_nothing(
    aws: EmulatedAws, cold_start: None
) -> None:
    report = run_harness(HarnessConfig(jobs=60))

    # The run really was rough: otherwise it would prove nothing.
    assert report.duplicate_deliveries > 0 and report.kills > 0
    assert report.answered_from_cache + report.followed_a_job_in_flight > 0
    assert report.problems() == [], report.as_dict()
    assert report.statuses == {"succeeded": 60}
    # Every job that reached the processor had reserved (a job slot, if no money: the
    # local renderer is free), and every reservation was settled or released.
    assert report.reservations_left == report.job_slots_left == report.reserved_micros_left == 0
