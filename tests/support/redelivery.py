"""The redelivery harness: many jobs through the real handlers and adapters, then the bill.

Submissions go through the submit handler and deliveries through the processor handler,
each "container" a freshly loaded handler module, against emulated AWS configured by the
process environment (tests/integration/conftest.py's ``aws`` fixture, or ``emulated_aws``
below). The harness plays Lambda's SQS event source, and plays it rough:

- the same message handed to two invocations at once (a duplicate delivery);
- a job's message sent twice (a retried send whose first answer was lost);
- a processor killed after the provider call and before the job's state write
  (``complete`` raises SystemExit), its messages redelivered once the lease is over;
- provider calls that take a random while;
- identical submissions, concurrent with the processing: they follow a job in flight
  or are answered from the cache.

Then it counts: provider calls, usage-ledger entries and distinct fingerprints must be
equal, every job must have succeeded and none may be left queued or running; the ledger
holds one cache-hit entry per job served from the cache, counts every job's picture exactly
once (its call, cache hit, or the job it followed), and its entries add up to the sum of the
jobs' ``cost_usd``; and the budgets balance: no job's reservation left, no job slot held,
nothing reserved.
``tests/integration/test_redelivery_harness.py`` runs a small run, ``bench/redelivery.py``
the full one.
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from local.events import sqs_batch_event
from local.moto_server import MotoServer
from local.provision import physical_name, provision
from local.stack import handler_environment
from local.template import load_template
from sketchbridge import bootstrap, settings
from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_budgets import DynamoBudgetStore
from sketchbridge.aws.dynamo_ledger import DynamoUsageLedger
from sketchbridge.aws.sqs_queue import SqsJobQueue
from sketchbridge.domain.budgets import APP_SCOPE, PERIODS, BudgetScope, period_key
from sketchbridge.domain.ledger import usd_to_micros
from sketchbridge.domain.models import JobMessage, JobRecord, JobStatus
from sketchbridge.providers.base import ProgressCallback, ProviderRequest, ProviderResult
from sketchbridge.services.ports import Dependencies
from tests.support.fakes import sketch_data_url
from tests.support.handlers import FakeLambdaContext, http_event, load_function

REPO_ROOT = Path(__file__).resolve().parents[2]
# Lambda's SQS event source hands the processor at most this many records (template.yaml).
BATCH_SIZE = 5


@dataclass(frozen=True)
class HarnessConfig:
    jobs: int = 60
    # Share of submissions that are a new request; the rest repeat an earlier one exactly.
    distinct_share: float = 0.6
    # Share of records also handed, at the same time, to a second invocation.
    duplicate_delivery_rate: float = 0.25
    # Share of queued jobs whose message is sent twice.
    duplicate_send_rate: float = 0.1
    # Share of jobs whose processor is killed between the provider call and the state write.
    kill_rate: float = 0.15
    max_provider_delay_s: float = 0.05
    submitters: int = 4
    containers: int = 6
    seed: int = 20261125
    max_redelivery_rounds: int = 6


@dataclass
class HarnessReport:
    jobs: int = 0
    distinct_fingerprints: int = 0
    answered_from_cache: int = 0
    followed_a_job_in_flight: int = 0
    duplicate_deliveries: int = 0
    duplicate_sends: int = 0
    kills: int = 0
    # Records an invocation handed back for a later delivery (the job was busy).
    retried_records: int = 0
    redelivery_rounds: int = 0
    provider_calls: int = 0
    ledger_entries: int = 0
    max_calls_per_fingerprint: int = 0
    max_ledger_entries_per_fingerprint: int = 0
    cache_hit_entries: int = 0
    served_from_cache: int = 0
    # Succeeded jobs whose ledger entries do not count exactly one picture.
    pictures_miscounted: list[str] = field(default_factory=list)
    # Micro-dollars: what the ledger's entries of these jobs add up to, and their cost_usd.
    ledger_cost_micros: int = 0
    jobs_cost_micros: int = 0
    dead_letters: int = 0
    # What the budgets still hold once every job has ended: all three must be 0.
    reservations_left: int = 0
    job_slots_left: int = 0
    reserved_micros_left: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """What went wrong, in words; empty when nothing was paid twice and nothing was lost."""
        found = []
        if self.provider_calls != self.distinct_fingerprints:
            found.append(
                f"{self.provider_calls} provider calls for "
                f"{self.distinct_fingerprints} distinct requests"
            )
        if self.max_calls_per_fingerprint > 1:
            found.append(f"a request was paid {self.max_calls_per_fingerprint} times")
        if self.max_ledger_entries_per_fingerprint > 1:
            found.append(
                f"the ledger shows a request paid {self.max_ledger_entries_per_fingerprint} times"
            )
        if self.ledger_entries != self.provider_calls:
            found.append(
                f"{self.ledger_entries} ledger entries for {self.provider_calls} provider calls"
            )
        if self.cache_hit_entries != self.served_from_cache:
            found.append(
                f"{self.cache_hit_entries} cache-hit entries for "
                f"{self.served_from_cache} jobs served from the cache"
            )
        if self.pictures_miscounted:
            found.append(
                f"{len(self.pictures_miscounted)} jobs' pictures miscounted by the ledger: "
                f"{self.pictures_miscounted[:5]}"
            )
        if self.ledger_cost_micros != self.jobs_cost_micros:
            found.append(
                f"the ledger holds {self.ledger_cost_micros} µ$ for jobs that cost "
                f"{self.jobs_cost_micros} µ$"
            )
        if self.unfinished:
            found.append(f"{len(self.unfinished)} jobs did not succeed: {self.unfinished[:5]}")
        if self.stuck:
            found.append(f"{len(self.stuck)} jobs stuck: {self.stuck[:5]}")
        if self.dead_letters:
            found.append(f"{self.dead_letters} messages reached the dead-letter queue")
        if self.reservations_left or self.job_slots_left or self.reserved_micros_left:
            found.append(
                f"budgets unbalanced: {self.reservations_left} reservations, "
                f"{self.job_slots_left} job slots and {self.reserved_micros_left} micro-dollars "
                "still held after every job ended"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- the rough parts


class CountingProvider:
    """Wraps the deployment's provider: counts calls per request and takes a random while."""

    def __init__(self, inner: Any, *, max_delay_s: float, rng: random.Random) -> None:
        self._inner = inner
        self._max_delay_s = max_delay_s
        self._rng = rng
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        with self._lock:
            self.calls[request.prompt] += 1
            delay = self._rng.uniform(0, self._max_delay_s)
        time.sleep(delay)
        result: ProviderResult = self._inner.generate(request, on_progress)
        return result


