"""Provider state shared by every processor instance, in the providers table (``PROVIDERS_TABLE``).

One partition per provider, ``pk = "provider#<name>"``; the sort key says what the item is:

    sk = "breaker"              the circuit breaker: BreakerState's fields + ``version``
    sk = "bucket"               the rate limiter: ``full_at`` (see domain/rate_limit.py)
    sk = "latency#<minute>"     the calls that ended in that minute, as a bounded list;
                                ``expires_at`` (TTL) removes it an hour later
    sk = "config"               the admin's override of the provider's profile

The rules are the pure functions of ``sketchbridge.domain``; this module only makes them
safe across instances. The breaker is read, changed and written back on the condition that
its ``version`` did not move (optimistic concurrency, retried on conflict), so two instances
never both take the probe. The bucket is one or two conditional updates, never a read, so
instances never overdraw it. Every botocore failure becomes ``InternalError``.

How to use (one processor job)::

    breakers = DynamoBreakerStore(client("dynamodb"), settings.providers_table)
    states = breakers.load_many(names)                     # 1 BatchGetItem
    for each provider tried:
        decision = allows_call(states[name], now, policy)  # pure, no call
        probe: breakers.try_probe(name, now)               # GetItem + PutItem, only when due
        limiter.try_acquire(name, profile.rate_limit, now=now)  # 1 UpdateItem (2 when the
                                                           #   bucket is partly used)
        ... call the provider ...
        breakers.record(name, ok=..., now=later, probe_started_at=now if probe else None)
                                                           # GetItem + PutItem
        latencies.record(name, seconds=..., ok=..., steps=..., now=now)  # 1 UpdateItem

So a job that succeeds on its first provider makes 5-6 requests, and each failover hop adds
4-5. ``DynamoProviderConfigStore.overrides`` (1 BatchGetItem) is read once per request or job
(ProviderManager), so an admin's change applies from the next one without a deploy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import from_item, to_item, to_value
from sketchbridge.domain.circuit_breaker import (
    CLOSED,
    BreakerPolicy,
    BreakerState,
    on_failure,
    on_success,
    start_probe,
)
from sketchbridge.domain.errors import InternalError, InvalidParamsError, UnknownProviderError
from sketchbridge.domain.latency import (
    DEFAULT_WINDOW_S,
    LatencySample,
    LatencySummary,
    summarise,
)
from sketchbridge.domain.provider_profile import DEFAULT_PROFILES, ProviderProfile, apply_override
from sketchbridge.domain.rate_limit import BucketState, TokenBucket, take

logger = Logger(child=True)

BREAKER_SORT = "breaker"
BUCKET_SORT = "bucket"
CONFIG_SORT = "config"
LATENCY_SORT_PREFIX = "latency#"
# Read-modify-write attempts before an outcome is given up as lost to contention; each lost
# race means another instance's write landed, so this many is plenty for a few instances.
MAX_ATTEMPTS = 8
_UNAVAILABLE = "The provider state store is unavailable."
_BATCH_GET_LIMIT = 100  # keys per BatchGetItem


def provider_key(name: str, sort: str) -> dict[str, Any]:
    return {"pk": {"S": f"provider#{name}"}, "sk": {"S": sort}}


class _ProvidersTable:
    """The table's calls, with botocore errors translated in one place."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.name = table

    def get(self, name: str, sort: str) -> dict[str, Any] | None:
        response = self.call(
            "get_item", TableName=self.name, Key=provider_key(name, sort), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_many(self, names: Iterable[str], sort: str) -> dict[str, dict[str, Any]]:
        """The ``sort`` item of each provider that has one, by name."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(names))
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [
                        provider_key(n, sort) for n in wanted[start : start + _BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self.call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    values = from_item(item)
                    found[str(values["pk"]).removeprefix("provider#")] = values
                request = response.get("UnprocessedKeys") or {}
        return found

    def write_if(
        self, operation: str, condition: str, *, return_old: bool = True, **kwargs: Any
    ) -> dict[str, Any] | None:
        """A conditional put or update; None when it was written, else the item as it stood
        (empty when there was none, or when ``return_old`` is False)."""
        if return_old:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            getattr(self.client, operation)(
                TableName=self.name, ConditionExpression=condition, **kwargs
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise InternalError(_UNAVAILABLE) from exc
            item = exc.response.get("Item")
            return from_item(item) if item else {}
        except BotoCoreError as exc:
            raise InternalError(_UNAVAILABLE) from exc
        return None

    def call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError(_UNAVAILABLE) from exc


# ---------------------------------------------------------------- circuit breakers


class DynamoBreakerStore:
    """One circuit breaker per provider, shared by all instances (domain/circuit_breaker.py)."""

    def __init__(self, client: Any, table: str, policy: BreakerPolicy | None = None) -> None:
        self._table = _ProvidersTable(client, table)
        self.policy = policy or BreakerPolicy()

    def load(self, name: str) -> BreakerState:
        """The provider's breaker; closed when it has never failed."""
        return self._read(name)[0]

    def load_many(self, names: Iterable[str]) -> dict[str, BreakerState]:
        """Every named provider's breaker, in one request."""
        names = list(names)
        items = self._table.get_many(names, BREAKER_SORT)
        return {name: _breaker(items.get(name)) for name in names}

    def record(
        self,
        name: str,
        *,
        ok: bool,
        now: float,
        retry_after_s: float | None = None,
        probe_started_at: float | None = None,
    ) -> BreakerState:
        """Apply a call's outcome; the breaker as it now stands.

        ``ok``: the provider answered, which includes refusals that are not its fault
        (``not counts_against_provider(code)``). ``retry_after_s``: a 429's Retry-After.
        ``probe_started_at``: for the probe, the ``now`` its ``try_probe`` was given.
        """
        for _ in range(MAX_ATTEMPTS):
            state, version = self._read(name)
            if ok:
                changed = on_success(state, now, self.policy, probe_started_at=probe_started_at)
            else:
                changed = on_failure(
                    state,
                    now,
                    self.policy,
                    retry_after_s=retry_after_s,
                    probe_started_at=probe_started_at,
                )
            if changed == state or self._write(name, changed, version):
                return changed
        # Every attempt lost a race: the other instances' outcomes are stored, this one is not.
        logger.warning("breaker outcome lost to contention", extra={"provider": name, "ok": ok})
        return self.load(name)

    def try_probe(self, name: str, now: float) -> bool:
        """Take the half-open probe lease; True for exactly one caller per cool-down. The
        winner passes ``probe_started_at=now`` to ``record`` with the probe's outcome."""
        for _ in range(MAX_ATTEMPTS):
            state, version = self._read(name)
            probing = start_probe(state, now, self.policy)
            if probing is None:
                return False
            if self._write(name, probing, version):
                return True
        return False

    def _read(self, name: str) -> tuple[BreakerState, int]:
        item = self._table.get(name, BREAKER_SORT)
        return _breaker(item), int(item["version"]) if item else 0

    def _write(self, name: str, state: BreakerState, version: int) -> bool:
        """Store ``state`` if the breaker is still at ``version``."""
        item = to_item(
            {
                "pk": f"provider#{name}",
                "sk": BREAKER_SORT,
                **state.to_dict(),
                "version": version + 1,
            }
        )
        if version == 0:
            lost = self._table.write_if("put_item", "attribute_not_exists(pk)", Item=item)
        else:
            lost = self._table.write_if(
                "put_item",
                "version = :version",
                Item=item,
                ExpressionAttributeValues={":version": to_value(version)},
            )
        return lost is None


def _breaker(item: Mapping[str, Any] | None) -> BreakerState:
    if not item:
        return CLOSED
    return BreakerState.from_dict({k: v for k, v in item.items() if k not in ("pk", "sk")})


# ---------------------------------------------------------------- rate limits


class DynamoRateLimiter:
    """One token bucket per provider, shared by all instances (domain/rate_limit.py)."""

    def __init__(self, client: Any, table: str) -> None:
        self._table = _ProvidersTable(client, table)

    def try_acquire(
        self, name: str, bucket: TokenBucket, *, now: float, tokens: float = 1
    ) -> float:
        """Take ``tokens`` from the provider's bucket: 0 when taken, else the seconds to wait."""
        cost = bucket.seconds_for(tokens)
        key = provider_key(name, BUCKET_SORT)
        # Unknown until a write fails and returns it; a guess that the bucket is full is right
        # whenever the provider has been idle, and costs one extra request otherwise.
        full_at: float | None = None
        for _ in range(MAX_ATTEMPTS):
            if full_at is None or full_at < now:
                # Full (or new): its debt starts now.
                stood = self._table.write_if(
                    "update_item",
                    "attribute_not_exists(full_at) OR full_at < :now",
                    Key=key,
                    UpdateExpression="SET full_at = :refilled",
                    ExpressionAttributeValues={
                        ":now": to_value(now),
                        ":refilled": to_value(now + cost),
                    },
                )
            else:
                outcome = take(bucket, BucketState(full_at), now, tokens)
                if not outcome.acquired:
                    return outcome.wait_s
                # Partly used: add to its debt, unless others took what was left meanwhile.
                stood = self._table.write_if(
                    "update_item",
                    "full_at BETWEEN :now AND :latest",
                    Key=key,
                    UpdateExpression="SET full_at = full_at + :cost",
                    ExpressionAttributeValues={
                        ":now": to_value(now),
                        ":latest": to_value(bucket.latest_full_at(now, tokens)),
                        ":cost": to_value(cost),
                    },
                )
            if stood is None:
                return 0.0
            full_at = float(stood["full_at"]) if "full_at" in stood else None
        # Every attempt lost a race: others are taking tokens as fast as they come.
        return cost

    def state(self, name: str) -> BucketState | None:
        """The provider's bucket; None when it was never used (it is full)."""
        item = self._table.get(name, BUCKET_SORT)
        return BucketState(float(item["full_at"])) if item and "full_at" in item else None


# ---------------------------------------------------------------- latency


@dataclass(frozen=True)
class LatencyRetention:
    # The window summaries read (DEFAULT_WINDOW_S) fits well inside it.
    keep_s: int = 3600
    # Samples kept per provider and minute; more calls than that in a minute are not
    # recorded: the minute already says what it has to.
    max_samples_per_minute: int = 500


class DynamoLatencyStore:
    """Outcomes and durations of real calls, per provider and minute (domain/latency.py)."""

    def __init__(self, client: Any, table: str, retention: LatencyRetention | None = None) -> None:
        self._table = _ProvidersTable(client, table)
        self._retention = retention or LatencyRetention()

    def record(self, name: str, *, seconds: float, ok: bool, steps: int, now: float) -> None:
        """Add one call that ended at ``now`` (one UpdateItem)."""
        minute = int(now // 60)
        sample = {"at": now, "s": seconds, "ok": ok, "n": steps}
        self._table.write_if(
            "update_item",
            "attribute_not_exists(samples) OR size(samples) < :cap",
            return_old=False,
            Key=provider_key(name, _latency_sort(minute)),
            UpdateExpression="SET samples = list_append(if_not_exists(samples, :none), :new), "
            "expires_at = :expires",
            ExpressionAttributeValues={
                ":none": to_value([]),
                ":new": to_value([sample]),
                ":cap": to_value(self._retention.max_samples_per_minute),
                ":expires": to_value(minute * 60 + self._retention.keep_s),
            },
        )

    def samples(
        self, name: str, *, now: float, window_s: float = DEFAULT_WINDOW_S
    ) -> list[LatencySample]:
        """The calls that ended in the ``window_s`` before ``now`` (one Query)."""
        first, last = int((now - window_s) // 60), int(now // 60)
        query: dict[str, Any] = {
            "TableName": self._table.name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"provider#{name}"},
                ":first": {"S": _latency_sort(first)},
                ":last": {"S": _latency_sort(last)},
            },
        }
        samples: list[LatencySample] = []
        while True:
            response = self._table.call("query", **query)
            for item in response.get("Items", []):
                for raw in from_item(item).get("samples", []):
                    sample = LatencySample(
                        at=float(raw["at"]),
                        seconds=float(raw["s"]),
                        ok=bool(raw["ok"]),
                        steps=int(raw["n"]),
                    )
                    if now - window_s <= sample.at <= now:
                        samples.append(sample)
            if "LastEvaluatedKey" not in response:
                return samples
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def summary(
        self, name: str, *, now: float, window_s: float = DEFAULT_WINDOW_S
    ) -> LatencySummary:
        return summarise(self.samples(name, now=now, window_s=window_s), now=now, window_s=window_s)


def _latency_sort(minute: int) -> str:
    # Zero-padded so that the string order of sort keys is the order of minutes.
    return f"{LATENCY_SORT_PREFIX}{minute:012d}"


# ---------------------------------------------------------------- configuration


class DynamoProviderConfigStore:
    """Admins' overrides of the provider profiles (domain/provider_profile.py)."""

    def __init__(
        self,
        client: Any,
        table: str,
        defaults: Mapping[str, ProviderProfile] = DEFAULT_PROFILES,
    ) -> None:
        self._table = _ProvidersTable(client, table)
        self._defaults = defaults

    def overrides(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored override of each named provider that has one (one BatchGetItem)."""
        items = self._table.get_many(names, CONFIG_SORT)
        return {name: json.loads(item["override"]) for name, item in items.items()}

    def put(self, name: str, override: Mapping[str, Any]) -> None:
        """Replace the provider's override, once it is known to apply to its defaults."""
        if name not in self._defaults:
            known = ", ".join(self._defaults)
            raise UnknownProviderError(f"There is no provider called {name!r}. Known: {known}.")
        try:
            apply_override(self._defaults[name], override)
        except ValueError as exc:
            raise InvalidParamsError(f"That override for {name} is not valid: {exc}") from None
        self._table.call(
            "put_item",
            TableName=self._table.name,
            # As JSON text: a map attribute would drop a null (e.g. "retires_on": null, which
            # clears a default date) and turn floats into Decimals.
            Item=to_item(
                {"pk": f"provider#{name}", "sk": CONFIG_SORT, "override": json.dumps(override)}
            ),
        )

    def clear(self, name: str) -> None:
        """Drop the provider's override: its defaults apply again."""
        self._table.call(
            "delete_item", TableName=self._table.name, Key=provider_key(name, CONFIG_SORT)
        )
