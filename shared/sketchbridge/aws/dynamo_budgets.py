"""Budgets, quotas and reservations in the budgets table (``BUDGETS_TABLE``).

One partition per scope (``pk = "app"`` or ``"user#<sub>"``) and one per reserved job:

    sk = "limit#day" | "limit#month"   an admin's limits: ``soft``, ``hard`` (micro-dollars)
    sk = "quota"                       an admin's quotas for the user: ``requests_per_minute``,
                                       ``jobs_in_flight``
    sk = "spend#day#2026-12-03"        a period's counter: ``spent``, ``reserved`` and
    sk = "spend#month#2026-12"         ``committed`` (their sum, kept in step by every write),
                                       ``soft_notified`` (the soft limit admins were told of),
                                       TTL ``expires_at`` long after the period
    sk = "in_flight"                   the user's jobs holding a reservation: ``jobs``
    sk = "minute#2026-12-03T16:38"     the user's requests that minute: ``requests``, TTL
    pk = "reservation#<job id>", sk = "reservation"
                                       what a job holds: ``amount``, ``user_id`` and the
                                       counters (``lines``) it is held on

DynamoDB's condition expressions cannot add two attributes, which is why ``committed`` is
stored rather than computed: a reservation is one TransactWriteItems of conditional updates,
``committed <= hard - quote`` on every counter, ``jobs <= limit - n`` on the job slots, and
the reservation items themselves. Settlement deletes the reservation item on the condition
that it exists, in the same transaction as the counter updates, so a job is settled once
however often its end is processed. Conflicting transactions are retried a bounded number of
times; every other botocore failure becomes ``InternalError``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item
from sketchbridge.domain.budgets import (
    PERIODS,
    BudgetScope,
    Limit,
    Period,
    Quota,
    counter_expires_at,
    parse_period,
    parse_scope,
    period_key,
    previous_month_key,
)
from sketchbridge.domain.clock import utc_now
from sketchbridge.domain.errors import InternalError
from sketchbridge.services.ports import (
    BudgetCounter,
    BudgetLine,
    Refusal,
    ReservationRequest,
    Settlement,
)

_UNAVAILABLE = "The budgets store is unavailable."
# Transactions lost to a concurrent one on the same counters; each loss means another
# submit's reservation landed, so a few dozen is plenty even for a burst on one user.
MAX_TRANSACTION_ATTEMPTS = 25
_BATCH_GET_LIMIT = 100
RESERVATION_SORT = "reservation"
IN_FLIGHT_SORT = "in_flight"
QUOTA_SORT = "quota"
# A minute's request count outlives its minute by this much, then TTL removes it.
MINUTE_KEPT_S = 120


def scope_pk(scope: BudgetScope) -> str:
    return "app" if scope.user_id is None else f"user#{scope.user_id}"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _counter_key(scope: BudgetScope, period: Period, key: str) -> dict[str, Any]:
    return _key(scope_pk(scope), f"spend#{period}#{key}")


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoBudgetStore:
    def __init__(self, client: Any, table: str, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    # ------------------------------------------------------------ limits and quotas

    def limits(self, scopes: Iterable[BudgetScope]) -> dict[tuple[BudgetScope, Period], Limit]:
        wanted = {
            (scope, period): _key(scope_pk(scope), f"limit#{period}")
            for scope in dict.fromkeys(scopes)
            for period in PERIODS
        }
        found = self._get_many(list(wanted.values()))
        limits: dict[tuple[BudgetScope, Period], Limit] = {}
        for (scope, period), key in wanted.items():
            item = found.get((key["pk"]["S"], key["sk"]["S"]))
            if item is not None:
                limits[(scope, period)] = Limit(
                    soft=_int_or_none(item.get("soft")),
                    hard=_int_or_none(item.get("hard")),
                    source="admin",
                )
        return limits

    def put_limit(self, scope: BudgetScope, period: Period, limit: Limit) -> None:
        item: dict[str, Any] = {
            **_key(scope_pk(scope), f"limit#{period}"),
            "set_at": {"S": self._clock().isoformat()},
        }
        if limit.soft is not None:
            item["soft"] = _n(limit.soft)
        if limit.hard is not None:
            item["hard"] = _n(limit.hard)
        self._call("put_item", TableName=self._table, Item=item)

    def delete_limit(self, scope: BudgetScope, period: Period) -> None:
        self._call(
            "delete_item", TableName=self._table, Key=_key(scope_pk(scope), f"limit#{period}")
        )

    def quota(self, user_id: str) -> Quota | None:
        item = self._get(_key(scope_pk(BudgetScope(user_id)), QUOTA_SORT))
        if item is None:
            return None
        return Quota(
            requests_per_minute=_int_or_none(item.get("requests_per_minute")),
            jobs_in_flight=_int_or_none(item.get("jobs_in_flight")),
            source="admin",
        )

    def put_quota(self, user_id: str, quota: Quota) -> None:
        item: dict[str, Any] = {
            **_key(scope_pk(BudgetScope(user_id)), QUOTA_SORT),
            "set_at": {"S": self._clock().isoformat()},
        }
        if quota.requests_per_minute is not None:
            item["requests_per_minute"] = _n(quota.requests_per_minute)
        if quota.jobs_in_flight is not None:
            item["jobs_in_flight"] = _n(quota.jobs_in_flight)
        self._call("put_item", TableName=self._table, Item=item)

    def delete_quota(self, user_id: str) -> None:
        self._call(
            "delete_item", TableName=self._table, Key=_key(scope_pk(BudgetScope(user_id)), "quota")
        )

    # ------------------------------------------------------------ counters

    def counters(
        self, wanted: Iterable[tuple[BudgetScope, Period, str]]
    ) -> dict[tuple[BudgetScope, Period], BudgetCounter]:
        wanted = list(wanted)
        found = self._get_many([_counter_key(*line) for line in wanted])
        result: dict[tuple[BudgetScope, Period], BudgetCounter] = {}
        for scope, period, key in wanted:
            item = found.get((scope_pk(scope), f"spend#{period}#{key}")) or {}
            result[(scope, period)] = _counter(scope, period, key, item)
        return result

    def jobs_in_flight(self, user_id: str) -> int:
        item = self._get(_key(scope_pk(BudgetScope(user_id)), IN_FLIGHT_SORT)) or {}
        return max(0, int(item.get("jobs", 0)))

    def reserved_usd(self, user_id: str | None) -> float:
        """What running jobs hold now: this month's and last month's reservations (a job
        reserved just before the month turned holds last month's)."""
        scope = BudgetScope(user_id)
        now = self._clock()
        this_month = period_key("month", now)
        counters = self._get_many(
            [
                _counter_key(scope, "month", this_month),
                _counter_key(scope, "month", previous_month_key(this_month)),
            ]
        )
        micros = sum(max(0, int(item.get("reserved", 0))) for item in counters.values())
        return micros / 1_000_000

    def count_request(self, user_id: str, minute: str, *, limit: int, expires_at: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(scope_pk(BudgetScope(user_id)), f"minute#{minute}"),
                UpdateExpression="ADD requests :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(requests) OR requests < :limit",
                ExpressionAttributeValues={
                    ":one": _n(1),
                    ":limit": _n(limit),
                    ":expires": _n(expires_at + MINUTE_KEPT_S),
                },
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise InternalError(_UNAVAILABLE) from exc
        except BotoCoreError as exc:
            raise InternalError(_UNAVAILABLE) from exc
        return True

    def mark_soft_limit_crossed(
        self, scope: BudgetScope, period: Period, key: str, *, soft: int, at: str
    ) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_counter_key(scope, period, key),
                UpdateExpression="SET soft_notified = :soft, soft_notified_at = :at",
                # Once per soft limit and period: an admin who raises the limit hears of
                # the next crossing too.
                ConditionExpression=(
                    "committed > :soft "
                    "AND (attribute_not_exists(soft_notified) OR soft_notified < :soft)"
                ),
                ExpressionAttributeValues={":soft": _n(soft), ":at": {"S": at}},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise InternalError(_UNAVAILABLE) from exc
        except BotoCoreError as exc:
            raise InternalError(_UNAVAILABLE) from exc
        return True

    # ------------------------------------------------------------ reservations

    def reserve(self, request: ReservationRequest) -> Refusal | None:
        total = sum(request.quotes.values())
        jobs = len(request.quotes)
        for line in request.lines:
            if line.hard is not None and total > line.hard:
                # No transaction can make this fit; say how the counter stands.
                return Refusal(
                    line,
                    self.counters([(line.scope, line.period, line.key)])[(line.scope, line.period)],
                )
        if request.jobs_in_flight_limit is not None and jobs > request.jobs_in_flight_limit:
            return Refusal(None)
        user_pk = scope_pk(BudgetScope(request.user_id))
        items: list[dict[str, Any]] = [
            _reserve_on(self._table, line, total) for line in request.lines
        ]
        in_flight: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(user_pk, IN_FLIGHT_SORT),
            "UpdateExpression": "ADD jobs :jobs",
            "ExpressionAttributeValues": {":jobs": _n(jobs)},
        }
        if request.jobs_in_flight_limit is not None:
            in_flight["ConditionExpression"] = "attribute_not_exists(jobs) OR jobs <= :most"
            in_flight["ExpressionAttributeValues"][":most"] = _n(
                request.jobs_in_flight_limit - jobs
            )
        items.append({"Update": in_flight})
        lines = {
            "L": [
                {
                    "M": {
                        "scope": {"S": line.scope.label},
                        "period": {"S": line.period},
                        "key": {"S": line.key},
                    }
                }
                for line in request.lines
            ]
        }
        for job_id, amount in request.quotes.items():
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **_key(f"reservation#{job_id}", RESERVATION_SORT),
                            "user_id": {"S": request.user_id},
                            "amount": _n(amount),
                            "lines": lines,
                            "expires_at": _n(request.expires_at),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        reasons = self._transact(items)
        if reasons is None:
            return None
        for index, reason in enumerate(reasons):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            if index < len(request.lines):
                line = request.lines[index]
                old = from_item(reason["Item"]) if reason.get("Item") else None
                counter = (
                    _counter(line.scope, line.period, line.key, old)
                    if old is not None
                    else self.counters([(line.scope, line.period, line.key)])[
                        (line.scope, line.period)
                    ]
                )
                return Refusal(line, counter)
            if index == len(request.lines):
                return Refusal(None)
        raise InternalError("A job's reservation already exists.")

    def settle(self, job_id: str, *, spent: int | None) -> Settlement | None:
        key = _key(f"reservation#{job_id}", RESERVATION_SORT)
        item = self._get(key)
        if item is None:
            return None
        amount = int(item["amount"])
        charged = amount if spent is None else max(0, spent)
        user_id = str(item["user_id"])
        lines = tuple(
            BudgetLine(
                scope=parse_scope(str(line["scope"])),
                period=parse_period(str(line["period"])),
                key=str(line["key"]),
            )
            for line in item.get("lines", [])
        )
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key,
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(scope_pk(BudgetScope(user_id)), IN_FLIGHT_SORT),
                    "UpdateExpression": "ADD jobs :minus_one",
                    "ExpressionAttributeValues": {":minus_one": _n(-1)},
                }
            },
        ]
        for line in lines:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _counter_key(line.scope, line.period, line.key),
                        "UpdateExpression": (
                            "ADD spent :spent, reserved :released, committed :change"
                        ),
                        "ExpressionAttributeValues": {
                            ":spent": _n(charged),
                            ":released": _n(-amount),
                            ":change": _n(charged - amount),
                        },
                    }
                }
            )
        reasons = self._transact(items)
        if reasons is not None:
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return None  # settled by another path to the job's end meanwhile
            raise InternalError(_UNAVAILABLE)
        return Settlement(
            job_id=job_id, user_id=user_id, reserved=amount, spent=charged, lines=lines
        )

    # ------------------------------------------------------------ plumbing

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Write all or nothing; None when written, else the cancellation reasons of a
        transaction refused by a condition. Conflicts with concurrent ones are retried."""
        for attempt in range(MAX_TRANSACTION_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if _error_code(exc) != "TransactionCanceledException":
                    raise InternalError(_UNAVAILABLE) from exc
                reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons") or []
                codes = {reason.get("Code") for reason in reasons}
                if "ConditionalCheckFailed" in codes:
                    return reasons
                if not codes <= {"TransactionConflict", "None", None}:
                    raise InternalError(_UNAVAILABLE) from exc
                # Another transaction held one of these items: try again shortly, spread
                # out so a burst of submits does not collide in step again.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            except BotoCoreError as exc:
                raise InternalError(_UNAVAILABLE) from exc
            else:
                return None
        raise InternalError("The budgets store is too busy; please submit again.")

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        response = self._call("get_item", TableName=self._table, Key=key, ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def _get_many(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": unique[start : start + _BATCH_GET_LIMIT],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    values = from_item(item)
                    found[(str(values["pk"]), str(values["sk"]))] = values
                request = response.get("UnprocessedKeys") or {}
        return found

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError(_UNAVAILABLE) from exc


def _reserve_on(table: str, line: BudgetLine, total: int) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table,
        "Key": _counter_key(line.scope, line.period, line.key),
        "UpdateExpression": (
            "ADD reserved :quote, committed :quote SET expires_at = if_not_exists(expires_at, "
            ":expires)"
        ),
        "ExpressionAttributeValues": {
            ":quote": _n(total),
            ":expires": _n(counter_expires_at(line.period, line.key)),
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if line.hard is not None:
        update["ConditionExpression"] = "attribute_not_exists(committed) OR committed <= :most"
        update["ExpressionAttributeValues"][":most"] = _n(line.hard - total)
    return {"Update": update}


def _counter(scope: BudgetScope, period: Period, key: str, item: dict[str, Any]) -> BudgetCounter:
    return BudgetCounter(
        scope=scope,
        period=period,
        key=key,
        spent=int(item.get("spent", 0)),
        reserved=int(item.get("reserved", 0)),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
