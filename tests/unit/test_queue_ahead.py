"""An ETA counts the jobs already waiting, read from a cache rather than asked per request."""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError

from sketchbridge.aws.sqs_queue import SqsQueueDepth
from sketchbridge.domain.selection import RequestNeeds
from sketchbridge.services.provider_manager import ProviderManager
from tests.support.fakes import fake_dependencies


class _Sqs:
    """Answers GetQueueAttributes with the depths it is given, in turn; counts the calls."""

    def __init__(self, *depths: int | Exception) -> None:
        self.depths = list(depths)
        self.calls: list[str] = []

    def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str]) -> Any:
        assert AttributeNames == ["ApproximateNumberOfMessages"]
        self.calls.append(QueueUrl)
        depth = self.depths.pop(0)
        if isinstance(depth, Exception):
            raise depth
        return {"Attributes": {"ApproximateNumberOfMessages": str(depth)}}


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _depth(sqs: _Sqs, clock: _Clock) -> SqsQueueDepth:
    return SqsQueueDepth(
        sqs, {"interactive": "https://sqs/jobs", "batch": "https://sqs/batch"}, clock=clock
    )


def test_the_depth_is_read_once_per_half_minute_not_per_request() -> None:
    sqs, clock = _Sqs(5, 9), _Clock()
    depth = _depth(sqs, clock)

    first = [depth.jobs_waiting() for _ in range(3)]
    clock.now += 31
    later = depth.jobs_waiting()

    assert (first, later) == ([5, 5, 5], 9)
    assert sqs.calls == ["https://sqs/jobs", "https://sqs/jobs"]


def test_a_failed_read_keeps_the_last_depth_and_never_fails_the_request() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetQueueAttributes")
    sqs, clock = _Sqs(denied, 4, denied), _Clock()
    depth = _depth(sqs, clock)

    unknown = depth.jobs_waiting()
    clock.now += 31
    known = depth.jobs_waiting()
    clock.now += 31
    kept = depth.jobs_waiting()

    assert (unknown, known, kept) == (0, 4, 4)


def test_each_priority_has_its_own_queue() -> None:
    sqs = _Sqs(2, 7)
    depth = _depth(sqs, _Clock())

    assert (depth.jobs_waiting("interactive"), depth.jobs_waiting("batch")) == (2, 7)


class _Waiting:
    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def jobs_waiting(self, priority: Literal["interactive", "batch"] = "interactive") -> int:
        return self.jobs


def _local_eta(jobs_waiting: int) -> float:
    deps = fake_dependencies()
    deps.queue_depth = _Waiting(jobs_waiting)
    quotes = ProviderManager(deps).quotes(
        RequestNeeds(seed=False, width=512, height=512),
        steps=20,
        now=deps.clock().timestamp(),
    )
    return quotes["local"].eta_s


def test_sixteen_jobs_waiting_add_two_rounds_of_eight_to_the_eta() -> None:
    # The local renderer alone: its prior, 2.0 s at 20 steps (DEFAULT_PROFILES["local"]);
    # 16 jobs ahead, 8 at a time: two rounds of 2.0 s more, 6.0 s.
    assert (_local_eta(0), _local_eta(16)) == (2.0, 6.0)