class KillingJobStore:
    """The real job store, except that ``complete`` kills the processor for some jobs, once.

    Only an invocation whose records are all on their first delivery may be killed (the
    harness says so through ``killable``): a kill fails the whole batch, and a message that
    kills took past the queue's maxReceiveCount would go to the dead letters, which is
    another path (tests/integration/test_failure_hygiene_against_moto.py).
    """

    def __init__(self, inner: Any, *, kill_rate: float, rng: random.Random) -> None:
        self._inner = inner
        self._kill_rate = kill_rate
        self._rng = rng
        self._lock = threading.Lock()
        self.killed: set[str] = set()
        self._spared: set[str] = set()
        # Per invocation thread: may this invocation be killed?
        self.killable = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def complete(self, record: JobRecord) -> bool:
        with self._lock:
            decided = record.id in self.killed or record.id in self._spared
            kill = (
                not decided
                and getattr(self.killable, "value", False)
                and self._rng.random() < self._kill_rate
            )
            if kill:
                self.killed.add(record.id)
            elif getattr(self.killable, "value", False):
                self._spared.add(record.id)
        if kill:
            # The result is stored and the provider paid; the job's record says running.
            raise SystemExit(f"processor killed while finishing {record.id}")
        completed: bool = self._inner.complete(record)
        return completed


