"""``sketchbridge admin ...``: the admin API (``/admin/*``) from the command line.

    sketchbridge admin providers                         every provider's settings
    sketchbridge admin providers replicate --disable     switch one off (--enable: back on)
    sketchbridge admin providers openai --weight 2 --rate-limit 5/0.1 --reset price
    sketchbridge admin usage --from 2026-12-01 --to 2026-12-31 --group-by user
    sketchbridge admin budgets set user:SUB --period day --soft 1 --hard 2
    sketchbridge admin quotas set SUB --rpm 30 --in-flight 4
    sketchbridge admin health

Every request is signed with SigV4 (``admin_client.py``); answers are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from sketchbridge.cli.admin_client import AdminClient, resolve_admin_endpoint
from sketchbridge.cli.errors import UsageError
from sketchbridge.cli.options import Context

# The providers GET /admin/providers/{name} knows (domain/provider_profile.py), for
# `admin providers` with no name.
PROVIDER_NAMES = ("local", "replicate", "openai", "bedrock")
RESETTABLE = ("enabled", "weight", "model", "price", "rate_limit")


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


def run_admin(args: argparse.Namespace, context: Context) -> int:
    endpoint = resolve_admin_endpoint(
        api=args.api,
        region=args.region,
        stack_file=args.stack_file,
        environ=context.environ,
        cwd=context.cwd,
    )
    with AdminClient(endpoint) as client:
        answer = _admin_call(args, client)
    context.stdout.write(json.dumps(answer, indent=None if args.json else 2) + "\n")
    return 0


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


def add_parser(commands: Any, where: argparse.ArgumentParser) -> None:
    """``sketchbridge admin ...``, added to the main parser's subcommands."""
    signing = argparse.ArgumentParser(add_help=False, parents=[where])
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
