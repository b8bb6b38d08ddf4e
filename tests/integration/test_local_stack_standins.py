"""The provider stand-ins started together, without the rest of the stack."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from local.standins.launcher import NAMES, StandinPacing, Standins
from sketchbridge import cli
from sketchbridge.cli import standins

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_PACING = StandinPacing(replicate_seconds_per_step=0, openai_seconds_per_partial=0)


def test_the_three_stand_ins_answer_their_control_api_and_stop_together() -> None:
    with Standins(pacing=NO_PACING) as standins:
        urls = standins.urls
        assert list(urls) == list(NAMES) == ["replicate", "openai", "bedrock"]
        assert len(set(urls.values())) == 3
        for name, url in urls.items():
            response = httpx.get(f"{url}/_control/requests", timeout=10)
            assert response.status_code == 200, name
            assert response.json() == []

    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/_control/requests", timeout=2)


def test_each_control_api_drives_the_stand_in_it_belongs_to() -> None:
    with Standins(pacing=NO_PACING) as standins:
        openai_url = standins.urls["openai"]
        scripted = httpx.post(
            f"{openai_url}/_control/script", json=[{"status": 401}, {"outcome": "ok"}], timeout=10
        )

        assert scripted.json() == {"scripted": 2}
        assert len(standins.controls["openai"].script) == 2
        assert standins.controls["replicate"].script == []
        assert standins.controls["bedrock"].script == []


def test_the_environment_points_each_adapter_at_its_stand_in_with_a_key_it_accepts() -> None:
    with Standins(pacing=NO_PACING) as standins:
        environment = standins.environment()
        urls = standins.urls

        assert environment["REPLICATE_BASE_URL"] == urls["replicate"]  # the SDK adds /v1
        assert environment["OPENAI_BASE_URL"] == f"{urls['openai']}/v1"
        assert environment["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == urls["bedrock"]

        replicate_token = environment["REPLICATE_API_TOKEN"]
        accepted = httpx.get(
            f"{urls['replicate']}/v1/predictions/nothing-here",
            headers={"authorization": f"Bearer {replicate_token}"},
            timeout=10,
        )
        refused = httpx.get(
            f"{urls['replicate']}/v1/predictions/nothing-here",
            headers={"authorization": "Bearer r8_someone-elses-token"},
            timeout=10,
        )
        assert accepted.status_code == 404
        assert refused.status_code == 401

        openai_refused = httpx.post(
            f"{urls['openai']}/v1/images/generations",
            json={"prompt": "a sea turtle", "model": "gpt-image-2"},
            headers={"authorization": "Bearer sk-a-real-looking-key"},
            timeout=10,
        )
        assert openai_refused.status_code == 401
        assert openai_refused.json()["error"]["code"] == "invalid_api_key"


def test_a_fixed_port_base_gives_consecutive_ports() -> None:
    with Standins(pacing=NO_PACING) as probe:
        # A free port to start from; released again before the real start.
        base = int(probe.urls["replicate"].rsplit(":", 1)[1])
    try:
        standins = Standins(port_base=base, pacing=NO_PACING).start()
    except OSError:
        pytest.skip(f"ports {base}..{base + 2} were taken meanwhile")
    try:
        assert standins.urls == {
            "replicate": f"http://127.0.0.1:{base}",
            "openai": f"http://127.0.0.1:{base + 1}",
            "bedrock": f"http://127.0.0.1:{base + 2}",
        }
    finally:
        standins.stop()


def test_python_m_local_standins_publishes_its_urls_and_removes_them_when_stopped(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "standins.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.standins", "--state-file", str(state_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not state_file.exists():
            assert process.poll() is None, "python -m local.standins exited early"
            assert time.monotonic() < deadline, "no state file after 30 s"
            time.sleep(0.05)
        state = json.loads(state_file.read_text(encoding="utf-8"))

        assert set(state["standins"]) == {"replicate", "openai", "bedrock"}
        for url in state["standins"].values():
            assert httpx.get(f"{url}/_control/requests", timeout=10).json() == []
        assert state["environment"]["OPENAI_BASE_URL"] == state["standins"]["openai"] + "/v1"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert process.returncode == 0
    assert state["standins"]["replicate"] in output  # the banner names every URL
    assert not state_file.exists()


def test_the_cli_explains_when_the_stand_ins_are_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a Lambda layer or a wheel: the repository's local/ package is not there.
    monkeypatch.setattr(standins, "STANDINS_MODULE", "no_such_package.standins")
    stdout, stderr = io.StringIO(), io.StringIO()

    code = cli.main(["standins"], stdout=stdout, stderr=stderr)

    assert code == cli.EXIT_USAGE
    assert "local/ package" in stderr.getvalue()
    assert "make run STANDINS=1" in stderr.getvalue()
