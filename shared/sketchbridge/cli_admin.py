"""``sketchbridge admin ...``: the admin API (``/admin/*``) from the command line.

    sketchbridge admin providers                         every provider's settings
    sketchbridge admin providers replicate --disable     switch one off (--enable: back on)
    sketchbridge admin providers openai --weight 2 --rate-limit 5/0.1 --reset price
    sketchbridge admin usage --from 2026-12-01 --to 2026-12-31 --group-by user
    sketchbridge admin budgets set user:SUB --period day --soft 1 --hard 2
    sketchbridge admin quotas set SUB --rpm 30 --in-flight 4
    sketchbridge admin health

Every request is signed with SigV4 (service ``execute-api``), as API Gateway's AWS_IAM
authorizer wants: with the local stack's dummy admin key from ``.local/stack.json``
(``admin_credentials``) when talking to the local stack, else with the credentials of the
standard AWS chain (environment, profile, SSO, instance role). A user's token is never sent.
Answers are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, urlencode

from sketchbridge.cli import (
    API_URL_ENV,
    EXIT_OK,
    HTTP_TIMEOUT_SECONDS,
    ApiError,
    UsageError,
    error_from_response,
    find_stack_file,
    read_stack_file,
)

if TYPE_CHECKING:
    import httpx

SERVICE = "execute-api"
# The providers GET /admin/providers/{name} knows (domain/provider_profile.py), for
# `admin providers` with no name.
PROVIDER_NAMES = ("local", "replicate", "openai", "bedrock")
RESETTABLE = ("enabled", "weight", "model", "price", "rate_limit")


@dataclass(frozen=True)
class AdminEndpoint:
    api_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None


def resolve_admin_endpoint(
    *,
    api: str | None,
    region: str | None,
    stack_file: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> AdminEndpoint:
    """Where to send admin requests and what to sign them with.

    The local stack (no --api, or --api naming it): its dummy admin key. A deployed API:
    the standard AWS credential chain and region.
    """
    api = api or environ.get(API_URL_ENV)
    path = find_stack_file(stack_file, environ=environ, cwd=cwd)
    stack = read_stack_file(path) if path is not None else None
    if stack is not None and (not api or api.rstrip("/") == stack["api_url"].rstrip("/")):
        local = stack.get("admin_credentials")
        if not isinstance(local, dict) or not all(
            isinstance(local.get(key), str)
            for key in ("access_key_id", "secret_access_key", "region")
        ):
            raise UsageError(
                f"The stack file {path} lists no admin_credentials.",
                suggestions=["Restart the local stack (`make run`) so that it writes them."],
            )
        return AdminEndpoint(
            api_url=stack["api_url"],
            access_key_id=local["access_key_id"],
            secret_access_key=local["secret_access_key"],
            region=region or local["region"],
        )
    if not api:
        raise UsageError(
            "No API to talk to: no --api given and no local stack found (.local/stack.json).",
            suggestions=[
                "Start the local stack with `make run`, or pass --api URL of a deployed API."
            ],
        )
    return _from_aws_chain(api, region)


def _from_aws_chain(api: str, region: str | None) -> AdminEndpoint:
    import botocore.session

    session = botocore.session.Session()
    credentials = session.get_credentials()
    region = region or session.get_config_variable("region")
    if credentials is None:
        raise UsageError(
            "No AWS credentials found to sign the admin request with.",
            suggestions=["Configure them as for the AWS CLI (aws configure, AWS_PROFILE, SSO)."],
        )
    if not region:
        raise UsageError(
            "No AWS region to sign for.", suggestions=["Pass --region or set AWS_REGION."]
        )
    frozen = credentials.get_frozen_credentials()
    return AdminEndpoint(
        api_url=api,
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        region=region,
    )


def signed_headers(
    endpoint: AdminEndpoint, method: str, url: str, body: bytes, headers: Mapping[str, str]
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (Authorization, X-Amz-Date, ...) for this request."""
    from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from sketchbridge.domain import clock

    class _ClockedSigV4Auth(SigV4Auth):  # type: ignore[misc]
        """botocore's SigV4, dated by Sketchbridge's one clock."""

        def add_auth(self, request: AWSRequest) -> None:
            request.context["timestamp"] = clock.utc_now().strftime(SIGV4_TIMESTAMP)
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            signature = self.signature(self.string_to_sign(request, canonical), request)
            self._inject_signature_to_request(request, signature)

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    credentials = Credentials(
        endpoint.access_key_id, endpoint.secret_access_key, endpoint.session_token
    )
    _ClockedSigV4Auth(credentials, SERVICE, endpoint.region).add_auth(request)
    return dict(request.headers.items())


