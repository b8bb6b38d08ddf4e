"""The `sketchbridge` commands of issue 11 against the local stack, as a user at a terminal.

Each test runs as its own user (a dev token for a fresh `sub`), so the jobs it sees are
its own whatever else the session's stack has run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

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


def test_preferences_shape_generate_and_refine_shows_in_history(terminal: Terminal) -> None:
    code, out, err = terminal.run("preferences", "set", "--steps", "5", "--text", "keep")
    assert code == cli.EXIT_OK, err
    assert "steps=5" in out

    # generate leaves --steps out: the saved 5 apply.
    first_png = terminal.tmp_path / "first.png"
    code, out, err = terminal.run(
        "generate", str(TURTLE), "-p", "a sea turtle", "--seed", "11", "-o", str(first_png)
    )
    assert code == cli.EXIT_OK, err
    assert "5/5" in err
    first = terminal.json("history", "--limit", "1")
    assert isinstance(first, dict)
    (original,) = first["items"]

    refined_png = terminal.tmp_path / "refined.png"
    code, out, err = terminal.run(
        "refine", original["id"], "-p", "a sea turtle at dusk", "--watch", "-o", str(refined_png)
    )
    assert code == cli.EXIT_OK, err
    with Image.open(refined_png) as image:
        assert image.format == "PNG"

    history = terminal.json("history", "--all")
    assert isinstance(history, dict)
    newest, oldest = history["items"]
    assert (oldest["id"], oldest["parent_id"]) == (original["id"], None)
    assert (newest["parent_id"], newest["depth"], newest["prompt"]) == (
        original["id"],
        1,
        "a sea turtle at dusk",
    )
    code, out, _ = terminal.run("history")
    assert out.splitlines()[1].split()[:3] == [newest["id"], *newest["created_at"][:19].split("T")]


def test_preferences_follow_the_user_to_a_new_token_and_reset(terminal: Terminal) -> None:
    code, _, err = terminal.run("preferences", "set", "--provider", "local", "--max-eta", "60")
    assert code == cli.EXIT_OK, err

    terminal.token = terminal.new_token()
    saved = terminal.json("preferences", "get")
    assert isinstance(saved, dict)
    assert (saved["provider"], saved["max_eta_s"]) == ("local", 60)

    reset = terminal.json("preferences", "reset")
    assert isinstance(reset, dict)
    assert (reset["provider"], reset["max_eta_s"], reset["updated_at"]) == ("auto", None, None)


def test_refine_and_history_errors_come_from_the_api(terminal: Terminal) -> None:
    code, _, err = terminal.run("refine", "no-such-job", "--strength", "0.5")
    assert code == cli.EXIT_FAILED
    assert "[not_found]" in err

    code, out, _ = terminal.run("history")
    assert (code, out) == (cli.EXIT_OK, "No jobs.\n")


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
