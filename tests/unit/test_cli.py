"""The `sketchbridge` CLI with no network: parsing, the sketch, rendering, a faked transport."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from sketchbridge import cli
from sketchbridge.domain.models import JobEventMessage, JobStatus, ProvidersResponse

SKETCHES = Path(__file__).resolve().parents[3] / "shared" / "sketches"
TURTLE = SKETCHES / "turtle.png"
API = "http://api.test"


# ---------------------------------------------------------------- helpers


def job_json(
    status: str = "queued",
    *,
    progress: float = 0.0,
    job_id: str = "0123456789abcdef",
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "status": status,
        "progress": progress,
        "prompt": "a turtle",
        "provider": "local",
        "params": {
            "seed": 7,
            "steps": 20,
            "strength": 0.75,
            "guidance_scale": 7.5,
            "width": 512,
            "height": 512,
        },
        "created_at": "2026-11-25T10:00:00+00:00",
        "updated_at": "2026-11-25T10:00:01+00:00",
        "result": result,
        "error": error,
    }


RESULT_URL = "http://s3.test/results/abc.png?X-Amz-Signature=1"
RESULT: dict[str, Any] = {
    "url": RESULT_URL,
    "width": 512,
    "height": 512,
    "provider": "local",
    "model": "local-renderer",
    "seed": 7,
    "content_type": "image/png",
}


def client_for(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    token: str | None = "dev-token",
    ws_url: str | None = None,
) -> cli.SketchbridgeClient:
    endpoints = cli.Endpoints(api_url=API, ws_url=ws_url, token=token)
    return cli.SketchbridgeClient(
        endpoints, http=httpx.Client(transport=httpx.MockTransport(handler))
    )


def answers(*jobs: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    """A GET /generations/{id} handler answering with each job in turn, then the last forever."""
    remaining: Iterator[dict[str, Any]] = iter(jobs)
    last: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        last[:] = [next(remaining, last[0] if last else jobs[-1])]
        return httpx.Response(200, json=last[0])

    return handle


def write_stack(path: Path, **overrides: str) -> Path:
    stack = {
        "api_url": "http://127.0.0.1:3000",
        "ws_url": "ws://127.0.0.1:3001",
        "aws_endpoint_url": "http://127.0.0.1:5000",
        "dev_token": "stack-token",
        "issuer": "http://127.0.0.1:3000/dev-issuer",
        "standins": "",
        **overrides,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stack), encoding="utf-8")
    return path


# ---------------------------------------------------------------- parsing


def test_generate_parses_every_option() -> None:
    args = cli.build_parser().parse_args(
        [
            "generate",
            "turtle.png",
            "-p",
            "a sea turtle",
            "--negative-prompt",
            "blurry",
            "--provider",
            "local",
            "--seed",
            "42",
            "--steps",
            "12",
            "--strength",
            "0.6",
            "--guidance-scale",
            "8",
            "--width",
            "640",
            "--height",
            "512",
            "-o",
            "out.png",
            "--timeout",
            "90",
            "--json",
        ]
    )
    assert (args.sketch, args.prompt, args.negative_prompt, args.provider) == (
        "turtle.png",
        "a sea turtle",
        "blurry",
        "local",
    )
    assert (args.seed, args.steps, args.strength, args.guidance_scale) == (42, 12, 0.6, 8.0)
    assert (args.width, args.height, args.output, args.timeout, args.json) == (
        640,
        512,
        "out.png",
        90.0,
        True,
    )


def test_unset_knobs_are_left_to_the_api() -> None:
    args = cli.build_parser().parse_args(["generate", "turtle.png", "-p", "x"])
    assert args.provider == "auto"
    assert [args.seed, args.steps, args.strength, args.guidance_scale, args.width] == [None] * 5
    assert args.timeout == cli.DEFAULT_WAIT_SECONDS


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["generate", str(TURTLE)],  # no prompt
        ["generate", str(TURTLE), "-p", "x", "--steps", "many"],
        ["generate", str(TURTLE), "-p", "x", "--timeout", "0"],
        ["paint", str(TURTLE)],
    ],
)
def test_bad_command_lines_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["generate", "--help"]) == cli.EXIT_OK
    assert "--prompt" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        ({"steps": 500}, "--steps"),
        ({"strength": 1.5}, "--strength"),
        ({"seed": -1}, "--seed"),
        ({"guidance_scale": 31.0}, "--guidance-scale"),
        ({"width": 10}, "--width"),
        ({"prompt": "   "}, "--prompt"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_option(
    overrides: dict[str, Any], option: str
) -> None:
    values: dict[str, Any] = {"sketch": "data:image/png;base64,AAAA", "prompt": "x", **overrides}
    with pytest.raises(cli.UsageError) as caught:
        cli.build_generation_request(**values)
    assert caught.value.message.startswith(option)
    assert caught.value.exit_code == cli.EXIT_USAGE


def test_request_carries_only_the_knobs_given() -> None:
    request = cli.build_generation_request(
        sketch="data:image/png;base64,AAAA", prompt=" a turtle ", steps=8, width=640
    )
    body = request.model_dump(mode="json", exclude_none=True)
    assert body["prompt"] == "a turtle"
    assert body["provider"] == "auto"
    assert body["params"]["steps"] == 8
    assert body["params"]["width"] == 640
    assert "seed" not in body["params"]
    assert "height" not in body["params"]
    assert "negative_prompt" not in body


def test_nothing_is_sent_for_a_file_that_is_not_an_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a drawing", encoding="utf-8")
    # No API is configured at all: refusing the file comes first.
    assert cli.main(["generate", str(notes), "-p", "x", "--stack-file", "/nope"]) == 2
    err = capsys.readouterr().err
    assert "is not a PNG, JPEG or WebP image" in err
    assert "unsupported_format" in err


def test_a_missing_sketch_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["generate", "/no/such/sketch.png", "-p", "x"]) == cli.EXIT_USAGE
    assert "There is no file /no/such/sketch.png" in capsys.readouterr().err


def test_usage_errors_are_json_too_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"GIF89a")
    assert cli.main(["generate", str(notes), "-p", "x", "--json"]) == cli.EXIT_USAGE
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is False
    assert summary["error"]["code"] == "unsupported_format"
    assert summary["error"]["suggestions"]


# ---------------------------------------------------------------- the sketch


def test_turtle_becomes_a_png_data_url_that_decodes_to_the_same_bytes() -> None:
    data = TURTLE.read_bytes()
    url = cli.sketch_data_url(data)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == data


@pytest.mark.parametrize(("pil_format", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_jpeg_and_webp_are_recognised_by_their_bytes(pil_format: str, mime: str) -> None:
    buffer = io.BytesIO()
    Image.open(TURTLE).convert("RGB").save(buffer, format=pil_format)
    assert cli.sniff_image_type(buffer.getvalue()) == mime
    assert cli.sketch_data_url(buffer.getvalue()).startswith(f"data:{mime};base64,")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"", "is empty"),
        (b"GIF89a\x01\x00\x01\x00", "is not a PNG, JPEG or WebP image"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "is not a PNG, JPEG or WebP image"),
        (Path(__file__).read_bytes(), "is not a PNG, JPEG or WebP image"),
    ],
)
def test_other_bytes_are_refused_before_sending(data: bytes, what: str) -> None:
    with pytest.raises(cli.UsageError) as caught:
        cli.sketch_data_url(data, name="drawing.gif")
    assert caught.value.message == f"drawing.gif {what}."
    assert caught.value.code == "unsupported_format"


def test_png_dimensions_come_from_the_header() -> None:
    assert cli.png_dimensions(TURTLE.read_bytes()) == (512, 512)
    assert cli.png_dimensions(b"<html>Access Denied</html>") is None


# ---------------------------------------------------------------- where to connect


def test_the_local_stack_file_gives_api_websocket_and_dev_token(tmp_path: Path) -> None:
    write_stack(tmp_path / ".local" / "stack.json")
    endpoints = cli.resolve_endpoints(
        api=None, ws=None, token=None, stack_file=None, environ={}, cwd=tmp_path
    )
    assert endpoints == cli.Endpoints(
        api_url="http://127.0.0.1:3000", ws_url="ws://127.0.0.1:3001", token="stack-token"
    )


def test_stack_file_from_the_environment_and_options_win(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "elsewhere.json", api_url="http://127.0.0.1:3100")
    endpoints = cli.resolve_endpoints(
        api=None,
        ws=None,
        token="mine",
        stack_file=None,
        environ={cli.STACK_FILE_ENV: str(stack)},
        cwd=tmp_path,
    )
    assert (endpoints.api_url, endpoints.token) == ("http://127.0.0.1:3100", "mine")


def test_a_deployed_api_takes_token_and_websocket_from_the_environment(tmp_path: Path) -> None:
    write_stack(tmp_path / ".local" / "stack.json")
    endpoints = cli.resolve_endpoints(
        api="https://abc.execute-api.eu-west-1.amazonaws.com",
        ws=None,
        token=None,
        stack_file=None,
        environ={
            cli.TOKEN_ENV: "cognito-jwt",
            cli.WS_URL_ENV: "wss://def.execute-api.eu-west-1.amazonaws.com/prod",
        },
        cwd=tmp_path,
    )
    assert endpoints == cli.Endpoints(
        api_url="https://abc.execute-api.eu-west-1.amazonaws.com",
        ws_url="wss://def.execute-api.eu-west-1.amazonaws.com/prod",
        token="cognito-jwt",
    )


def test_api_naming_the_local_stack_borrows_its_token(tmp_path: Path) -> None:
    write_stack(tmp_path / ".local" / "stack.json")
    endpoints = cli.resolve_endpoints(
        api="http://127.0.0.1:3000/", ws=None, token=None, stack_file=None, environ={}, cwd=tmp_path
    )
    assert (endpoints.ws_url, endpoints.token) == ("ws://127.0.0.1:3001", "stack-token")


def test_no_api_and_no_stack_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "package_stack_file", lambda: tmp_path / "absent.json")
    with pytest.raises(cli.UsageError) as caught:
        cli.resolve_endpoints(
            api=None, ws=None, token=None, stack_file=None, environ={}, cwd=tmp_path
        )
    assert any("make run" in suggestion for suggestion in caught.value.suggestions)


def test_a_named_stack_file_that_is_missing_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(cli.UsageError, match="does not exist"):
        cli.resolve_endpoints(
            api=None,
            ws=None,
            token=None,
            stack_file=str(tmp_path / "gone.json"),
            environ={},
            cwd=tmp_path,
        )


def test_websocket_url_adds_the_token_safely() -> None:
    assert cli.websocket_url("ws://127.0.0.1:3001", None) == "ws://127.0.0.1:3001"
    assert cli.websocket_url("wss://h/prod", "a.b+c/d=") == "wss://h/prod?token=a.b%2Bc%2Fd%3D"
    assert cli.websocket_url("ws://h/?x=1", "t") == "ws://h/?x=1&token=t"


# ---------------------------------------------------------------- progress rendering


def test_progress_line_reads_like_the_brief() -> None:
    line = cli.render_progress_line(
        progress=0.45, status="running", step=9, total_steps=20, provider="local", width=10
    )
    assert line == "[#####.....] 45% step 9/20 running on local"


def test_progress_line_is_full_only_when_done() -> None:
    almost = cli.render_progress_line(progress=0.999, status="running", width=10)
    assert almost == "[#########.] 99% running"
    done = cli.render_progress_line(progress=1.0, status="succeeded", provider="auto", width=10)
    assert done == "[##########] 100% succeeded"
    assert cli.render_progress_line(progress=-3, status="queued", width=4) == "[....] 0% queued"


def event(kind: str, status: str, progress: float, **fields: Any) -> JobEventMessage:
    return JobEventMessage.model_validate(
        {"type": kind, "job_id": "j1", "seq": 0, "status": status, "progress": progress, **fields}
    )


def test_display_writes_a_line_per_change_when_not_a_terminal() -> None:
    stream = io.StringIO()
    display = cli.ProgressDisplay(stream, interactive=False, provider="local", bar_width=10)
    display.show(event("status", "queued", 0.0, message="queued on local"))
    display.show(event("status", "running", 0.0, message="running on local"))
    display.show(event("progress", "running", 0.5, step=10, total_steps=20))
    display.show(event("progress", "running", 0.5, step=10, total_steps=20))  # no change
    display.show(event("status", "running", 0.5, message="local is busy; switching to sdxl"))
    display.close()
    assert stream.getvalue().splitlines() == [
        "queued on local",
        "[..........] 0% queued on local",
        "running on local",
        "[..........] 0% running on local",
        "[#####.....] 50% step 10/20 running on local",
        "local is busy; switching to sdxl",
    ]
    assert "\r" not in stream.getvalue()


def test_display_redraws_one_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    display = cli.ProgressDisplay(stream, interactive=True, provider="local", bar_width=10)
    display.show(event("progress", "running", 0.25, step=5, total_steps=20))
    display.show(event("progress", "running", 0.5, step=10, total_steps=20))
    assert "\n" not in stream.getvalue()
    display.note("switching provider")
    display.show(event("result", "succeeded", 1.0, result={**RESULT, "provider": "sdxl"}))
    display.close()
    screen = stream.getvalue()
    assert screen.count("\r") == 4
    assert screen.endswith("\r[##########] 100% step 20/20 succeeded on sdxl\n")
    # The note took a line of its own, then the bar was drawn again below it.
    assert "\rswitching provider" in screen
    assert "switching provider                          \n[#####.....]" in screen


# ---------------------------------------------------------------- the client


def test_submit_sends_the_token_and_a_snake_case_body() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=job_json())

    request = cli.build_generation_request(
        sketch=cli.sketch_data_url(TURTLE.read_bytes()),
        prompt="a turtle",
        guidance_scale=9.0,
        negative_prompt="blurry",
    )
    with client_for(handle) as client:
        job = client.submit(request)
    assert job.status is JobStatus.QUEUED
    (sent,) = seen
    assert (sent.method, str(sent.url)) == ("POST", f"{API}/generations")
    assert sent.headers["Authorization"] == "Bearer dev-token"
    body = json.loads(sent.content)
    assert body["negative_prompt"] == "blurry"
    # Unset knobs are left out: the provider's own defaults apply.
    assert body["params"] == {"guidance_scale": 9.0}
    assert body["sketch"].startswith("data:image/png;base64,")


def test_an_api_error_keeps_its_code_message_and_suggestions() -> None:
    error = {
        "code": "unknown_provider",
        "message": "There is no provider 'dalle'.",
        "suggestions": ['Use "auto", or one of the providers listed by GET /providers.'],
        "retryable": False,
    }

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": error})

    with client_for(handle) as client, pytest.raises(cli.ApiError) as caught:
        client.providers()
    assert caught.value.as_dict() == error
    assert caught.value.http_status == 400
    assert caught.value.exit_code == cli.EXIT_FAILED


def test_a_gateway_401_without_token_says_to_pass_one() -> None:
    failure = cli.error_from_response(401, b'{"message":"Unauthorized"}', token_given=False)
    assert (failure.code, failure.message) == ("unauthorized", "HTTP 401: Unauthorized")
    assert "--token" in failure.suggestions[0]


def test_a_gateway_502_page_is_retryable() -> None:
    failure = cli.error_from_response(502, b"<html>Bad Gateway</html>")
    assert failure.retryable
    assert failure.code == "unavailable"
    assert "Bad Gateway" in failure.message


def test_an_unreachable_api_is_reported_with_the_address() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client_for(handle) as client, pytest.raises(cli.ApiError) as caught:
        client.get("abc")
    assert caught.value.code == "unreachable"
    assert API in caught.value.message
    assert any("make run" in s for s in caught.value.suggestions)


def test_download_sends_no_api_token_to_a_presigned_url() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=TURTLE.read_bytes())

    with client_for(handle) as client:
        data = client.download(RESULT_URL)
    assert data == TURTLE.read_bytes()
    assert str(seen[0].url) == RESULT_URL
    assert "Authorization" not in seen[0].headers


def test_an_unexpected_answer_shape_is_reported_not_crashed_on() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "x"})

    with client_for(handle) as client, pytest.raises(cli.ApiError) as caught:
        client.get("x")
    assert caught.value.code == "bad_response"


def test_providers_table_lists_each_and_stars_the_default() -> None:
    capabilities = {
        "image_input": True,
        "seed": True,
        "negative_prompt": False,
        "min_side": 64,
        "max_side": 2048,
        "size_multiple": 8,
        "max_steps": 100,
        "progress": "steps",
    }
    side = {"min": 64, "max": 2048, "multiple": 8}
    # What GET /providers says besides the table's columns.
    details = {
        "reason": "answering normally",
        "capabilities": capabilities,
        "parameters": {"width": side, "height": side, "steps": {"min": 1, "max": 100}},
        "price": {"kind": "per_image", "prices": [{"usd": 0.0}]},
        "quote": {
            "width": 1024,
            "height": 1024,
            "steps": 20,
            "cost_usd": 0.0,
            "eta_s": 2.0,
            "eta_p90_s": 3.0,
        },
        "latency": {
            "p50_s": None,
            "p90_s": None,
            "error_rate": 0.0,
            "samples": 0,
            "window_s": 900.0,
        },
    }
    providers = ProvidersResponse.model_validate(
        {
            "default": "local",
            "auto": "local",
            "providers": [
                {
                    "name": "local",
                    "description": "Offline renderer; not AI.",
                    "is_ai": False,
                    "model": "local-renderer",
                    "status": "healthy",
                    **details,
                },
                {
                    "name": "replicate",
                    "description": "ControlNet scribble on Replicate.",
                    "is_ai": True,
                    "model": "rossjillian/controlnet",
                    "status": "degraded",
                    **details,
                },
            ],
        }
    )
    table = cli.render_providers_table(providers).splitlines()
    assert table[0].split() == ["NAME", "AI", "STATUS", "MODEL", "DESCRIPTION"]
    assert table[1].split()[:4] == ["local", "*", "no", "healthy"]
    assert table[2].split()[:4] == ["replicate", "yes", "degraded", "rossjillian/controlnet"]
    assert table[-1] == "* default for --provider auto: local"


# ---------------------------------------------------------------- following a job by polling


def follow(
    client: cli.SketchbridgeClient, job: dict[str, Any], **options: Any
) -> tuple[list[JobEventMessage], list[str], cli.JobFollower]:
    notices: list[str] = []
    from sketchbridge.domain.models import JobResponse

    follower = cli.JobFollower(
        client,
        JobResponse.model_validate(job),
        on_notice=notices.append,
        sleep=lambda seconds: None,
        **options,
    )
    return list(follower), notices, follower


def test_without_a_websocket_polling_reports_each_change_until_the_result() -> None:
    client = client_for(
        answers(
            job_json("queued"),
            job_json("queued"),
            job_json("running", progress=0.25),
            job_json("running", progress=0.25),
            job_json("running", progress=0.75),
            job_json("succeeded", progress=1.0, result=RESULT),
        )
    )
    events, notices, follower = follow(client, job_json("queued"))
    assert [(e.type, e.progress) for e in events] == [
        ("status", 0.0),
        ("progress", 0.25),
        ("progress", 0.75),
        ("result", 1.0),
    ]
    assert (events[1].step, events[1].total_steps) == (5, 20)
    assert events[-1].result is not None
    assert events[-1].result.url == RESULT["url"]
    assert follower.transports == ["polling"]
    assert len(notices) == 1
    assert "polling" in notices[0]


def test_polling_ends_with_the_error_of_a_failed_job() -> None:
    error: dict[str, Any] = {
        "code": "content_policy",
        "message": "The provider refused the prompt.",
        "suggestions": ["Rephrase the prompt or change the sketch; the provider refused it."],
        "retryable": False,
    }
    client = client_for(answers(job_json("running", progress=0.1), job_json("failed", error=error)))
    events, _, _ = follow(client, job_json("queued"))
    failure = cli.job_failure(events[-1], "0123456789abcdef")
    assert (failure.code, failure.message, failure.suggestions) == (
        "content_policy",
        "The provider refused the prompt.",
        tuple(error["suggestions"]),
    )
    assert failure.job_id == "0123456789abcdef"


def test_polling_rides_out_a_passing_gateway_error() -> None:
    replies = iter(
        [
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(200, json=job_json("succeeded", progress=1.0, result=RESULT)),
        ]
    )
    client = client_for(lambda request: next(replies))
    events, notices, _ = follow(client, job_json("queued"))
    assert events[-1].type == "result"
    assert any("did not answer" in notice for notice in notices)


def test_a_cached_job_ends_at_once_without_asking_anything() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    client = client_for(handle, ws_url="ws://never.test")
    events, notices, follower = follow(client, job_json("succeeded", progress=1.0, result=RESULT))
    assert [e.type for e in events] == ["result"]
    assert notices == []
    assert follower.transports == []


def test_waiting_too_long_gives_up_naming_the_job() -> None:
    ticks = iter(range(0, 1000, 4))
    client = client_for(answers(job_json("running", progress=0.1)))
    with pytest.raises(cli.CliError) as caught:
        follow(client, job_json("queued"), wait_seconds=10, clock=lambda: float(next(ticks)))
    assert caught.value.code == "client_timeout"
    assert caught.value.job_id == "0123456789abcdef"
    assert "still running" in caught.value.message


# ---------------------------------------------------------------- summaries


def test_summary_tells_where_how_big_who_and_how_long(tmp_path: Path) -> None:
    summary = cli.GenerationSummary(
        job_id="0123456789abcdef",
        output=tmp_path / "turtle-01234567.png",
        bytes=2048,
        width=512,
        height=512,
        provider="local",
        model="local-renderer",
        seed=7,
        elapsed_seconds=3.21,
        progress_events=20,
        cached=False,
        transports=["websocket"],
    )
    text = cli.render_summary(summary, shown_path=Path("turtle-01234567.png"))
    assert text.splitlines() == [
        "Saved turtle-01234567.png (512x512 PNG, 2.0 KB)",
        "provider local, model local-renderer, seed 7",
        "job 0123456789abcdef: 3.2 s, 20 progress events, via websocket",
    ]
    as_json = summary.as_dict()
    assert as_json["ok"] is True
    assert as_json["transport"] == "websocket"
    assert as_json["output"] == str(tmp_path / "turtle-01234567.png")


def test_an_error_shows_code_message_and_suggestions() -> None:
    error = cli.CliError(
        "The provider is busy.",
        code="rate_limited",
        suggestions=["Try again in a moment, or choose another provider."],
        retryable=True,
        job_id="j1",
    )
    assert cli.render_error(error).splitlines() == [
        "error: The provider is busy. [rate_limited]",
        "  - Try again in a moment, or choose another provider.",
        "  job j1",
        "  Trying again may help.",
    ]