class VirtualClock:
    """Real time plus an offset the harness moves forward, as if minutes had passed."""

    def __init__(self, real: Callable[[], datetime]) -> None:
        self._real = real
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return self._real() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


class _Containers:
    """Handler modules, each used by one invocation at a time (like Lambda containers)."""

    def __init__(self, name: str, count: int) -> None:
        self._idle: queue.Queue[ModuleType] = queue.Queue()
        for _ in range(count):
            self._idle.put(load_function(name))

    def invoke(self, event: dict[str, Any]) -> Any:
        module = self._idle.get()
        try:
            return module.lambda_handler(event, FakeLambdaContext())
        finally:
            self._idle.put(module)


# ---------------------------------------------------------------- the run


class _Run:
    def __init__(self, config: HarnessConfig, deps: Dependencies, store: KillingJobStore) -> None:
        self.config = config
        self.deps = deps
        self.store = store
        self.rng = random.Random(config.seed)
        self.report = HarnessReport()
        self.sqs = client("sqs")
        current = settings.current_settings()
        self.queue_url = current.jobs_queue_url
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.dead_letter_url = self.sqs.get_queue_url(
            QueueName=physical_name("JobsDeadLetterQueue")
        )["QueueUrl"]
        self.submit = _Containers("submit", config.submitters)
        self.processor = _Containers("processor", config.containers)
        self.job_ids: list[str] = []
        self.users: set[str] = set()
        # Budget periods are those of the submits (a reservation stays on its own day).
        self.started_at = deps.clock()
        self._lock = threading.Lock()
        # Messages whose delivery failed: visible again only after the visibility timeout.
        self.held: dict[str, str] = {}

    # -- submitting ---------------------------------------------------------------------

    def submissions(self) -> list[dict[str, Any]]:
        nonce = uuid.uuid4().hex[:8]  # requests new to this moto, whatever ran before
        distinct = max(1, round(self.config.jobs * self.config.distinct_share))
        prompts = [f"harness {nonce} request {index}" for index in range(distinct)]
        chosen = prompts + [self.rng.choice(prompts) for _ in range(self.config.jobs - distinct)]
        self.rng.shuffle(chosen)
        sketch = sketch_data_url()
        return [
            {
                "sketch": sketch,
                "prompt": prompt,
                # One seed for all: identical prompts are identical requests.
                "params": {"seed": 7, "steps": 2, "width": 64, "height": 64},
                "cache": "use",
            }
            for prompt in chosen
        ]

    def submit_one(self, index: int, body: dict[str, Any]) -> None:
        time.sleep(self.rng.uniform(0, 0.01))
        user = f"user-{index % 5}"
        with self._lock:
            self.users.add(user)
        event = http_event("POST", "/generations", body=body, user=user)
        response = self.submit.invoke(event)
        if response["statusCode"] not in (200, 202):
            raise AssertionError(f"submit answered {response['statusCode']}: {response['body']}")
        job_id = json.loads(response["body"])["id"]
        record = self.deps.jobs.get(job_id)
        assert record is not None
        with self._lock:
            self.job_ids.append(job_id)
            # A 200 is a cache hit, or a follower whose leader ended while it joined (it
            # took the leader's picture at once): the record says which.
            if record.cached:
                self.report.answered_from_cache += 1
            elif record.leader_job_id is not None:
                self.report.followed_a_job_in_flight += 1
            elif self.rng.random() < self.config.duplicate_send_rate:
                self.report.duplicate_sends += 1
                SqsJobQueue(self.sqs, self.queue_url).send(JobMessage(job_id=job_id))

    # -- delivering ---------------------------------------------------------------------

    def receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def deliver(self, messages: list[dict[str, Any]], pool: ThreadPoolExecutor) -> None:
        """Hand the messages to invocations at once, some twice; delete what succeeded."""
        batches = [messages[i : i + BATCH_SIZE] for i in range(0, len(messages), BATCH_SIZE)]
        duplicates = [
            [message]
            for message in messages
            if self.rng.random() < self.config.duplicate_delivery_rate
        ]
        self.report.duplicate_deliveries += len(duplicates)
        invocations = [*batches, *duplicates]
        outcomes = list(pool.map(self.invoke, invocations))
        succeeded: set[str] = set()
        for batch, failed in zip(invocations, outcomes, strict=True):
            succeeded |= {m["MessageId"] for m in batch if m["MessageId"] not in failed}
        for message in messages:
            if message["MessageId"] in succeeded:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            else:
                self.report.retried_records += 1
                self.held[message["MessageId"]] = message["ReceiptHandle"]

    def invoke(self, batch: list[dict[str, Any]]) -> set[str]:
        """One processor invocation; the ids of the messages it did not finish."""
        event = sqs_batch_event(batch, queue_arn=self.queue_arn)
        self.store.killable.value = all(
            m["Attributes"]["ApproximateReceiveCount"] == "1" for m in batch
        )
        try:
            response = self.processor.invoke(event)
        except SystemExit:
            with self._lock:
                self.report.kills += 1
            return {m["MessageId"] for m in batch}  # the whole batch comes back
        except Exception:
            # Every record failed (Powertools raises then), as a duplicate of a busy job
            # does alone in its batch: Lambda hands the whole batch back.
            return {m["MessageId"] for m in batch}
        return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}

    def drain(self, pool: ThreadPoolExecutor, *, until: Callable[[], bool]) -> None:
        while True:
            messages = self.receive()
            if messages:
                self.deliver(messages, pool)
            elif until():
                return
            else:
                time.sleep(0.02)

    def redeliver_held(self) -> None:
        """The visibility timeout (longer than a lease) has passed for every failed message."""
        self.deps.clock.advance(self.deps.job_lease_seconds + 1)  # type: ignore[attr-defined]
        for receipt in self.held.values():
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
            )
        self.held.clear()


