"""The emulated DynamoDB keeps DynamoDB's promise: a conditional write is atomic.

Budgets, job claims and rate-limit buckets all rest on it. Each writer has its own client,
as separate Lambda instances would, and they all write at once.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sketchbridge.aws.clients import client

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

WRITERS = 40
LIMIT = 10
# Races are rare when threads switch every 5 ms (the interpreter's default); switching
# every microsecond, over a few rounds, makes an unguarded check-then-write lose reliably.
ROUNDS = 5


@pytest.fixture(autouse=True)
def threads_switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _at_once(count: int, work: Callable[[int], bool]) -> list[bool]:
    start = threading.Barrier(count)
    results = [False] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _counter_table(providers_table: str) -> tuple[str, dict[str, Any]]:
    """A fresh counter item in a provisioned table (pk/sk keys)."""
    return providers_table, {"pk": {"S": f"counter#{uuid.uuid4().hex}"}, "sk": {"S": "n"}}


def _count(table: str, key: dict[str, Any]) -> int:
    item = client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return int(item["n"]["N"])


def test_concurrent_conditional_increments_admit_exactly_the_limit(providers_table: str) -> None:
    clients = [client("dynamodb") for _ in range(WRITERS)]

    def increment(index: int) -> bool:
        try:
            clients[index].update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD n :one",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(LIMIT)}},
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    for _ in range(ROUNDS):
        table, key = _counter_table(providers_table)
        admitted = _at_once(WRITERS, increment)

        assert admitted.count(True) == LIMIT
        assert _count(table, key) == LIMIT


def test_concurrent_conditional_transactions_admit_exactly_the_limit(
    providers_table: str,
) -> None:
    clients = [client("dynamodb") for _ in range(WRITERS)]

    def reserve(index: int) -> bool:
        try:
            clients[index].transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "ADD n :one",
                            "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":limit": {"N": str(LIMIT)},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {**key, "sk": {"S": f"writer#{index}"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TransactionCanceledException"
            return False
        return True

    for _ in range(ROUNDS):
        table, key = _counter_table(providers_table)
        admitted = _at_once(WRITERS, reserve)

        assert admitted.count(True) == LIMIT
        assert _count(table, key) == LIMIT


def test_a_failed_transaction_leaves_every_item_as_it_was(providers_table: str) -> None:
    # The emulator rolls a transaction back by the items it touched (local/moto_server.py),
    # not by a copy of whole tables: what it put, changed or deleted must all come back.
    dynamodb = client("dynamodb")
    kept, changed, created, guard = (
        {"pk": {"S": f"rollback#{uuid.uuid4().hex}"}, "sk": {"S": name}}
        for name in ("kept", "changed", "created", "guard")
    )
    for existing in (kept, changed, guard):
        dynamodb.put_item(TableName=providers_table, Item={**existing, "n": {"N": "1"}})

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": providers_table, "Item": {**created, "n": {"N": "7"}}}},
                {
                    "Update": {
                        "TableName": providers_table,
                        "Key": changed,
                        "UpdateExpression": "SET n = :seven",
                        "ExpressionAttributeValues": {":seven": {"N": "7"}},
                    }
                },
                {"Delete": {"TableName": providers_table, "Key": kept}},
                {
                    "ConditionCheck": {
                        "TableName": providers_table,
                        "Key": guard,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    stored = {
        name: dynamodb.get_item(TableName=providers_table, Key=key, ConsistentRead=True).get("Item")
        for name, key in (("kept", kept), ("changed", changed), ("created", created))
    }
    assert stored["kept"] is not None and stored["kept"]["n"] == {"N": "1"}
    assert stored["changed"] is not None and stored["changed"]["n"] == {"N": "1"}
    assert stored["created"] is None
