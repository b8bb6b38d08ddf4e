"""Every test reads one calendar, whatever day the suite runs.

The product reads the calendar only through ``sketchbridge.domain.clock``; here it is pinned
to ``PINNED_NOW`` when the session starts and ticks on from there (never back: stores shared
by several tests, such as rate-limit buckets, must see time move forward), and local stacks
the tests start are pinned to the same instant through ``SKETCHBRIDGE_NOW``. A test about
dates pins its own instant with ``clock.pinned(...)``, which restores the session's calendar.

The guard against the next date bomb: with ``SKETCHBRIDGE_WALL_CLOCK=<ISO instant>`` the
machine's own clock (``time.time``, ``datetime.now``, ``date.today``) is moved there for the
whole session with time-machine, ticking. Code that reads the wall clock instead of the
pinned one then sees another year, and any test whose outcome depends on it fails.
(libfaketime does not suit Python here: timed lock waits hang and ``time.sleep`` raises
EINVAL under it.) ``make test`` runs the unit, property and contract suites that way.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

from local.stack import PINNED_NOW_VARIABLE
from sketchbridge.domain import clock

PINNED_NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
WALL_CLOCK_VARIABLE = "SKETCHBRIDGE_WALL_CLOCK"

_travel: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    os.environ[PINNED_NOW_VARIABLE] = PINNED_NOW.isoformat()
    clock.pin(PINNED_NOW)
    wall_clock = os.environ.get(WALL_CLOCK_VARIABLE)
    if wall_clock:
        import time_machine

        traveller = time_machine.travel(datetime.fromisoformat(wall_clock), tick=True)
        traveller.start()
        _travel["traveller"] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = _travel.pop("traveller", None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str:
    wall = os.environ.get(WALL_CLOCK_VARIABLE)
    moved = f"; wall clock moved to {wall} (time-machine, ticking)" if wall else ""
    return f"sketchbridge clock pinned to {PINNED_NOW.isoformat()}, ticking{moved}"


@pytest.fixture(autouse=True)
def _forget_remembered_drafts() -> None:
    """Each test preprocesses its own sketches: none inherits another's remembered draft
    (services/draft_memo.py keeps them per process, as a Lambda container does)."""
    import sys

    submit = sys.modules.get("sketchbridge.services.submit_generation")
    if submit is not None:
        submit.DRAFTS.clear()
