"""`sketchbridge refine|cancel|history|preferences|providers` against a fake API on 127.0.0.1.

The fake speaks issue 11's routes as /work/CONTRACTS.md draws them (refine, cancel,
history with a cursor, preferences) and `GET /providers` with per-provider ranges, so
each test shows what a user sees on the terminal and which requests the commands sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sketchbridge import cli

pytestmark = pytest.mark.enable_socket

TURTLE = Path(__file__).resolve().parents[3] / "shared" / "sketches" / "turtle.png"
TOKEN = "dev-token"
# The fake answers at most this many jobs a page, whatever the limit asked: the CLI must
# follow next_cursor.
PAGE_CAP = 10


def job(job_id: str, status: str = "succeeded", **extra: Any) -> dict[str, Any]:
    """A JobResponse with issue 11's fields (parent_id, root_id, depth, params_native ...)."""
    return {
        "id": job_id,
        "status": status,
        "progress": 1.0 if status == "succeeded" else 0.0,
        "prompt": f"a sea turtle number {job_id}",
        "provider": "local",
        "params": {
            "seed": 42,
            "steps": 20,
            "strength": 0.75,
            "guidance_scale": 7.5,
            "width": 512,
            "height": 512,
        },
        "created_at": "2026-12-03T10:00:00+00:00",
        "updated_at": "2026-12-03T10:00:02+00:00",
        "result": None,
        "error": None,
        "parent_id": None,
        "root_id": job_id,
        "depth": 0,
        "params_native": {"steps": 20, "seed": 42},
        "offline_fallback": False,
        "cost_usd": 0.0,
        **extra,
    }


