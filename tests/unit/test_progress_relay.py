"""Progress frames of a running job: one per step, stored about once a second (issue 13)."""

from __future__ import annotations

import json
import re

from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services import subscriptions
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.process_job import process_job
from sketchbridge.services.progress_relay import ProgressRelay
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import (
    FakeJobStore,
    FakeTokenVerifier,
    fake_dependencies,
    sketch_data_url,
)


def _submit(deps: Dependencies, *, steps: int) -> str:
    request = GenerationRequest(
        sketch=sketch_data_url(),
        prompt="a sea turtle, watercolor",
        provider="local",
        params=GenerationParams(seed=7, steps=steps, width=256, height=256),
        allow_failover=False,
    )
    return submit_generation(request, user_id="ada", deps=deps).id


def _watch(deps: Dependencies, job_id: str) -> None:
    subscriptions.connect("conn-1", "valid:ada", verifier=FakeTokenVerifier(), deps=deps)
    subscriptions.subscribe(
        "conn-1", subscriptions.SubscribeMessage(action="subscribe", id=job_id), deps=deps
    )


def _frames(deps: Dependencies) -> list[dict[str, object]]:
    return [json.loads(frame) for frame in deps.pusher.frames["conn-1"]]  # type: ignore[attr-defined]


def _running_job(jobs: FakeJobStore, deps: Dependencies) -> str:
    job_id = _submit(deps, steps=1)
    claimed = jobs.claim(job_id, now=0, lease_seconds=60)
    assert claimed is not None
    return job_id


class Ticking:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_20_step_job_sends_every_frame_but_writes_its_progress_once_within_a_second() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, steps=20)
    _watch(deps, job_id)
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobStore)

    process_job(job_id, receive_count=1, deps=deps)

    frames = _frames(deps)
    assert [f["step"] for f in frames if f["type"] == "progress"] == list(range(1, 21))
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs[1:])) == len(seqs) - 1
    # The fake renders 20 steps well within a second: the first step's write only.
    assert jobs.progress_writes <= 2
    record = jobs.get(job_id)
    assert record is not None and record.status is JobStatus.SUCCEEDED
    assert record.seq == frames[-1]["seq"]


def test_every_frame_says_when_it_was_emitted_to_the_millisecond() -> None:
    deps = fake_dependencies()
    job_id = _submit(deps, steps=3)
    _watch(deps, job_id)

    process_job(job_id, receive_count=1, deps=deps)

    for frame in _frames(deps):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(frame["at"]))


def test_a_write_after_a_second_and_no_more_than_one_a_second() -> None:
    deps = fake_dependencies()
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobStore)
    job_id = _running_job(jobs, deps)
    clock = Ticking()
    relay = ProgressRelay(jobs, job_id, seq=1, updated_at=lambda: "t", monotonic=clock)

    for step in range(1, 101):
        clock.now += 0.05  # 20 steps a second, for 5 s
        assert relay.next_frame(step / 100, expected=100 - step) is not None

    assert 5 <= jobs.progress_writes <= 6


def test_a_late_subscriber_is_told_a_seq_below_the_frames_still_to_come() -> None:
    deps = fake_dependencies()
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobStore)
    job_id = _running_job(jobs, deps)
    start = jobs.records[job_id].seq
    relay = ProgressRelay(jobs, job_id, seq=start, updated_at=lambda: "t", monotonic=Ticking())
    first = relay.next_frame(0.1, expected=9)

    record = jobs.records[job_id]
    assert first is not None and record.visible_seq == first
    following = [relay.next_frame(step / 10, expected=10 - step) for step in range(2, 11)]
    assert all(seq is not None and seq > record.visible_seq for seq in following)
    # Another writer (a cancel, the sweep) numbers from the stored seq: above them all.
    assert record.seq >= max(seq for seq in following if seq is not None)


def test_once_the_job_no_longer_runs_the_next_write_says_so_and_nothing_more_is_sent() -> None:
    deps = fake_dependencies()
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobStore)
    job_id = _running_job(jobs, deps)
    clock = Ticking()
    relay = ProgressRelay(jobs, job_id, seq=1, updated_at=lambda: "t", monotonic=clock)
    assert relay.next_frame(0.1, expected=9) is not None
    jobs.records[job_id] = jobs.records[job_id].model_copy(update={"status": JobStatus.CANCELED})

    clock.now += 1.0  # the next write is due: it finds the job canceled
    assert relay.next_frame(0.2, expected=8) is None
    assert relay.next_frame(0.3, expected=7, write=True) is None
    assert jobs.progress_writes == 2
