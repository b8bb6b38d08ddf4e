"""WebSocket tickets: what opens a connection without a token in the URL, once, within 60 s."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from sketchbridge.domain.errors import UnauthorizedError
from sketchbridge.services import subscriptions
from sketchbridge.services.ports import Dependencies
from tests.support.fakes import FakeClock, FakeTokenVerifier, fake_dependencies
from tests.support.handlers import FakeLambdaContext, http_event, load_function


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies()


def _connect(ticket: str | None, deps: Dependencies, connection_id: str = "c1") -> str:
    return subscriptions.connect(
        connection_id, None, ticket=ticket, verifier=FakeTokenVerifier(), deps=deps
    )


def test_a_ticket_opens_one_connection_for_its_user(deps: Dependencies) -> None:
    issued = subscriptions.issue_ticket("ada", deps=deps)
    assert issued.expires_in == 60
    assert _connect(issued.ticket, deps) == "ada"
    assert deps.connections.connection_user("c1") == "ada"


def test_a_ticket_used_twice_is_refused_the_second_time(deps: Dependencies) -> None:
    issued = subscriptions.issue_ticket("ada", deps=deps)
    _connect(issued.ticket, deps)
    with pytest.raises(UnauthorizedError, match="used or expired"):
        _connect(issued.ticket, deps, connection_id="c2")
    assert deps.connections.connection_user("c2") is None


def test_a_ticket_older_than_60_seconds_is_refused(deps: Dependencies) -> None:
    issued = subscriptions.issue_ticket("ada", deps=deps)
    assert isinstance(deps.clock, FakeClock)
    deps.clock.advance(61)
    with pytest.raises(UnauthorizedError):
        _connect(issued.ticket, deps)


@pytest.mark.parametrize("ticket", ["made-up", "x" * 5000, "\udcff"])
def test_an_unknown_ticket_is_refused(ticket: str, deps: Dependencies) -> None:
    with pytest.raises(UnauthorizedError):
        _connect(ticket, deps)


def test_the_store_never_holds_the_ticket_itself(deps: Dependencies) -> None:
    issued = subscriptions.issue_ticket("ada", deps=deps)
    stored = deps.tickets.tickets  # type: ignore[attr-defined]
    assert issued.ticket not in stored and all(issued.ticket not in key for key in stored)


def test_the_query_string_token_still_connects_during_its_deprecation(deps: Dependencies) -> None:
    assert subscriptions.connect("c", "valid:ada", verifier=FakeTokenVerifier(), deps=deps) == "ada"


def _websocket(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("websocket")
    monkeypatch.setattr(module, "dependencies", lambda: deps)
    monkeypatch.setattr(module, "token_verifier", FakeTokenVerifier)
    return module


def _connect_event(query: dict[str, str]) -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": "$connect",
            "connectionId": "conn-1",
            "eventType": "CONNECT",
        },
        "queryStringParameters": query,
        "isBase64Encoded": False,
    }


def test_post_ws_tickets_issues_a_ticket_that_connect_takes(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _websocket(deps, monkeypatch)
    response = handler.lambda_handler(
        http_event("POST", "/ws-tickets", user="ada"), FakeLambdaContext()
    )
    assert response["statusCode"] == 201
    ticket = json.loads(response["body"])["ticket"]

    accepted = handler.lambda_handler(_connect_event({"ticket": ticket}), FakeLambdaContext())
    replayed = handler.lambda_handler(_connect_event({"ticket": ticket}), FakeLambdaContext())
    assert accepted["statusCode"] == 200
    assert replayed["statusCode"] == 401


def test_post_ws_tickets_without_an_identity_is_401(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _websocket(deps, monkeypatch)
    response = handler.lambda_handler(
        http_event("POST", "/ws-tickets", user=None), FakeLambdaContext()
    )
    assert response["statusCode"] == 401


def test_connect_with_neither_ticket_nor_token_is_refused_and_names_tickets(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _websocket(deps, monkeypatch)
    response = handler.lambda_handler(_connect_event({}), FakeLambdaContext())
    assert response["statusCode"] == 401 and "/ws-tickets" in response["body"]
