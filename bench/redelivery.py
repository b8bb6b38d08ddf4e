"""The redelivery harness, full size: at least 200 jobs through the real handlers.

    .venv/bin/python -m bench.redelivery [--jobs 200] [--seed 20261125]

Duplicate deliveries, duplicate sends, processors killed between the provider call and
the state write, random provider delays and identical submissions, against emulated AWS
provisioned from template.yaml (tests/support/redelivery.py has the details). Prints the
figures as JSON and exits non-zero if a request was paid twice or a job was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Any

from tests.support.redelivery import HarnessConfig, emulated_aws, run_harness


def run(*, jobs: int = 200, seed: int = HarnessConfig.seed) -> dict[str, Any]:
    # The handlers log and emit metrics on stdout, as on Lambda; the figures are the output.
    with emulated_aws(), contextlib.redirect_stdout(io.StringIO()):
        report = run_harness(HarnessConfig(jobs=jobs, seed=seed))
    return {**report.as_dict(), "problems": report.problems()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=HarnessConfig.seed)
    arguments = parser.parse_args()
    figures = run(jobs=arguments.jobs, seed=arguments.seed)
    print(json.dumps(figures, indent=2))
    sys.exit(1 if figures["problems"] else 0)


if __name__ == "__main__":
    main()