def run_harness(config: HarnessConfig) -> HarnessReport:
    """Run the jobs through the handlers of this process's environment; count the bill.

    The handlers' cold-start dependencies are patched for the run and forgotten after it.
    """
    started = time.monotonic()
    deps = bootstrap.dependencies()
    provider_name = deps.providers.default
    provider = CountingProvider(
        deps.providers.resolve(provider_name),
        max_delay_s=config.max_provider_delay_s,
        rng=random.Random(config.seed + 1),
    )
    deps.providers._providers[provider_name] = provider  # type: ignore[attr-defined]
    store = KillingJobStore(deps.jobs, kill_rate=config.kill_rate, rng=random.Random(config.seed))
    deps.jobs = store  # type: ignore[assignment]
    deps.clock = VirtualClock(deps.clock)
    run = _Run(config, deps, store)
    try:
        # moto's DynamoDB is as atomic as DynamoDB here: local/moto_server.py serialises it.
        _play(run)
        _count(run, provider, store)
    finally:
        # Whatever was patched goes with this "container".
        bootstrap.dependencies.cache_clear()
    run.report.seconds = round(time.monotonic() - started, 1)
    return run.report


def _play(run: _Run) -> None:
    bodies = run.submissions()
    with (
        ThreadPoolExecutor(run.config.submitters, thread_name_prefix="submit") as submitters,
        ThreadPoolExecutor(2 * run.config.containers, thread_name_prefix="deliver") as pool,
    ):
        submitted = [
            submitters.submit(run.submit_one, index, body) for index, body in enumerate(bodies)
        ]
        # Deliveries run while submissions still arrive: identical requests meet jobs in
        # every state, queued, running, killed or finished.
        run.drain(pool, until=lambda: all(future.done() for future in submitted))
        for future in submitted:
            future.result()
        run.drain(pool, until=lambda: True)
        while run.held and run.report.redelivery_rounds < run.config.max_redelivery_rounds:
            run.report.redelivery_rounds += 1
            run.redeliver_held()
            run.drain(pool, until=lambda: True)


