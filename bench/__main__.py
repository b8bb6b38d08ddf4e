"""`make bench`: every benchmark, one after the other, figures as JSON on stdout."""

from __future__ import annotations

import json

from bench import journey


def main() -> None:
    print(json.dumps({"journey": journey.run()}, indent=2))


if __name__ == "__main__":
    main()
