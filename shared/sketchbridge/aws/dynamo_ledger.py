"""The usage ledger: one item per billable provider call, in the cache table.

    pk = ledger#<fingerprint>     sk = <job id>#<at>    provider, model, cost_usd, at

Keyed by fingerprint, so "how often did we pay for this request?" is one query;
with the cache and dedupe working, the answer is 1. The items carry no TTL: the
ledger outlives the cached results it paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item, to_value
from sketchbridge.domain.errors import InternalError

LEDGER_PREFIX = "ledger#"


@dataclass(frozen=True)
class LedgerEntry:
    job_id: str
    provider: str
    model: str
    cost_usd: float | None
    fingerprint: str
    at: str


class DynamoUsageLedger:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(
        self,
        job_id: str,
        *,
        provider: str,
        model: str,
        cost_usd: float | None,
        fingerprint: str,
        at: str,
    ) -> None:
        item = {
            "pk": f"{LEDGER_PREFIX}{fingerprint}",
            "sk": f"{job_id}#{at}",
            "job_id": job_id,
            "provider": provider,
            "model": model,
            "cost_usd": cost_usd,
            "fingerprint": fingerprint,
            "at": at,
        }
        try:
            self._client.put_item(TableName=self._table, Item=to_item(item))
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The usage ledger is unavailable.") from exc

    def entries(self, fingerprint: str) -> list[LedgerEntry]:
        """Every billable call made for this fingerprint, oldest job id first."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": to_value(f"{LEDGER_PREFIX}{fingerprint}")},
            "ConsistentRead": True,
        }
        entries: list[LedgerEntry] = []
        try:
            while True:
                response = self._client.query(**request)
                entries.extend(_entry(from_item(item)) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return entries
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The usage ledger is unavailable.") from exc


def _entry(item: dict[str, Any]) -> LedgerEntry:
    cost = item.get("cost_usd")
    return LedgerEntry(
        job_id=str(item["job_id"]),
        provider=str(item["provider"]),
        model=str(item["model"]),
        cost_usd=float(cost) if cost is not None else None,
        fingerprint=str(item["fingerprint"]),
        at=str(item["at"]),
    )
