"""Lambda's SQS event source, locally: receive a batch, invoke the function, delete what succeeded.

As on AWS: a batch that raises is left alone (every message becomes visible again after the
queue's visibility timeout); with ReportBatchItemFailures, only the messages the function
lists in `batchItemFailures` are left, and an invalid list fails the whole batch. The emulated
SQS (moto) moves a message to the dead-letter queue on the receive after its
`maxReceiveCount`-th, so the redrive policy in the template works unchanged.

Unlike Lambda, one poller runs one batch at a time per event source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from local.events import sqs_batch_event
from local.lambda_runtime import LocalFunction
from local.provision import QueueEventSource, aws_session

logger = logging.getLogger(__name__)

# SQS hands out at most ten messages per ReceiveMessage call.
_MAX_MESSAGES_PER_RECEIVE = 10
# Short, so that stopping never waits long on a long poll.
_WAIT_SECONDS = 1
# How long a lower-priority poller waits before looking again.
_YIELD_SECONDS = 0.2


class QueuePoller:
    """A thread that feeds one queue's messages to one function."""

    def __init__(
        self,
        source: QueueEventSource,
        function: LocalFunction,
        *,
        endpoint_url: str,
        yields_to: Sequence[QueuePoller] = (),
        sqs: Any = None,
    ) -> None:
        self.source = source
        # Pollers of higher-priority queues: while one has work, this one waits,
        # as a larger MaximumConcurrency gives that queue the processor on AWS.
        self.yields_to = list(yields_to)
        self.busy = False
        self._function = function
        # ``sqs``: a stand-in client for tests that drive the loop one step at a time.
        self._sqs = sqs or aws_session().client("sqs", endpoint_url=endpoint_url)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"poller-{source.function_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages it got."""
        messages = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, _MAX_MESSAGES_PER_RECEIVE),
            WaitTimeSeconds=_WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self._deliver(messages)
        return len(messages)

    def step(self) -> bool:
        """One turn of the loop: poll once, or yield (False) while a higher-priority poller
        has work."""
        if any(poller.busy for poller in self.yields_to):
            return False
        self.busy = self.poll_once() > 0
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.step():
                    self._stopping.wait(_YIELD_SECONDS)
            except Exception:
                # The emulated SQS going away at shutdown, or a bug here: log, keep polling.
                if not self._stopping.is_set():
                    logger.exception("polling %s failed", self.source.queue_url)
                    self._stopping.wait(_WAIT_SECONDS)

    def _deliver(self, messages: Sequence[Mapping[str, Any]]) -> None:
        event = sqs_batch_event(messages, queue_arn=self.source.queue_arn)
        try:
            response = self._function.invoke(event)
        except Exception:
            logger.exception(
                "%s failed a batch of %d: all will be retried",
                self.source.function_id,
                len(messages),
            )
            return
        succeeded = succeeded_receipt_handles(
            messages, response, report_batch_item_failures=self.source.report_batch_item_failures
        )
        for start in range(0, len(succeeded), _MAX_MESSAGES_PER_RECEIVE):
            chunk = succeeded[start : start + _MAX_MESSAGES_PER_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle}
                    for index, handle in enumerate(chunk)
                ],
            )


def by_priority(sources: Iterable[QueueEventSource]) -> list[QueueEventSource]:
    """Event sources in the order their pollers start: highest MaximumConcurrency first."""
    return sorted(sources, key=lambda source: -(source.maximum_concurrency or 0))


def higher_priority(source: QueueEventSource, pollers: Iterable[QueuePoller]) -> list[QueuePoller]:
    """The pollers ``source``'s poller yields to: its function's sources with a higher cap."""
    return [
        poller
        for poller in pollers
        if poller.source.function_id == source.function_id
        and (poller.source.maximum_concurrency or 0) > (source.maximum_concurrency or 0)
    ]


def succeeded_receipt_handles(
    messages: Sequence[Mapping[str, Any]], response: Any, *, report_batch_item_failures: bool
) -> list[str]:
    """The receipt handles to delete after a batch returned `response` (it did not raise)."""
    every_handle = [str(message["ReceiptHandle"]) for message in messages]
    if not report_batch_item_failures or not isinstance(response, dict):
        return every_handle
    failures = response.get("batchItemFailures")
    if not failures:
        return every_handle
    message_ids = {str(message["MessageId"]) for message in messages}
    failed_ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            # Lambda treats a malformed failure list as the whole batch failing.
            logger.warning("invalid batchItemFailures entry %r: the whole batch fails", failure)
            return []
        failed_ids.add(identifier)
    return [
        str(message["ReceiptHandle"])
        for message in messages
        if str(message["MessageId"]) not in failed_ids
    ]
