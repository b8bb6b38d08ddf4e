"""The real budgets store on in-process moto, for tests that reserve and settle.

moto runs the same conditional writes and transactions DynamoDB does; with
``local.moto_server.serialise_dynamodb_requests`` it also keeps them atomic under threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import boto3
from moto import mock_aws

from local.moto_server import serialise_dynamodb_requests
from sketchbridge.aws.dynamo_budgets import DynamoBudgetStore
from sketchbridge.domain.budgets import APP_SCOPE, PERIODS, BudgetDefaults, BudgetScope, period_key
from sketchbridge.services.ports import Dependencies

TABLE = "budgets"
REGION = "us-east-1"


@contextmanager
def moto_budgets_table() -> Iterator[object]:
    """A budgets table (the template's key schema) in in-process moto; yields the client."""
    serialise_dynamodb_requests()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        yield dynamodb


def budget_store(clock: Callable[[], datetime]) -> DynamoBudgetStore:
    """One instance's store (its own client, as separate Lambda instances have)."""
    return DynamoBudgetStore(boto3.client("dynamodb", region_name=REGION), TABLE, clock=clock)


@dataclass
class FakeAlerts:
    sent: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def notify(self, subject: str, message: str) -> None:
        with self._lock:
            self.sent.append((subject, message))


def with_budgets(
    deps: Dependencies, store: DynamoBudgetStore, defaults: BudgetDefaults | None = None
) -> Dependencies:
    deps.budgets = store
    deps.reservations = store
    deps.alerts = FakeAlerts()
    if defaults is not None:
        deps.budget_defaults = defaults
    return deps


@dataclass(frozen=True)
class Balance:
    """A scope's counters now, in micro-dollars, and a user's job slots."""

    spent: dict[str, int]
    reserved: dict[str, int]
    in_flight: int


def balance(store: DynamoBudgetStore, at: datetime, user_id: str | None) -> Balance:
    scope = BudgetScope(user_id) if user_id is not None else APP_SCOPE
    counters = store.counters((scope, period, period_key(period, at)) for period in PERIODS)
    return Balance(
        spent={period: counters[(scope, period)].spent for period in PERIODS},
        reserved={period: counters[(scope, period)].reserved for period in PERIODS},
        in_flight=store.jobs_in_flight(user_id) if user_id is not None else 0,
    )
