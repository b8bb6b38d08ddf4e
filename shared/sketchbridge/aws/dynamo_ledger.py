"""The cost ledger in its own table (``LedgerTable``): entries, and daily totals kept with them.

    pk = job#<job id>              sk = entry#<entry id>        one entry (LedgerRecord)
    pk = usage#user#<user id>      sk = <yyyy-mm-dd>#<provider> a user's day at one provider
    pk = usage#provider            sk = <yyyy-mm-dd>#<provider> everyone's day at one provider
    pk = usage#user                sk = <yyyy-mm-dd>#<user id>  one user's day, for the admins

    GSI by_fingerprint = fingerprint (S) + sk: "how often did we pay for this request?"

An entry and the three totals it adds to are written in one ``TransactWriteItems``: the
entry's put is conditional on its absence, so a second recording of the same call (an SQS
redelivery, a resumed provider-side job) cancels the whole transaction and counts nothing
twice. A usage query reads at most one total per provider (or user) per day of the range,
never a scan. Amounts are integer micro-dollars, so the totals add up exactly.

The table is kept like billing records: no TTL, retained when the stack goes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item, to_value
from sketchbridge.domain.errors import InternalError
from sketchbridge.domain.ledger import LedgerRecord, UsageRow

JOB_PREFIX = "job#"
ENTRY_PREFIX = "entry#"
USER_TOTALS_PREFIX = "usage#user#"
PROVIDER_TOTALS = "usage#provider"
USERS_TOTALS = "usage#user"
BY_FINGERPRINT = "by_fingerprint"
# Two recordings touching the same day's totals at once: DynamoDB cancels one with a
# TransactionConflict; it is tried again, a handful of times.
_CONFLICT_RETRIES = 5

_UNAVAILABLE = "The usage ledger is unavailable."


class DynamoUsageLedger:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, entry: LedgerRecord) -> bool:
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(_entry_item(entry)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            self._add_to(f"{USER_TOTALS_PREFIX}{entry.user_id}", entry, entry.provider),
            self._add_to(PROVIDER_TOTALS, entry, entry.provider),
            self._add_to(USERS_TOTALS, entry, entry.user_id),
        ]
        for attempt in range(1, _CONFLICT_RETRIES + 1):
            try:
                self._client.transact_write_items(TransactItems=items)
                return True
            except ClientError as exc:
                reasons = [
                    reason.get("Code") for reason in exc.response.get("CancellationReasons", [])
                ]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # recorded before: the totals already hold it
                conflict = "TransactionConflict" in reasons or _code(exc) in (
                    "TransactionConflictException",
                    "TransactionInProgressException",
                )
                if not conflict or attempt == _CONFLICT_RETRIES:
                    raise InternalError(_UNAVAILABLE) from exc
                time.sleep(0.02 * attempt)
            except BotoCoreError as exc:
                raise InternalError(_UNAVAILABLE) from exc
        raise InternalError(_UNAVAILABLE)  # pragma: no cover - the loop returns or raises

    def job_entries(self, job_id: str) -> list[LedgerRecord]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :entry)",
            ExpressionAttributeValues={
                ":pk": to_value(f"{JOB_PREFIX}{job_id}"),
                ":entry": to_value(ENTRY_PREFIX),
            },
            ConsistentRead=True,
        )
        return [_entry(item) for item in items]

    def usage(
        self, *, user_id: str | None, start: date, end: date, by: Literal["provider", "user"]
    ) -> list[UsageRow]:
        if by == "user" and user_id is not None:
            raise ValueError("one user's usage is grouped by provider, not by user")
        if user_id is not None:
            pk = f"{USER_TOTALS_PREFIX}{user_id}"
        else:
            pk = USERS_TOTALS if by == "user" else PROVIDER_TOTALS
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": to_value(pk),
                ":first": to_value(start.isoformat()),
                # "~" sorts after every character a provider name or user id uses.
                ":last": to_value(f"{end.isoformat()}#~"),
            },
        )
        return [_row(item) for item in items]

    def entries(self, fingerprint: str) -> list[LedgerRecord]:
        """Every billable provider call made for this fingerprint (cache hits left out)."""
        items = self._query(
            IndexName=BY_FINGERPRINT,
            KeyConditionExpression="fingerprint = :fingerprint",
            ExpressionAttributeValues={":fingerprint": to_value(fingerprint)},
        )
        return [entry for entry in map(_entry, items) if entry.kind == "call"]

    def _add_to(self, pk: str, entry: LedgerRecord, key: str) -> dict[str, Any]:
        day = entry.day.isoformat()
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": pk}, "sk": {"S": f"{day}#{key}"}},
                "UpdateExpression": "SET #day = :day, #key = :key "
                "ADD cost_micros :cost, saved_micros :saved, images :images, "
                "cache_hits :hits, calls :calls",
                "ExpressionAttributeNames": {"#day": "day", "#key": "key"},
                "ExpressionAttributeValues": {
                    ":day": {"S": day},
                    ":key": {"S": key},
                    ":cost": {"N": str(entry.actual_micros)},
                    ":saved": {"N": str(entry.saved_micros)},
                    ":images": {"N": str(entry.images)},
                    ":hits": {"N": "1" if entry.kind == "cache_hit" else "0"},
                    ":calls": {"N": "1" if entry.kind == "call" else "0"},
                },
            }
        }

    def _query(self, **request: Any) -> list[dict[str, Any]]:
        return list(self._pages({"TableName": self._table, **request}))

    def _pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            while True:
                response = self._client.query(**request)
                yield from (from_item(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise InternalError(_UNAVAILABLE) from exc


def _entry_item(entry: LedgerRecord) -> dict[str, Any]:
    return {
        "pk": f"{JOB_PREFIX}{entry.job_id}",
        "sk": f"{ENTRY_PREFIX}{entry.entry_id}",
        **{name: getattr(entry, name) for name in LedgerRecord.__dataclass_fields__},
    }


def _entry(item: dict[str, Any]) -> LedgerRecord:
    values: dict[str, Any] = {name: item.get(name) for name in LedgerRecord.__dataclass_fields__}
    for name in ("images", "actual_micros", "saved_micros"):
        values[name] = int(values[name] or 0)
    if values["quoted_micros"] is not None:
        values["quoted_micros"] = int(values["quoted_micros"])
    return LedgerRecord(**values)


def _row(item: dict[str, Any]) -> UsageRow:
    return UsageRow(
        day=date.fromisoformat(str(item["day"])),
        key=str(item["key"]),
        cost_micros=int(item.get("cost_micros", 0)),
        saved_micros=int(item.get("saved_micros", 0)),
        images=int(item.get("images", 0)),
        cache_hits=int(item.get("cache_hits", 0)),
        calls=int(item.get("calls", 0)),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
