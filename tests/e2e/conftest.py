from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import StackProcess


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """The local stack exactly as `make run` starts it, in its own process, on free ports."""
    state_file = Path(tmp_path_factory.mktemp("stack")) / "stack.json"
    with StackProcess(state_file=state_file, port=0, aws_port=0) as running:
        yield running