class AdminClient:
    """Signed calls to /admin/*; ``http`` lets a test hand in an ``httpx.Client``."""

    def __init__(self, endpoint: AdminEndpoint, *, http: httpx.Client | None = None) -> None:
        import httpx

        self.endpoint = endpoint
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
    ) -> Any:
        import httpx

        url = self.endpoint.api_url.rstrip("/") + path
        present = {key: value for key, value in (query or {}).items() if value is not None}
        if present:
            url += "?" + urlencode(sorted(present.items()), quote_via=quote, safe="-_.~")
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers = signed_headers(self.endpoint, method, url, data, headers)
        try:
            response = self._http.request(method, url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Could not reach the API at {self.endpoint.api_url}: {exc}",
                code="unreachable",
                suggestions=["For the local stack, start it with `make run`."],
                retryable=True,
            ) from exc
        if response.status_code == 204:
            return {}
        if not response.is_success:
            error = error_from_response(response.status_code, response.content)
            if response.status_code == 403:
                error.suggestions = (
                    "The signature was refused: check the AWS credentials and region, and "
                    "that this principal may call execute-api:Invoke on the admin routes.",
                )
            raise error
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"The API answered {method} {path} with something that is not JSON.",
                code="bad_response",
            ) from exc


# ---------------------------------------------------------------- the commands


