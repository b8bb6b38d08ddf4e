"""`make bench`: every benchmark, one after the other, figures as JSON on stdout."""

from __future__ import annotations

import json

from bench import api_fuzz, budget_race, cache, failover, journey, redelivery


def main() -> None:
    print(
        json.dumps(
            {
                "journey": journey.run(),
                "cache": cache.run(),
                "redelivery": redelivery.run(),
                "failover": failover.run(),
                "budget_race": budget_race.run(),
                "api_fuzz": api_fuzz.run(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
