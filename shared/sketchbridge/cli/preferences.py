"""``sketchbridge preferences get|set|reset``: the settings a request falls back on.

``set`` takes the option names ``generate`` takes (``--provider``, ``--steps``, ``--text``
...); the API applies what is saved wherever a request leaves a field out, for this user on
any device. ``reset`` puts the defaults back.
"""

from __future__ import annotations

import argparse
from typing import Any

from sketchbridge.cli.client import SketchbridgeClient
from sketchbridge.cli.errors import UsageError
from sketchbridge.cli.options import (
    Context,
    add_choice_options,
    add_parameter_options,
    add_preprocessing_options,
    checked_fields,
    endpoints_for,
    request_fields,
)
from sketchbridge.cli.output import emit

SHOWN = ("provider", "policy", "max_cost_usd", "max_eta_s", "params", "preprocessing")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return " ".join(f"{key}={_value(item)}" for key, item in value.items()) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_preferences(preferences: dict[str, Any]) -> str:
    names = [*SHOWN, *(name for name in preferences if name not in (*SHOWN, "updated_at"))]
    width = max(len(name) for name in names)
    lines = [f"{name.ljust(width)}  {_value(preferences.get(name))}" for name in names]
    updated = preferences.get("updated_at")
    lines.append("saved " + updated if updated else "nothing saved: these are the defaults")
    return "\n".join(lines)


def run_preferences(args: argparse.Namespace, context: Context) -> int:
    change = checked_fields(request_fields(args)) if args.action == "set" else {}
    if args.action == "set" and not change:
        raise UsageError(
            "preferences set needs at least one option to save.",
            suggestions=["For example: sketchbridge preferences set --provider openai --steps 28"],
        )
    with SketchbridgeClient(endpoints_for(args, context)) as client:
        if args.action == "set":
            preferences = client.save_preferences(change)
        elif args.action == "reset":
            preferences = client.reset_preferences()
        else:
            preferences = client.preferences()
    return emit(args, context, preferences, render_preferences)


def add_parser(commands: Any, user: argparse.ArgumentParser) -> None:
    preferences = commands.add_parser(
        "preferences",
        help="your default provider, parameters and preprocessing",
        description="Show, save or reset what your requests fall back on where they leave a "
        "field out. `set` takes generate's option names.",
    )
    actions = preferences.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("get", parents=[user], help="show them")
    save = actions.add_parser("set", parents=[user], help="save the options given")
    add_choice_options(save, defaults="left as saved")
    add_parameter_options(save, defaults="left as saved")
    add_preprocessing_options(save, defaults="left as saved")
    actions.add_parser("reset", parents=[user], help="back to the defaults")
    preferences.set_defaults(handler=run_preferences)