def _rate_limit(text: str) -> dict[str, float]:
    """``CAPACITY/REFILL_PER_S``, e.g. ``10/1``: bursts of 10, then one call a second."""
    capacity, _, refill = text.partition("/")
    try:
        return {"capacity": float(capacity), "refill_per_s": float(refill)}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected CAPACITY/REFILL_PER_S such as 10/1, not {text!r}"
        ) from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not JSON: {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object such as {"kind": ...}')
    return value


def provider_change(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body the options ask for; empty when they ask for no change."""
    change: dict[str, Any] = {}
    if args.enable or args.disable:
        change["enabled"] = bool(args.enable)
    for option in ("weight", "model", "rate_limit"):
        if getattr(args, option) is not None:
            change[option] = getattr(args, option)
    if args.price_json is not None:
        change["price"] = args.price_json
    for setting in args.reset or []:
        change[setting] = None
    return change


def run_admin(
    args: argparse.Namespace,
    *,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
    cwd: Path,
) -> int:
    endpoint = resolve_admin_endpoint(
        api=args.api, region=args.region, stack_file=args.stack_file, environ=environ, cwd=cwd
    )
    with AdminClient(endpoint) as client:
        answer = _admin_call(args, client)
    stdout.write(json.dumps(answer, indent=None if args.json else 2) + "\n")
    return EXIT_OK


def _admin_call(args: argparse.Namespace, client: AdminClient) -> Any:
    match args.admin_command:
        case "providers":
            if args.name is None:
                if provider_change(args):
                    raise UsageError("Name the provider to change: admin providers NAME ...")
                return [client.call("GET", f"/admin/providers/{name}") for name in PROVIDER_NAMES]
            path = f"/admin/providers/{quote(args.name, safe='')}"
            change = provider_change(args)
            return client.call("PUT", path, body=change) if change else client.call("GET", path)
        case "usage":
            return client.call(
                "GET",
                "/admin/usage",
                query={"from": args.start, "to": args.end, "group_by": args.group_by},
            )
        case "budgets":
            path = f"/admin/budgets/{quote(args.scope, safe=':')}"
            if args.action == "get":
                return client.call("GET", path)
            if args.action == "delete":
                return client.call("DELETE", path, query={"period": args.period})
            if args.period is None or args.hard is None:
                raise UsageError("budgets set needs --period and --hard (and --soft if any).")
            body = {"period": args.period, "soft_usd": args.soft, "hard_usd": args.hard}
            return client.call("PUT", path, body=body)
        case "quotas":
            path = f"/admin/quotas/{quote(args.sub, safe='')}"
            if args.action == "get":
                return client.call("GET", path)
            if args.action == "reset":
                return client.call("DELETE", path)
            body = {"requests_per_minute": args.rpm, "jobs_in_flight": args.in_flight}
            return client.call("PUT", path, body=body)
        case _:
            return client.call("GET", "/admin/health")


def add_admin_parser(commands: Any, connection: argparse.ArgumentParser) -> None:
    """``sketchbridge admin ...``, added to the main parser's subcommands."""
    signing = argparse.ArgumentParser(add_help=False, parents=[connection])
    signing.add_argument(
        "--region", metavar="REGION", help="the region to sign for (default: the AWS chain's)"
    )
    admin = commands.add_parser(
        "admin",
        help="the admin API: providers, usage, budgets, quotas, health (SigV4-signed)",
        description="Read and change the deployment's providers, budgets and quotas, see "
        "usage for everyone and health. Requests are signed with SigV4: the local stack's "
        "admin key, or the standard AWS credential chain for a deployed API.",
    )
    admin.set_defaults(handler=run_admin)
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="WHAT")

    providers = actions.add_parser(
        "providers", parents=[signing], help="show or change how providers are used"
    )
    providers.add_argument("name", nargs="?", metavar="NAME", help="one provider (default: all)")
    switch = providers.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true", help="let jobs use it")
    switch.add_argument("--disable", action="store_true", help="keep jobs off it")
    providers.add_argument("--weight", type=float, metavar="W", help="share among near-equals")
    providers.add_argument("--model", metavar="M", help="the model to call instead")
    providers.add_argument("--price-json", type=_json_object, metavar="J", help="a price model")
    providers.add_argument(
        "--rate-limit", type=_rate_limit, metavar="C/R", help="burst C, then R calls a second"
    )
    providers.add_argument(
        "--reset", action="append", choices=RESETTABLE, help="put a setting back to its default"
    )

    usage = actions.add_parser("usage", parents=[signing], help="spend and images, for everyone")
    usage.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day (UTC)")
    usage.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day (UTC)")
    usage.add_argument("--group-by", choices=["user", "provider", "day", "month"])

    budgets = actions.add_parser("budgets", parents=[signing], help="spending limits")
    budgets.add_argument("action", choices=["get", "set", "delete"])
    budgets.add_argument("scope", metavar="SCOPE", help="app, or user:SUB")
    budgets.add_argument("--period", choices=["day", "month"])
    budgets.add_argument("--soft", type=float, metavar="USD", help="warn above this")
    budgets.add_argument("--hard", type=float, metavar="USD", help="refuse above this")

    quotas = actions.add_parser("quotas", parents=[signing], help="a user's request quotas")
    quotas.add_argument("action", choices=["get", "set", "reset"])
    quotas.add_argument("sub", metavar="SUB", help="the user's id (their token's sub)")
    quotas.add_argument("--rpm", type=int, metavar="N", help="requests per minute")
    quotas.add_argument("--in-flight", type=int, metavar="N", help="jobs queued or running")

    actions.add_parser("health", parents=[signing], help="providers, breakers and queues")
