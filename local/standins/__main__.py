"""The provider stand-ins alone: `python -m local.standins [--port-base N] [--state-file PATH]`.

Starts the Replicate, OpenAI and Bedrock stand-ins on 127.0.0.1 (ports N, N+1, N+2; any free
ones with the default 0), prints their URLs and the variables that point the adapters at
them, and writes both into the state file. `make run STANDINS=1` starts them with the stack
instead; this is for running an adapter, or its SDK, against them on its own.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from local.standins.launcher import Standins

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_FILE = REPO_ROOT / ".local" / "standins.json"


def state(standins: Standins) -> dict[str, Any]:
    """What the state file holds: the same ``standins`` entry as stack.json, and the variables."""
    return {"standins": standins.urls, "environment": standins.environment()}


def banner(standins: Standins) -> str:
    lines = ["", "Sketchbridge provider stand-ins"]
    for name, url in standins.urls.items():
        lines.append(f"  {name:<10} {url}   (control: {url}/_control/)")
    lines += ["Point the adapters at them with:"]
    lines += [f"  export {name}={value}" for name, value in standins.environment().items()]
    lines += ["Ctrl-C stops them.", ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Readers polling for the file never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.standins", description=__doc__)
    parser.add_argument(
        "--port-base",
        type=int,
        default=0,
        metavar="N",
        help="replicate on N, openai on N+1, bedrock on N+2 (default 0: any free ports)",
    )
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE, metavar="PATH")
    arguments = parser.parse_args(argv)

    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    standins = Standins(port_base=arguments.port_base)
    try:
        standins.start()
    except OSError as error:
        print(f"The stand-ins could not start: {error}", file=sys.stderr)
        return 1
    try:
        write_atomically(arguments.state_file, json.dumps(state(standins), indent=2) + "\n")
        print(banner(standins), flush=True)
        stopping.wait()
    finally:
        print("Stopping the stand-ins.", flush=True)
        standins.stop()
        arguments.state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