def error(http_status: int, code: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    suggestions = [f"What to do about {code}."]
    body = {"code": code, "message": message, "suggestions": suggestions, **extra}
    return http_status, {"error": body}


DEFAULT_PREFERENCES: dict[str, Any] = {
    "provider": "auto",
    "policy": "balanced",
    "max_cost_usd": None,
    "max_eta_s": None,
    "params": {},
    "preprocessing": {},
    "updated_at": None,
}


@dataclass
class FakeApi:
    api_url: str = ""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    preferences: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PREFERENCES))
    requests: list[tuple[str, str, dict[str, list[str]], Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if path.startswith("/bucket/"):
            return 200, TURTLE.read_bytes()
        parts = path.strip("/").split("/")
        if parts == ["providers"]:
            return 200, PROVIDERS
        if parts == ["preferences"]:
            if method == "PUT":
                self.preferences.update(body, updated_at="2026-12-03T11:00:00.000Z")
            elif method == "DELETE":
                self.preferences = dict(DEFAULT_PREFERENCES)
            return 200, self.preferences
        if parts == ["generations"]:
            return self.history(query)
        if parts[0] == "generations" and len(parts) >= 2:
            found = self.jobs.get(parts[1])
            if found is None:
                return error(404, "not_found", f"There is no job {parts[1]}.")
            if len(parts) == 2:
                return 200, found
            if parts[2] == "refine":
                return self.refine(found, body)
            if parts[2] == "cancel":
                return self.cancel(found)
        return error(404, "not_found", "No such route.")

    def refine(self, parent: dict[str, Any], body: dict[str, Any]) -> Any:
        if body.get("from", "result") == "result" and parent["status"] != "succeeded":
            return error(409, "not_refinable", "Only a succeeded job's picture can be refined.")
        child_id = f"{parent['id']}-r"
        child = job(
            child_id,
            "succeeded",
            parent_id=parent["id"],
            root_id=parent["root_id"],
            depth=parent["depth"] + 1,
            result={
                "url": f"{self.api_url}/bucket/{child_id}.png",
                "width": 512,
                "height": 512,
                "provider": "local",
                "model": "local-renderer",
                "seed": 42,
            },
        )
        self.jobs[child_id] = child
        return 202, {**child, "status": "queued", "progress": 0.0, "result": None}

    def cancel(self, found: dict[str, Any]) -> Any:
        if found["status"] in ("succeeded", "failed"):
            message = f"The job already {found['status']}; there is nothing to cancel."
            return error(409, "job_finished", message, status=found["status"])
        found.update(status="canceled")
        return 200, found

    def history(self, query: dict[str, list[str]]) -> Any:
        limit = int(query.get("limit", ["20"])[0])
        if not 1 <= limit <= 100:
            return error(400, "invalid_params", "limit must be from 1 to 100.")
        status = query.get("status", [None])[0]
        newest_first = [j for j in reversed(self.jobs.values()) if status in (None, j["status"])]
        start = int(query.get("cursor", ["0"])[0])
        end = start + min(limit, PAGE_CAP)
        page = newest_first[start:end]
        cursor = str(end) if end < len(newest_first) else None
        return 200, {"items": page, "next_cursor": cursor}


PROVIDERS: dict[str, Any] = {
    "default": "local",
    "auto": "replicate",
    "policy": "balanced",
    "providers": [
        {
            "name": "local",
            "description": "Offline renderer; not AI.",
            "is_ai": False,
            "model": "local-renderer",
            "status": "healthy",
            "quote": {
                "width": 1024,
                "height": 1024,
                "steps": 20,
                "cost_usd": 0.0,
                "eta_s": 2.4,
                "eta_p90_s": 3.9,
            },
            "parameters": {
                "steps": {"min": 1, "max": 100, "default": 20, "native_name": "steps"},
                "strength": {"min": 0.0, "max": 1.0, "default": 0.75, "native_name": "strength"},
                "guidance_scale": None,
                "seed": {"min": 0, "max": 4294967295, "default": None, "native_name": "seed"},
            },
            "ignored": ["guidance_scale"],
        },
        {
            "name": "replicate",
            "description": "FLUX canny-dev on Replicate.",
            "is_ai": True,
            "model": "black-forest-labs/flux-canny-dev",
            "status": "healthy",
            "quote": {
                "width": 1024,
                "height": 1024,
                "steps": 28,
                "cost_usd": 0.025,
                "eta_s": 9.6,
                "eta_p90_s": 14.2,
            },
            "parameters": {
                "steps": {"min": 1, "max": 50, "default": 28, "native_name": "num_inference_steps"},
                "strength": None,
                "guidance_scale": {"min": 1, "max": 100, "default": 30, "native_name": "guidance"},
                "seed": {"min": 0, "max": 4294967295, "default": None, "native_name": "seed"},
            },
            "ignored": ["strength"],
        },
    ],
}


def handler_for(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            query = parse_qs(url.query)
            if not url.path.startswith("/bucket/"):
                api.requests.append((self.command, url.path, query, body))
                api.authorizations.append(self.headers.get("Authorization"))
            status, payload = api.answer(self.command, url.path, query, body)
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    fake.api_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.chdir(tmp_path)
    # No ws_url: a watched job is followed by polling, which the fake answers at once.
    (tmp_path / "stack.json").write_text(
        json.dumps({"api_url": fake.api_url, "dev_token": TOKEN}), encoding="utf-8"
    )
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def run(*argv: str) -> int:
    return cli.main([*argv, "--stack-file", "stack.json"])


# ---------------------------------------------------------------- refine


def test_refine_sends_only_what_changes_and_names_the_new_job(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["j1"] = job("j1")

    code = run("refine", "j1", "--strength", "0.4", "--seed", "7", "-p", " at dusk ")

    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert out.strip() == "job j1-r queued on local (refines j1, depth 1)"
    assert "sketchbridge cancel j1-r" in err
    (method, path, _, body) = api.requests[-1]
    assert (method, path) == ("POST", "/generations/j1/refine")
    assert body == {"prompt": "at dusk", "params": {"strength": 0.4, "seed": 7}, "from": "result"}
    assert api.authorizations == [f"Bearer {TOKEN}"]


def test_refine_watch_follows_the_new_job_and_saves_its_picture(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["j1"] = job("j1")

    code = run("refine", "j1", "--from", "sketch", "--watch", "--json", "-o", "again.png")

    summary = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_OK
    assert summary["job_id"] == "j1-r"
    assert (tmp_path / "again.png").read_bytes() == TURTLE.read_bytes()
    assert api.requests[0][3] == {"from": "sketch"}


def test_refining_an_unfinished_job_prints_the_apis_reason_and_fails(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["j1"] = job("j1", "failed")

    code = run("refine", "j1")

    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert "error: Only a succeeded job's picture can be refined. [not_refinable]" in err
    assert "  - What to do about not_refinable." in err


def test_refine_refuses_an_out_of_range_value_before_sending_anything(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["j1"] = job("j1")

    assert run("refine", "j1", "--steps", "500") == cli.EXIT_USAGE
    assert "--steps" in capsys.readouterr().err
    assert api.requests == []


# ---------------------------------------------------------------- cancel


def test_cancel_stops_a_queued_job(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.jobs["j2"] = job("j2", "queued")

    assert run("cancel", "j2") == cli.EXIT_OK
    assert capsys.readouterr().out == "job j2 canceled\n"
    assert api.requests == [("POST", "/generations/j2/cancel", {}, None)]


def test_cancelling_a_finished_job_says_so_and_fails(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["j3"] = job("j3", "succeeded")

    code = run("cancel", "j3", "--json")

    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILED
    assert "The job already succeeded; there is nothing to cancel. [job_finished]" in err
    assert json.loads(out)["error"] | {"suggestions": []} == {
        "code": "job_finished",
        "message": "The job already succeeded; there is nothing to cancel.",
        "status": "succeeded",
        "suggestions": [],
        "retryable": False,
    }


def test_cancelling_an_unknown_job_fails_with_not_found(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("cancel", "nope") == cli.EXIT_FAILED
    assert "There is no job nope. [not_found]" in capsys.readouterr().err


# ---------------------------------------------------------------- history


def test_history_follows_the_cursor_until_the_limit(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(25):
        api.jobs[f"job{number:02d}"] = job(f"job{number:02d}")

    assert run("history", "--limit", "15") == cli.EXIT_OK

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "STATUS", "PROVIDER"]
    shown = [line.split()[0] for line in lines[1:-1]]
    assert shown == [f"job{number:02d}" for number in range(24, 9, -1)]  # newest first
    assert lines[-1] == "More jobs are older: raise --limit, or --all."
    asked = [(query["limit"], query.get("cursor")) for _, _, query, _ in api.requests]
    assert asked == [(["15"], None), (["5"], ["10"])]


def test_history_all_pages_through_every_job(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(25):
        api.jobs[f"job{number:02d}"] = job(f"job{number:02d}")

    assert run("history", "--all", "--json") == cli.EXIT_OK

    answer = json.loads(capsys.readouterr().out)
    assert len(answer["items"]) == 25 and answer["next_cursor"] is None
    assert len({item["id"] for item in answer["items"]}) == 25
    assert len(api.requests) == 3


def test_history_filters_by_status_and_shows_where_a_refinement_came_from(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.jobs["a"] = job("a", "failed")
    api.jobs["b"] = job("b", parent_id="a", depth=1, root_id="a")
    api.jobs["c"] = job("c", "canceled")

    assert run("history", "--status", "succeeded") == cli.EXIT_OK

    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["b"]
    assert rows[0].split()[6] == "a"  # the FROM column
    assert api.requests[0][2]["status"] == ["succeeded"]


def test_an_empty_history_says_so(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("history") == cli.EXIT_OK
    assert capsys.readouterr().out == "No jobs.\n"


# ---------------------------------------------------------------- preferences


def test_preferences_set_takes_generates_option_names(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        "preferences", "set", "--provider", "replicate", "--steps", "28", "--text", "remove",
        "--max-cost", "0.05", "--no-palette-hint",
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    (method, path, _, body) = api.requests[-1]
    assert (method, path) == ("PUT", "/preferences")
    assert body == {
        "provider": "replicate",
        "max_cost_usd": 0.05,
        "params": {"steps": 28},
        "preprocessing": {"text": "remove", "palette_hint": False},
    }
    shown = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert shown["provider"] == ["replicate"]
    assert shown["params"] == ["steps=28"]
    assert shown["preprocessing"] == ["text=remove", "palette_hint=no"]
    assert "saved 2026-12-03T11:00:00.000Z" in out


def test_preferences_get_then_reset(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.preferences.update(provider="openai", updated_at="2026-12-02T09:00:00.000Z")

    assert run("preferences", "get", "--json") == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["provider"] == "openai"
    assert run("preferences", "reset") == cli.EXIT_OK

    out = capsys.readouterr().out
    assert "provider       auto\n" in out
    assert "nothing saved: these are the defaults" in out
    assert [request[:2] for request in api.requests] == [
        ("GET", "/preferences"),
        ("DELETE", "/preferences"),
    ]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ([], "at least one option"),
        (["--strength", "2"], "--strength"),
        (["--max-eta", "0"], "--max-eta"),
    ],
)
def test_preferences_set_refuses_nothing_or_a_bad_value_without_sending(
    api: FakeApi, capsys: pytest.CaptureFixture[str], arguments: list[str], named: str
) -> None:
    assert run("preferences", "set", *arguments) == cli.EXIT_USAGE
    assert named in capsys.readouterr().err
    assert api.requests == []


# ---------------------------------------------------------------- providers


def test_providers_shows_price_eta_and_ranges(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("providers") == cli.EXIT_OK

    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:4] == ["local", "*", "no", "healthy"]
    quote_header = out.index("A plain request (no seed), now:")
    assert out[quote_header + 1].split()[:4] == ["NAME", "PRICE", "ETA", "ETA"]
    assert out[quote_header + 3].split()[:5] == ["replicate", "$0.0250", "10", "s", "14"]
    assert "1024x1024, 28 steps" in out[quote_header + 3]
    ranges = out[out.index("Parameter ranges [default]:") + 2]
    assert ranges.startswith("replicate")
    assert "steps 1..50 [28]" in ranges and "guidance_scale 1..100 [30]" in ranges
    assert "strength ignored" in ranges and ranges.count("ignored") == 1
    assert "auto picks now: replicate (policy balanced)" in out
    assert out[-1] == "* default for --provider auto: local"
