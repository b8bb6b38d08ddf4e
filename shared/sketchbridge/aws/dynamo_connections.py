"""WebSocket connections and their job subscriptions in one DynamoDB table.

One ``sort = "connection"`` item per connection and one ``sort = "job#<id>"``
item per subscription; only subscriptions carry ``job_id``, so the ``by_job``
index is sparse and lists exactly a job's subscribers.

A WebSocket ticket is one ``connection_id = "ticket#<sha256 of the ticket>"``,
``sort = "ticket"`` item with its user and TTL; taking it is a conditional delete, so
it opens one connection only, and not after it expired (TTL deletes lazily).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.aws.dynamo_codec import to_item
from sketchbridge.domain.errors import InternalError
from sketchbridge.services.ports import Subscriber

CONNECTION_SORT = "connection"
TICKET_SORT = "ticket"
BY_JOB_INDEX = "by_job"


class DynamoConnectionStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def add_connection(self, connection_id: str, user_id: str, *, expires_at: int) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(
                {
                    "connection_id": connection_id,
                    "sort": CONNECTION_SORT,
                    "user_id": user_id,
                    "expires_at": expires_at,
                }
            ),
        )

    def connection_user(self, connection_id: str) -> str | None:
        response = self._call(
            "get_item",
            TableName=self._table,
            Key={"connection_id": {"S": connection_id}, "sort": {"S": CONNECTION_SORT}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(item["user_id"]["S"]) if item else None

    def subscribe(
        self, connection_id: str, job_id: str, *, client_job_id: str, expires_at: int
    ) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(
                {
                    "connection_id": connection_id,
                    "sort": f"job#{client_job_id}",
                    "job_id": job_id,
                    "client_job_id": client_job_id,
                    "expires_at": expires_at,
                }
            ),
        )

    def subscribers(self, job_id: str) -> list[Subscriber]:
        found: dict[tuple[str, str], Subscriber] = {}
        paginator = self._client.get_paginator("query")
        try:
            for page in paginator.paginate(
                TableName=self._table,
                IndexName=BY_JOB_INDEX,
                KeyConditionExpression="job_id = :job",
                ExpressionAttributeValues={":job": {"S": job_id}},
            ):
                for item in page["Items"]:
                    client_job_id = item.get("client_job_id", {}).get("S", job_id)
                    subscriber = Subscriber(item["connection_id"]["S"], client_job_id)
                    found[(subscriber.connection_id, client_job_id)] = subscriber
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The connection store is unavailable.") from exc
        return list(found.values())

    def remove_connection(self, connection_id: str) -> None:
        response = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="connection_id = :id",
            ExpressionAttributeValues={":id": {"S": connection_id}},
            ProjectionExpression="connection_id, #sort",
            ExpressionAttributeNames={"#sort": "sort"},
        )
        for item in response["Items"]:
            self._call("delete_item", TableName=self._table, Key=item)

    def add_ticket(self, ticket_id: str, user_id: str, *, expires_at: int) -> None:
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(
                {
                    "connection_id": _ticket_key(ticket_id),
                    "sort": TICKET_SORT,
                    "user_id": user_id,
                    "expires_at": expires_at,
                }
            ),
        )

    def take_ticket(self, ticket_id: str, *, now: int) -> str | None:
        try:
            response = self._client.delete_item(
                TableName=self._table,
                Key={"connection_id": {"S": _ticket_key(ticket_id)}, "sort": {"S": TICKET_SORT}},
                ConditionExpression="attribute_exists(connection_id) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise InternalError("The connection store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The connection store is unavailable.") from exc
        return str(response["Attributes"]["user_id"]["S"])

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The connection store is unavailable.") from exc


def _ticket_key(ticket_id: str) -> str:
    return f"ticket#{ticket_id}"
