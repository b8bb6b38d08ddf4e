"""The admin handler (functions/admin) fed canonical IAM-authorised events, against moto.

API Gateway verifies the SigV4 signature before AdminFunction runs (the local gateway's
verifier has its own tests); these check what an admin sees and that a change reaches the
very next request of another function, without a deploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.handlers import FakeLambdaContext, load_function

if TYPE_CHECKING:
    from tests.integration.conftest import EmulatedAws

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

EVENTS = Path(__file__).resolve().parents[2] / "events"


def canonical(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def put_provider_event(name: str, body: Any) -> dict[str, Any]:
    event = canonical("http_admin_put_provider")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/admin/providers/{name}"
    event["pathParameters"] = {"name": name}
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def get_provider_event(name: str) -> dict[str, Any]:
    event = put_provider_event(name, "")
    event.pop("body")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /admin/providers/{name}"
    event["requestContext"]["http"]["method"] = "GET"
    return event


def call(function: str, event: dict[str, Any]) -> tuple[int, Any]:
    response = load_function(function).lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(autouse=True)
def _defaults_again(aws: EmulatedAws) -> Any:
    """Each test starts from the code's defaults: the overrides it stored are dropped."""
    yield
    call(
        "admin", put_provider_event("local", {"enabled": None, "weight": None, "rate_limit": None})
    )


def test_an_admin_change_is_stored_and_shown_with_what_it_overrides(aws: EmulatedAws) -> None:
    status, body = call("admin", canonical("http_admin_put_provider"))

    assert status == 200
    assert body["override"] == {"weight": 2.5, "rate_limit": {"capacity": 20, "refill_per_s": 2}}
    assert body["settings"]["weight"] == 2.5
    assert body["settings"]["enabled"] is True
    status, again = call("admin", get_provider_event("local"))
    assert (status, again["override"]) == (200, body["override"])


def test_disabling_a_provider_applies_to_the_next_providers_request(aws: EmulatedAws) -> None:
    before = call("query", canonical("http_get_providers"))[1]
    assert [p["status"] for p in before["providers"] if p["name"] == "local"] == ["healthy"]

    status, _ = call("admin", put_provider_event("local", {"enabled": False}))

    assert status == 200
    after = call("query", canonical("http_get_providers"))[1]
    [local] = [p for p in after["providers"] if p["name"] == "local"]
    assert (local["status"], local["reason"]) == ("down", "disabled by an admin")


def test_null_puts_a_setting_back_to_its_default_and_keeps_the_others(aws: EmulatedAws) -> None:
    call("admin", put_provider_event("local", {"enabled": False, "weight": 3}))

    status, body = call("admin", put_provider_event("local", {"enabled": None}))

    assert status == 200
    assert body["override"] == {"weight": 3}
    assert body["settings"]["enabled"] is True


def test_a_provider_not_deployed_here_can_still_be_configured(aws: EmulatedAws) -> None:
    status, body = call("admin", put_provider_event("replicate", {"weight": 0}))

    assert status == 200
    assert (body["deployed"], body["status"], body["override"]) == (False, None, {"weight": 0})
    call("admin", put_provider_event("replicate", {"weight": None}))


def test_an_unknown_provider_is_404(aws: EmulatedAws) -> None:
    assert call("admin", get_provider_event("midjourney"))[0] == 404
    assert call("admin", put_provider_event("midjourney", {"enabled": False}))[0] == 404


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"enabled": "yes"}',
        '{"weight": -1}',
        '{"weight": NaN}',
        '{"colour": "red"}',
        '{"rate_limit": {"capacity": 0, "refill_per_s": 1}}',
        '{"rate_limit": {"capacity": 5}}',
        '{"price": {"kind": "per_coin"}}',
        '{"price": {"kind": "per_second", "usd_per_s": -0.1, "typical_s": 5}}',
        '{"price": {"kind": "per_image", "prices": "cheap"}}',
        '{"price": "free"}',
        # Hundreds of digits: more than a float holds.
        '{"price": {"kind": "per_second", "usd_per_s": 1%s, "typical_s": 1}}' % ("0" * 400),
        '{"weight": 1%s}' % ("0" * 400),
        '{"model": ""}',
        '{"model": "the local renderer runs no model"}',
        '{"model": "any-model"}',
        "[" * 5000,
    ],
)
def test_a_bad_change_is_400_and_changes_nothing(aws: EmulatedAws, body: str) -> None:
    status, answer = call("admin", put_provider_event("local", body))

    assert status == 400, answer
    assert call("admin", get_provider_event("local"))[1]["override"] == {}


def test_health_names_each_provider_its_breaker_and_each_queue(aws: EmulatedAws) -> None:
    status, body = call("admin", canonical("http_admin_get_health"))

    assert status == 200
    [local] = body["providers"]
    assert (local["name"], local["status"], local["enabled"]) == ("local", "healthy", True)
    assert local["breaker"]["status"] == "closed"
    assert {queue["name"] for queue in body["queues"]} == {"interactive", "batch"}
    assert all(queue["visible"] == 0 and queue["error"] is None for queue in body["queues"])


