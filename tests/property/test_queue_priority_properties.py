"""Property: under any mix of batch and interactive submissions, the local poller never starves
interactive work, and each batch it hands the processor stays within the template's caps.

The pollers are the real ones (local/poller.py), wired by the same rule the local stack uses
(``by_priority``, ``higher_priority``) from the processor's event sources in template.yaml;
only SQS and the function are in-memory, and hypothesis chooses the interleaving of
submissions and poller turns (``QueuePoller.step``) that threads would otherwise leave to
chance.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from local.poller import QueuePoller, by_priority, higher_priority
from local.provision import QueueEventSource

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml with its intrinsic functions (!GetAtt, !Ref, ...) left out."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _processor_sources() -> list[QueueEventSource]:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    events = template["Resources"]["ProcessorFunction"]["Properties"]["Events"]
    return [
        QueueEventSource(
            function_id="ProcessorFunction",
            queue_url=name,
            queue_arn=f"arn:aws:sqs:us-east-1:000000000000:{name}",
            batch_size=int(event["Properties"]["BatchSize"]),
            report_batch_item_failures=True,
            maximum_concurrency=int(event["Properties"]["ScalingConfig"]["MaximumConcurrency"]),
        )
        for name, event in events.items()
        if event["Type"] == "SQS"
    ]


SOURCES = _processor_sources()
INTERACTIVE = next(s for s in SOURCES if s.queue_url == "JobsQueueMessages")
BATCH = next(s for s in SOURCES if s.queue_url == "BatchQueueMessages")


class InMemorySqs:
    """Just what the poller calls: FIFO receive of up to N visible messages, batch delete."""

    def __init__(self) -> None:
        self.visible: dict[str, deque[dict[str, Any]]] = {s.queue_url: deque() for s in SOURCES}
        self.in_flight: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count()

    def send(self, queue_url: str, body: str) -> None:
        number = next(self._ids)
        self.visible[queue_url].append(
            {
                "MessageId": f"m{number}",
                "ReceiptHandle": f"r{number}",
                "Body": body,
                "MD5OfBody": "0" * 32,
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
        )

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int, **_: Any) -> Any:
        queue = self.visible[QueueUrl]
        taken = [queue.popleft() for _ in range(min(MaxNumberOfMessages, len(queue)))]
        self.in_flight |= {message["ReceiptHandle"]: message for message in taken}
        return {"Messages": taken}

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        for entry in Entries:
            del self.in_flight[entry["ReceiptHandle"]]
        return {}


class RecordingProcessor:
    """The processor function: succeeds every record and remembers each batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.batches.append([record["body"] for record in event["Records"]])
        return {"batchItemFailures": []}


Action = tuple[str, int]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("submit_interactive"), st.integers(1, 12)),
        st.tuples(st.just("submit_batch"), st.integers(1, 30)),
        st.tuples(st.sampled_from(["step_interactive", "step_batch"]), st.integers(1, 3)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(schedule=actions)
def test_interactive_jobs_are_never_starved_by_batch_work_and_batches_respect_the_caps(
    schedule: list[Action],
) -> None:
    sqs = InMemorySqs()
    processor = RecordingProcessor()
    pollers: list[QueuePoller] = []
    for source in by_priority(SOURCES):
        pollers.append(
            QueuePoller(
                source,
                processor,  # type: ignore[arg-type]
                endpoint_url="unused",
                yields_to=higher_priority(source, pollers),
                sqs=sqs,
            )
        )
    interactive, batch = (next(p for p in pollers if p.source is s) for s in (INTERACTIVE, BATCH))

    sent: list[str] = []
    # For each interactive job still waiting: how many interactive turns it may take at most.
    turns_left: dict[str, int] = {}
    delivered: list[str] = []

    def turn(poller: QueuePoller) -> None:
        interactive_had_work = interactive.busy
        before = len(processor.batches)
        polled = poller.step()
        new = [body for batch_ in processor.batches[before:] for body in batch_]
        assert len(processor.batches) - before <= 1  # one batch at a time per source
        assert len(new) <= poller.source.batch_size
        if poller is batch and polled:
            # The batch queue is served only while interactive work has nothing in hand.
            assert not interactive_had_work
        delivered.extend(new)
        for body in new:
            turns_left.pop(body, None)
        if poller is interactive:
            for body in turns_left:
                turns_left[body] -= 1
                assert turns_left[body] >= 0, f"interactive job {body} starved"

    for kind, count in schedule:
        if kind.startswith("submit"):
            queue = INTERACTIVE if kind == "submit_interactive" else BATCH
            for _ in range(count):
                body = f"{kind.removeprefix('submit_')}-{len(sent)}"
                sqs.send(queue.queue_url, body)
                sent.append(body)
                if queue is INTERACTIVE:
                    # Everything queued ahead of it, itself included, in batches of BatchSize.
                    ahead = len(sqs.visible[queue.queue_url])
                    turns_left[body] = math.ceil(ahead / queue.batch_size)
        else:
            for _ in range(count):
                turn(interactive if kind == "step_interactive" else batch)

    # Both pollers taking turns drain everything: batch work waits, it is not lost.
    backlog = sum(len(queue) for queue in sqs.visible.values())
    for _ in range(backlog + 2):
        turn(interactive)
        turn(batch)
    assert sorted(delivered) == sorted(sent) and len(delivered) == len(set(delivered))
    assert sqs.in_flight == {}
    assert INTERACTIVE.maximum_concurrency and BATCH.maximum_concurrency
    assert INTERACTIVE.maximum_concurrency > BATCH.maximum_concurrency
