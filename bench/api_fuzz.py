"""Schemathesis against the local stack, for longer than `make test` runs it.

    .venv/bin/python -m bench.api_fuzz [--max-examples 200]

The same checks as tests/e2e/test_openapi_fuzz.py (no 5xx, every status, content type and
body as /openapi.json says), with many more examples per operation.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from local.api_fuzz import fuzz
from local.stack import StackProcess

DEFAULT_MAX_EXAMPLES = 200


def run(max_examples: int = DEFAULT_MAX_EXAMPLES) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        StackProcess(state_file=Path(scratch) / "stack.json") as stack,
    ):
        started = time.perf_counter()
        outcome = fuzz(
            stack.api_url,
            stack.dev_token,
            max_examples=max_examples,
            report_dir=Path(scratch) / "schemathesis",
            timeout_s=3600,
        )
        seconds = time.perf_counter() - started
    return {
        "max_examples": max_examples,
        "passed": outcome.passed,
        "seconds": round(seconds, 1),
        "summary": outcome.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_fuzz", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.max_examples), indent=2))


if __name__ == "__main__":
    main()