def test_a_request_without_an_iam_principal_is_403(aws: EmulatedAws) -> None:
    event = canonical("http_admin_get_health")
    # As if the route were misconfigured with the users' JWT authorizer.
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "user-1"}, "scopes": None}}

    status, body = call("admin", event)

    assert (status, body["error"]["code"]) == (403, "forbidden")


def usage_event(query: dict[str, str]) -> dict[str, Any]:
    event = canonical("http_admin_get_health")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /admin/usage"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin/usage"
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    event["queryStringParameters"] = query or None
    return event


def test_everyones_usage_is_reported_by_user_by_default(aws: EmulatedAws) -> None:
    status, body = call("admin", usage_event({"from": "2026-12-01", "to": "2026-12-03"}))

    assert status == 200
    assert (body["from"], body["to"], body["group_by"]) == ("2026-12-01", "2026-12-03", "user")
    assert body["total_cost_usd"] == sum(group["cost_usd"] for group in body["groups"])


@pytest.mark.parametrize(
    "query",
    [
        {"group_by": "colour"},
        {"from": "yesterday"},
        {"from": "2026-02-30"},
        {"from": "2026-12-03", "to": "2026-12-01"},
        {"from": "2020-01-01", "to": "2026-12-01"},
        {"user": "someone"},
    ],
)
def test_a_bad_usage_query_is_400(aws: EmulatedAws, query: dict[str, str]) -> None:
    assert call("admin", usage_event(query))[0] == 400


def admin_event(
    method: str, route: str, path: str, *, body: Any = None, query: str = ""
) -> dict[str, Any]:
    """An IAM-authorised admin event for ``method route``, at ``path``."""
    event = canonical("http_admin_get_health")
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    name = route.rsplit("{", 1)[1].rstrip("}")
    event["pathParameters"] = {name: path.rsplit("/", 1)[1]}
    if body is not None:
        event["headers"]["content-type"] = "application/json"
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def budgets(method: str, scope: str, **kwargs: Any) -> tuple[int, Any]:
    return call(
        "admin", admin_event(method, "/admin/budgets/{scope}", f"/admin/budgets/{scope}", **kwargs)
    )


def quotas(method: str, sub: str, **kwargs: Any) -> tuple[int, Any]:
    return call(
        "admin", admin_event(method, "/admin/quotas/{sub}", f"/admin/quotas/{sub}", **kwargs)
    )


def test_a_users_daily_budget_is_set_shown_and_removed(aws: EmulatedAws) -> None:
    status, body = budgets("PUT", "user:ada", body={"period": "day", "soft_usd": 1, "hard_usd": 2})

    assert status == 200
    day = {b["period"]: b for b in body["budgets"]}["day"]
    assert (day["soft_usd"], day["hard_usd"], day["source"]) == (1, 2, "admin")
    assert day["spent_usd"] == 0 and day["resets_at"]
    assert budgets("GET", "user:ada")[1] == body

    status, after = budgets("DELETE", "user:ada", query="period=day")

    assert status == 200
    assert {b["period"]: b for b in after["budgets"]}["day"]["source"] == "default"


@pytest.mark.parametrize(
    ("scope", "body", "query"),
    [
        ("everyone", {"period": "day", "hard_usd": 1}, ""),
        ("user:", {"period": "day", "hard_usd": 1}, ""),
        ("app", {"period": "week", "hard_usd": 1}, ""),
        ("app", {"period": "day", "hard_usd": -1}, ""),
        ("app", {"period": "day", "soft_usd": 5, "hard_usd": 1}, ""),
        ("app", "{", ""),
        ("app", None, "period=year"),
    ],
)
def test_a_bad_budget_change_is_400(aws: EmulatedAws, scope: str, body: Any, query: str) -> None:
    method = "DELETE" if body is None else "PUT"

    status, answer = budgets(method, scope, body=body, query=query)

    assert status == 400, answer


def test_a_users_quota_is_set_shown_and_reset(aws: EmulatedAws) -> None:
    status, body = quotas("PUT", "ada", body={"requests_per_minute": 30, "jobs_in_flight": 2})

    assert status == 200
    assert (body["requests_per_minute"], body["jobs_in_flight"], body["source"]) == (30, 2, "admin")
    assert quotas("GET", "ada")[1] == body

    status, after = quotas("DELETE", "ada")

    assert (status, after["source"]) == (200, "default")


@pytest.mark.parametrize(
    "body", ['{"requests_per_minute": -1}', '{"jobs_in_flight": "many"}', '{"rpm": 3}', "[]"]
)
def test_a_bad_quota_change_is_400(aws: EmulatedAws, body: str) -> None:
    assert quotas("PUT", "ada", body=body)[0] == 400