def _count(run: _Run, provider: CountingProvider, store: KillingJobStore) -> None:
    report = run.report
    records = [store.get(job_id) for job_id in run.job_ids]
    report.jobs = len(records)
    report.statuses = dict(Counter(str(r.status) if r else "missing" for r in records))
    report.unfinished = [
        job_id
        for job_id, record in zip(run.job_ids, records, strict=True)
        if record is None or record.status is not JobStatus.SUCCEEDED
    ]
    fingerprints = {record.fingerprint for record in records if record is not None}
    report.distinct_fingerprints = len(fingerprints)
    ours = set(run.job_ids)
    report.stuck = [
        job.id
        for job in store.stuck(
            now=run.deps.clock() + timedelta(days=1), running_grace_s=0, queued_for_s=0
        )
        if job.id in ours
    ]
    report.provider_calls = sum(provider.calls.values())
    report.max_calls_per_fingerprint = max(provider.calls.values(), default=0)
    ledger = DynamoUsageLedger(client("dynamodb"), settings.current_settings().ledger_table)
    per_fingerprint = [len(ledger.entries(fingerprint)) for fingerprint in fingerprints]
    report.ledger_entries = sum(per_fingerprint)
    report.max_ledger_entries_per_fingerprint = max(per_fingerprint, default=0)
    entries = [entry for job_id in run.job_ids for entry in ledger.job_entries(job_id)]
    report.cache_hit_entries = sum(entry.kind == "cache_hit" for entry in entries)
    report.served_from_cache = sum(1 for record in records if record is not None and record.cached)
    report.pictures_miscounted = [
        record.id
        for record in records
        if record is not None
        and record.status is JobStatus.SUCCEEDED
        and sum(entry.images for entry in entries if entry.job_id == record.id) != 1
    ]
    report.ledger_cost_micros = sum(entry.actual_micros for entry in entries)
    report.jobs_cost_micros = sum(
        usd_to_micros(record.cost_usd or 0.0) for record in records if record is not None
    )
    report.dead_letters = len(
        run.sqs.receive_message(
            QueueUrl=run.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
    )
    _count_budgets(run)


def _count_budgets(run: _Run) -> None:
    """What the budgets table still holds for this run's jobs and users."""
    table = settings.current_settings().budgets_table
    dynamodb = client("dynamodb")
    budgets = DynamoBudgetStore(dynamodb, table, clock=run.deps.clock)
    report = run.report
    report.reservations_left = sum(
        1
        for job_id in run.job_ids
        if "Item"
        in dynamodb.get_item(
            TableName=table,
            Key={"pk": {"S": f"reservation#{job_id}"}, "sk": {"S": "reservation"}},
            ConsistentRead=True,
        )
    )
    report.job_slots_left = sum(budgets.jobs_in_flight(user) for user in run.users)
    scopes = [APP_SCOPE, *(BudgetScope(user) for user in run.users)]
    counters = budgets.counters(
        (scope, period, period_key(period, run.started_at))
        for scope in scopes
        for period in PERIODS
    )
    report.reserved_micros_left = sum(counter.reserved for counter in counters.values())


# ---------------------------------------------------------------- emulated AWS for bench


@contextmanager
def emulated_aws() -> Iterator[str]:
    """moto with what template.yaml declares, this process set up as the functions'.

    For ``bench/``; the tests use tests/integration/conftest.py's ``aws`` fixture.
    """
    moto = MotoServer(port=0)
    saved = dict(os.environ)
    try:
        endpoint_url = moto.start()
        provisioned = provision(
            load_template(REPO_ROOT / "template.yaml"),
            endpoint_url=endpoint_url,
            # Nobody subscribes in these runs: nothing is pushed, nothing verifies tokens.
            environment_overrides={"WEBSOCKET_MANAGEMENT_URL": "http://127.0.0.1:9/unused"},
        )
        os.environ.update(handler_environment(provisioned, endpoint_url))
        os.environ.update(
            {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        )
        os.environ["LOG_LEVEL"] = "ERROR"
        _forget_cold_start()
        yield endpoint_url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _forget_cold_start()
        moto.stop()


def _forget_cold_start() -> None:
    bootstrap.dependencies.cache_clear()
    bootstrap.token_verifier.cache_clear()
    settings.current_settings.cache_clear()
