"""``sketchbridge providers``: who can draw, what a plain request costs and takes, and the
ranges each provider accepts.

Shown from ``GET /providers`` as the API sent it, so a field a newer API adds never breaks
the table; ``--json`` prints the answer whole.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.options import Context, endpoints_for
from sketchbridge.cli.output import emit, table

if TYPE_CHECKING:
    from sketchbridge.domain.models import ProvidersResponse


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _seconds(value: Any) -> str:
    return f"{value:.0f} s" if isinstance(value, int | float) else "-"


def describe_range(name: str, value: Any) -> str:
    """``steps 1..50 [28]``; ``seed ignored`` when the provider does not take it."""
    if not isinstance(value, Mapping):
        return f"{name} ignored"
    text = f"{name} {_number(value.get('min'))}..{_number(value.get('max'))}"
    if value.get("default") is not None:
        text += f" [{_number(value['default'])}]"
    if value.get("multiple", 1) not in (None, 1):
        text += f" x{_number(value['multiple'])}"
    return text


def _quote_columns(provider: Mapping[str, Any]) -> tuple[str, str, str, str]:
    quote = provider.get("quote")
    if not isinstance(quote, Mapping):
        return ("-", "-", "-", "-")
    steps = quote.get("steps")
    request = f"{quote.get('width')}x{quote.get('height')}, {steps} step{'' if steps == 1 else 's'}"
    cost = quote.get("cost_usd")
    price = f"${cost:.4f}" if isinstance(cost, int | float) else "-"
    return (price, _seconds(quote.get("eta_s")), _seconds(quote.get("eta_p90_s")), request)


def render_providers_table(providers: ProvidersResponse | Mapping[str, Any]) -> str:
    """The providers (the default one starred), what a plain request costs and takes at
    each right now, and the parameter ranges each accepts where the API lists them."""
    answer: Mapping[str, Any] = (
        providers if isinstance(providers, Mapping) else providers.model_dump(mode="json")
    )
    entries: list[Mapping[str, Any]] = list(answer.get("providers") or [])
    default = answer.get("default")
    rows: list[tuple[str, ...]] = [("NAME", "AI", "STATUS", "MODEL", "DESCRIPTION")]
    for provider in entries:
        star = " *" if provider.get("name") == default else ""
        rows.append(
            (
                f"{provider.get('name')}{star}",
                "yes" if provider.get("is_ai") else "no",
                str(provider.get("status", "")),
                str(provider.get("model", "")),
                str(provider.get("description", "")),
            )
        )
    lines = table(rows)

    lines += ["", "A plain request (no seed), now:"]
    quotes: list[tuple[str, ...]] = [("NAME", "PRICE", "ETA", "ETA P90", "REQUEST")]
    quotes += [(str(provider.get("name")), *_quote_columns(provider)) for provider in entries]
    lines += table(quotes)

    ranges = [
        (str(provider.get("name")), provider.get("parameters"), provider.get("ignored") or [])
        for provider in entries
    ]
    if any(isinstance(parameters, Mapping) for _, parameters, _ in ranges):
        lines += ["", "Parameter ranges [default]:"]
        width = max(len(name) for name, _, _ in ranges)
        for name, parameters, ignored in ranges:
            described = [
                describe_range(key, value)
                for key, value in (parameters or {}).items()
                if key not in ignored
            ]
            described += [f"{key} ignored" for key in ignored]
            lines.append(f"{name.ljust(width)}  {', '.join(described) or '-'}")
    if answer.get("auto"):
        lines.append(f"auto picks now: {answer['auto']} (policy {answer.get('policy')})")
    lines.append(f"* default for --provider auto: {default}")
    return "\n".join(line.rstrip() for line in lines)


def run_providers(args: argparse.Namespace, context: Context) -> int:
    with SketchbridgeClient(endpoints_for(args, context)) as client:
        providers = client.providers()
    return emit(args, context, providers, render_providers_table)


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    providers = commands.add_parser(
        "providers",
        parents=[user],
        help="list the providers, their price and ETA",
        description="List the image providers: their models and health, what a plain request "
        "costs and takes at each now, and the parameter ranges each accepts.",
    )
    providers.set_defaults(handler=run_providers)
