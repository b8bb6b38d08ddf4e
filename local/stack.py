"""The whole offline stack: `python -m local.stack [--port 3000] [--aws-port 0] [--standins]`.

Starts moto, provisions what `template.yaml` declares, points the handlers at it through the
process environment, starts the SQS pollers and serves the gateway. With `--standins` it also
starts the Replicate, OpenAI and Bedrock stand-ins (`local/standins/`), points the real adapters
at them and enables those providers; `auto` then picks one of them (AI), never `local`. Tests
use `LocalStack` in-process (`with LocalStack(port=0, aws_port=0) as stack: ...`) or
`StackProcess`, which runs `python -m local.stack` in a subprocess and reads the URLs from its
state file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from local import routes
from local.dev_jwt import DevIssuer, issuer_url
from local.gateway import WEBSOCKET_PATH, Gateway, connections_url
from local.lambda_runtime import LocalFunction
from local.moto_server import DUMMY_CREDENTIALS, MotoServer
from local.poller import QueuePoller, by_priority, higher_priority
from local.provision import Provisioned, provision
from local.server import BackgroundServer, listen
from local.sigv4 import AdminCredentials
from local.standins.launcher import Standins
from local.template import REGION, load_template
from sketchbridge.domain import clock

logger = logging.getLogger("local.stack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_FILE = REPO_ROOT / ".local" / "stack.json"
DEV_USER = "dev-user"

# With the stand-ins on, every provider is enabled; `local` stays first, the default, but "auto"
# means AI and picks a stand-in; `--provider local` still reaches the offline renderer.
STANDIN_ENABLED_PROVIDERS = "local,replicate,openai,bedrock"

# Read by the Powertools utilities the handlers use; set unless the template sets them.
_LOCAL_DEFAULTS = {
    "POWERTOOLS_SERVICE_NAME": "sketchbridge",
    "POWERTOOLS_METRICS_NAMESPACE": "Sketchbridge",
    # There is no X-Ray daemon to send traces to.
    "POWERTOOLS_TRACE_DISABLED": "true",
}

# Lets the test suite start a stack on the same calendar as itself (tests/conftest.py).
PINNED_NOW_VARIABLE = "SKETCHBRIDGE_NOW"


class LocalStack:
    """The stack in this process; ports may be 0 (a free one, read back from the URLs)."""

    def __init__(
        self,
        *,
        port: int = 3000,
        aws_port: int = 0,
        standins: bool = False,
        template_path: Path = REPO_ROOT / "template.yaml",
        web_root: Path = REPO_ROOT / "web",
        state_file: Path | None = None,
        parameter_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._requested_port = port
        self._standins = standins
        self._template_path = template_path
        self._web_root = web_root
        self._state_file = state_file
        self._parameter_overrides = dict(parameter_overrides or {})
        if standins:
            # What deploying with EnabledProviders=... would do; an explicit override still wins.
            self._parameter_overrides.setdefault("EnabledProviders", STANDIN_ENABLED_PROVIDERS)
        self._moto = MotoServer(port=aws_port)
        self._pollers: list[QueuePoller] = []
        self._server: BackgroundServer | None = None
        self._lambda_server: BackgroundServer | None = None
        self._saved_environ: dict[str, str | None] = {}
        self.port = 0
        # Lambda's Invoke API: its own loopback port, never the API's (see local/gateway.py).
        self.lambda_port = 0
        self.issuer: DevIssuer | None = None
        self.provisioned: Provisioned | None = None
        self.gateway: Gateway | None = None
        self.dev_token = ""
        # What the admin routes (/admin/*, AWS_IAM) accept: fresh for every stack.
        self.admin_credentials = AdminCredentials.generate(REGION)
        # Started with the stack when `standins` is true; tests script them through `.controls`.
        self.standins: Standins | None = None

    # -- what tests and the banner read -------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WEBSOCKET_PATH}"

    @property
    def aws_endpoint_url(self) -> str:
        return self._moto.endpoint_url

    @property
    def lambda_url(self) -> str:
        """What AWS_ENDPOINT_URL_LAMBDA is for the handlers: `<url>/2015-03-31/functions/...`."""
        return f"http://127.0.0.1:{self.lambda_port}"

    def mint_token(self, sub: str, **claims: Any) -> str:
        """A token for another user (tests check that users cannot see each other's jobs)."""
        if self.issuer is None:
            raise RuntimeError("the stack has not been started")
        return self.issuer.mint(sub, **claims)

    def state(self) -> dict[str, Any]:
        """What `stack.json` holds."""
        return {
            "api_url": self.api_url,
            "ws_url": self.ws_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "lambda_url": self.lambda_url,
            "dev_token": self.dev_token,
            "issuer": self.issuer.issuer if self.issuer else "",
            # Each stand-in's root URL; its control API is at <url>/_control/...
            "standins": self.standins.urls if self.standins else {},
            # The dummy IAM key the admin routes verify SigV4 signatures against.
            "admin_credentials": self.admin_credentials.as_dict(),
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        listener = listen(self._requested_port)
        try:
            lambda_listener = listen(0)
        except BaseException:
            listener.close()
            raise
        try:
            self.port = listener.getsockname()[1]
            self.lambda_port = lambda_listener.getsockname()[1]
            if self._standins:
                # Before the handlers are configured: their environment names these URLs.
                self.standins = Standins().start()
            self._start_services(listener, lambda_listener)
        except BaseException:
            listener.close()
            lambda_listener.close()
            self.stop()
            raise
        if self._state_file is not None:
            _write_atomically(self._state_file, json.dumps(self.state(), indent=2) + "\n")
        return self

    def _start_services(self, listener: socket.socket, lambda_listener: socket.socket) -> None:
        aws_endpoint_url = self._moto.start()
        self.issuer = DevIssuer(issuer_url(self.port))
        self.dev_token = self.issuer.mint(DEV_USER)
        template = load_template(self._template_path, parameter_overrides=self._parameter_overrides)
        provisioned = provision(
            template,
            endpoint_url=aws_endpoint_url,
            environment_overrides={
                "WEBSOCKET_MANAGEMENT_URL": connections_url(self.api_url),
                "JWT_ISSUER": self.issuer.issuer,
                "JWT_AUDIENCE": self.issuer.audience,
            },
        )
        self.provisioned = provisioned
        environment = handler_environment(provisioned, aws_endpoint_url)
        # Functions that invoke other functions (Submit → OCR) reach them on the Invoke port.
        environment["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_url
        if self.standins is not None:
            environment.update(self.standins.environment())
        self._apply_environ(environment)

        functions = {
            logical_id: LocalFunction(config)
            for logical_id, config in provisioned.functions.items()
        }
        assert provisioned.resolver is not None
        self.gateway = Gateway(
            http_api=routes.http_api(template, provisioned.resolver, functions),
            websocket_api=routes.websocket_api(template, provisioned.resolver, functions),
            functions=functions,
            issuer=self.issuer,
            page_config={
                "api_url": self.api_url,
                "ws_url": self.ws_url,
                "dev_token": self.dev_token,
            },
            web_root=self._web_root,
            admin_credentials=self.admin_credentials,
        )
        self._serve(listener, lambda_listener)
        # Highest MaximumConcurrency first: lower-priority queues yield to the earlier ones.
        sources = by_priority(
            s for s in provisioned.queue_event_sources if s.enabled and s.function_id in functions
        )
        for source in sources:
            poller = QueuePoller(
                source,
                functions[source.function_id],
                endpoint_url=aws_endpoint_url,
                yields_to=higher_priority(source, self._pollers),
            )
            poller.start()
            self._pollers.append(poller)

    def _serve(self, listener: socket.socket, lambda_listener: socket.socket) -> None:
        assert self.gateway is not None
        self._server = BackgroundServer(self.gateway.app(), listener)
        self._server.start()
        self._lambda_server = BackgroundServer(self.gateway.lambda_app(), lambda_listener)
        self._lambda_server.start()

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        for server in (self._server, self._lambda_server):
            if server is not None:
                server.stop()
        self._server = self._lambda_server = None
        self._moto.stop()
        if self.standins is not None:
            self.standins.stop()
            self.standins = None
        self._restore_environ()
        if self._state_file is not None:
            self._state_file.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the process environment --------------------------------------------------------------

    def _apply_environ(self, environment: Mapping[str, str]) -> None:
        for name, value in environment.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        _forget_cold_start()

    def _restore_environ(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
        _forget_cold_start()


def _forget_cold_start() -> None:
    """Drop what the handlers built from the old environment, as a new container would."""
    from sketchbridge import bootstrap, settings

    bootstrap.dependencies.cache_clear()
    bootstrap.token_verifier.cache_clear()
    settings.current_settings.cache_clear()


def handler_environment(provisioned: Provisioned, aws_endpoint_url: str) -> dict[str, str]:
    """The environment every handler sees: the union of the functions' variables.

    All handlers share this one process environment, so two functions giving one variable
    different values cannot both be honoured (that would need a subprocess per function);
    the stack warns and the last one wins.
    """
    environment: dict[str, str] = dict(_LOCAL_DEFAULTS)
    declared_by: dict[str, str] = {}
    for config in provisioned.functions.values():
        for name, value in config.environment.items():
            if name in declared_by and environment[name] != value:
                logger.warning(
                    "%s and %s set %s differently; both see %r",
                    declared_by[name],
                    config.logical_id,
                    name,
                    value,
                )
            environment[name] = value
            declared_by[name] = config.logical_id
    environment.update(DUMMY_CREDENTIALS)
    environment["AWS_ENDPOINT_URL"] = aws_endpoint_url
    return environment


class StackProcess:
    """`python -m local.stack` in a subprocess; its URLs come from its own state file."""

    def __init__(
        self,
        *,
        state_file: Path,
        port: int = 0,
        aws_port: int = 0,
        standins: bool = False,
        startup_timeout_seconds: float = 60,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """``environment``: variables laid over this process's own for the stack (e.g. a
        setting the template leaves at its default, such as ``BREAKER_COOLDOWN_S``)."""
        self._state_file = state_file
        self._environment = dict(environment or {})
        self._arguments = [
            "--port",
            str(port),
            "--aws-port",
            str(aws_port),
            "--state-file",
            str(state_file),
            *(["--standins"] if standins else []),
        ]
        self._startup_timeout_seconds = startup_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}

    @property
    def api_url(self) -> str:
        return str(self.state["api_url"])

    @property
    def state_file(self) -> Path:
        """Where the stack wrote its URLs and keys: what `sketchbridge --stack-file` reads."""
        return self._state_file

    @property
    def ws_url(self) -> str:
        return str(self.state["ws_url"])

    @property
    def aws_endpoint_url(self) -> str:
        return str(self.state["aws_endpoint_url"])

    @property
    def dev_token(self) -> str:
        return str(self.state["dev_token"])

    @property
    def lambda_url(self) -> str:
        return str(self.state["lambda_url"])

    def start(self) -> Self:
        self._state_file.unlink(missing_ok=True)
        environment = {**os.environ, **self._environment}
        if PINNED_NOW_VARIABLE in os.environ and PINNED_NOW_VARIABLE not in self._environment:
            # A caller on a pinned calendar (the test suite) starts the stack on it, where its
            # own pinned clock stands now, not where it stood when it was pinned.
            environment[PINNED_NOW_VARIABLE] = clock.utc_now().isoformat()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", *self._arguments],
            cwd=REPO_ROOT,
            env=environment,
        )
        deadline = time.monotonic() + self._startup_timeout_seconds
        while not self._state_file.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"local.stack exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("local.stack did not write its state file in time")
            time.sleep(0.05)
        self.state = json.loads(self._state_file.read_text(encoding="utf-8"))
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _write_atomically(path: Path, text: str) -> None:
    """Readers polling for the file never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _banner(stack: LocalStack) -> str:
    standins = stack.standins.urls if stack.standins else {}
    return "\n".join(
        [
            "",
            "Sketchbridge local stack",
            f"  web page        {stack.api_url}/",
            f"  HTTP API        {stack.api_url}",
            f"  WebSocket       {stack.ws_url}?token=<jwt>",
            f"  emulated AWS    {stack.aws_endpoint_url}",
            f"  Lambda Invoke   {stack.lambda_url}  (loopback tools only, e.g. HealthFunction)",
            f"  dev issuer      {stack.issuer.issuer if stack.issuer else ''}",
            f"  dev token       {stack.dev_token}",
            *(f"  {name:<15} {url}  (stand-in)" for name, url in standins.items()),
            "Ctrl-C stops it.",
            "",
        ]
    )


def _aware_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} names no timezone (add Z or +00:00)")
    return moment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="gateway port (0: any free one)")
    parser.add_argument("--aws-port", type=int, default=0, help="moto port (0: any free one)")
    parser.add_argument("--standins", action="store_true", help="start the provider stand-ins")
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument("--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--now",
        type=_aware_datetime,
        default=os.environ.get(PINNED_NOW_VARIABLE) or None,
        help=f"start the stack's calendar at this ISO 8601 instant (or ${PINNED_NOW_VARIABLE}); "
        "it ticks on from there. For trying dates: model retirements, budget periods",
    )
    arguments = parser.parse_args(argv)
    if arguments.now is not None:
        clock.pin(arguments.now)  # argparse applies `type` to a string default too
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # uvicorn.error logs every WebSocket handshake at INFO, tokens in the query string included.
    for noisy in (
        "botocore",
        "boto3",
        "urllib3",
        "samtranslator",
        "werkzeug",
        "httpx",
        "uvicorn.error",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(
        port=arguments.port,
        aws_port=arguments.aws_port,
        standins=arguments.standins,
        state_file=arguments.state_file,
    )
    try:
        stack.start()
    except OSError as error:
        print(f"The local stack could not start: {error}", file=sys.stderr)
        return 1
    try:
        print(_banner(stack), flush=True)
        stopping.wait()
    finally:
        print("Stopping the local stack.", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
