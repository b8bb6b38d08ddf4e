"""`sketchbridge cancel` and `providers` against the local stack, as a user at a terminal.

Each test runs as its own user (a dev token for a fresh `sub`), so the jobs it sees are
its own whatever else the session's stack has run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from local.stack import StackProcess
from sketchbridge import cli
from tests.support.fakes import SKETCHES, sketch_data_url

pytestmark = pytest.mark.enable_socket

TURTLE = SKETCHES / "turtle.png"


class Terminal:
    """Runs commands as one user against the stack; keeps what each printed."""

    def __init__(self, stack: StackProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        self.user = f"cli-{uuid.uuid4().hex[:12]}"
        self.tmp_path = tmp_path
        self._capsys = capsys
        self._state_file = tmp_path / "stack.json"
        self._state_file.write_text(json.dumps(stack.state))
        self._api_url = stack.api_url
        self.token = self.new_token()

    def new_token(self) -> str:
        answer = httpx.post(
            f"{self._api_url}/dev-issuer/token", json={"sub": self.user}, timeout=10
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def run(self, *argv: str) -> tuple[int, str, str]:
        self._capsys.readouterr()
        code = cli.main([*argv, "--stack-file", str(self._state_file), "--token", self.token])
        out, err = self._capsys.readouterr()
        return code, out, err

    def json(self, *argv: str) -> object:
        code, out, err = self.run(*argv, "--json")
        assert code == cli.EXIT_OK, err
        return json.loads(out)


@pytest.fixture
def terminal(stack: StackProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Terminal:
    return Terminal(stack, tmp_path, capsys)


def test_cancel_stops_a_running_job_and_refuses_a_finished_one(
    terminal: Terminal, stack: StackProcess
) -> None:
    headers = {"Authorization": f"Bearer {terminal.token}"}
    body = {
        "sketch": sketch_data_url(),
        "prompt": "a sea turtle",
        "provider": "local",
        "params": {"steps": 100},
    }
    submitted = httpx.post(f"{stack.api_url}/generations", json=body, headers=headers, timeout=30)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]

    code, out, err = terminal.run("cancel", job_id)
    assert code == cli.EXIT_OK, err
    assert out == f"job {job_id} canceled\n"
    # Cancel is idempotent: the same answer again.
    assert terminal.run("cancel", job_id)[:2] == (cli.EXIT_OK, f"job {job_id} canceled\n")

    code, out, err = terminal.run(
        "generate", str(TURTLE), "-p", "a sea turtle", "--steps", "2", "--json", "-o", "t.png"
    )
    assert code == cli.EXIT_OK, err
    finished = json.loads(out)["job_id"]
    code, out, err = terminal.run("cancel", finished, "--json")
    assert code == cli.EXIT_FAILED
    assert "[job_finished]" in err
    assert json.loads(out)["error"]["status"] == "succeeded"

    code, _, err = terminal.run("cancel", "no-such-job")
    assert (code, "[not_found]" in err) == (cli.EXIT_FAILED, True)


def test_providers_shows_a_price_and_an_eta_for_each(terminal: Terminal) -> None:
    code, out, err = terminal.run("providers")
    assert code == cli.EXIT_OK, err
    lines = out.splitlines()
    quotes = lines[lines.index("A plain request (no seed), now:") + 2 :]
    local = next(line for line in quotes if line.startswith("local "))
    assert local.split()[1] == "$0.0000" and local.split()[3] == "s"
    ranges = lines[lines.index("Parameter ranges [default]:") + 1 :]
    assert any(line.startswith("local ") and "steps 1..100" in line for line in ranges)
