"""The admin API under /admin/: providers, usage, budgets, quotas, health (AWS_IAM only).

API Gateway verifies the caller's SigV4 signature before the event gets here; every change is
logged with the caller's IAM ARN, the route and the body, as the audit trail.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sketchbridge.api.http import admin_caller, create_resolver, json_response, parse_body
from sketchbridge.bootstrap import dependencies
from sketchbridge.domain.budgets import parse_period
from sketchbridge.domain.models import BudgetRequest, ProviderSettingsRequest, QuotaRequest
from sketchbridge.services.admin_health import admin_health
from sketchbridge.services.admin_usage import everyone_usage
from sketchbridge.services.budgets import delete_budget, get_budgets, put_budget
from sketchbridge.services.provider_settings import (
    change_provider_settings,
    get_provider_settings,
)
from sketchbridge.services.quotas import delete_quota, get_quota, put_quota

logger = Logger()
app = create_resolver()


@app.get("/admin/providers/<name>")
def get_provider(name: str) -> Any:
    admin_caller(app)
    return json_response(get_provider_settings(dependencies(), name))


@app.put("/admin/providers/<name>")
def put_provider(name: str) -> Any:
    caller = admin_caller(app)
    request = parse_body(app, ProviderSettingsRequest)
    response = change_provider_settings(dependencies(), name, request)
    _audit(caller, change=request.model_dump(mode="json", exclude_unset=True))
    return json_response(response)


@app.get("/admin/usage")
def get_usage() -> Any:
    admin_caller(app)
    return json_response(everyone_usage(dependencies(), app.current_event.query_string_parameters))


@app.get("/admin/budgets/<scope>")
def get_budget(scope: str) -> Any:
    admin_caller(app)
    return json_response(get_budgets(dependencies(), scope))


@app.put("/admin/budgets/<scope>")
def put_budget_limits(scope: str) -> Any:
    caller = admin_caller(app)
    request = parse_body(app, BudgetRequest)
    response = put_budget(dependencies(), scope, request)
    _audit(caller, scope=scope, change=request.model_dump(mode="json"))
    return json_response(response)


@app.delete("/admin/budgets/<scope>")
def delete_budget_limits(scope: str) -> Any:
    """``?period=day|month`` removes that period's override; no period: both."""
    caller = admin_caller(app)
    raw = app.current_event.get_query_string_value("period")
    period = cast(Literal["day", "month"], parse_period(raw)) if raw is not None else None
    deps = dependencies()
    delete_budget(deps, scope, period)
    _audit(caller, scope=scope, change={"deleted": period or "day and month"})
    return json_response(get_budgets(deps, scope))


@app.get("/admin/quotas/<sub>")
def get_user_quota(sub: str) -> Any:
    admin_caller(app)
    return json_response(get_quota(dependencies(), sub))


@app.put("/admin/quotas/<sub>")
def put_user_quota(sub: str) -> Any:
    caller = admin_caller(app)
    request = parse_body(app, QuotaRequest)
    response = put_quota(dependencies(), sub, request)
    _audit(caller, sub=sub, change=request.model_dump(mode="json"))
    return json_response(response)


@app.delete("/admin/quotas/<sub>")
def reset_user_quota(sub: str) -> Any:
    caller = admin_caller(app)
    deps = dependencies()
    delete_quota(deps, sub)
    _audit(caller, sub=sub, change={"deleted": "quota"})
    return json_response(get_quota(deps, sub))


@app.get("/admin/health")
def get_health() -> Any:
    admin_caller(app)
    return json_response(admin_health(dependencies()))


def _audit(caller: str, **details: Any) -> None:
    """One log line per change an admin made: who, what route, what."""
    logger.info(
        "admin change",
        extra={"caller": caller, "route": app.current_event.route_key, **details},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
