"""Emulated AWS for the integration tests: moto in server mode, provisioned from template.yaml.

The adapters and handlers run unchanged in this process, configured only through the
environment the template gives each function. Everything they reach is on 127.0.0.1: moto
for DynamoDB, S3 and SQS, and one small HTTP server standing in for what moto does not
emulate: the JWT issuer's key set and API Gateway's ``@connections`` endpoint.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.dev_jwt import DevIssuer
from local.moto_server import MotoServer
from local.provision import provision
from local.stack import handler_environment
from local.template import load_template
from sketchbridge import bootstrap, settings
from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_connections import DynamoConnectionStore
from sketchbridge.aws.dynamo_jobs import DynamoJobStore
from sketchbridge.aws.s3_objects import S3ObjectStore

REPO_ROOT = Path(__file__).resolve().parents[2]
ISSUER_PATH = "/issuer"
MANAGEMENT_PATH = "/ws-management"


@dataclass
class PushedFrames:
    """What API Gateway would have delivered to each WebSocket connection."""

    gone: set[str] = field(default_factory=set)
    _frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, connection_id: str, payload: bytes) -> bool:
        """Keep a frame; False when the client has gone (API Gateway answers 410)."""
        with self._lock:
            if connection_id in self.gone:
                return False
            self._frames.setdefault(connection_id, []).append(json.loads(payload))
            return True

    def received_by(self, connection_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._frames.get(connection_id, []))


class _StandInServer(ThreadingHTTPServer):
    """Plays the JWT issuer's JWKS and API Gateway's @connections API on one free port."""

    def __init__(self, frames: PushedFrames) -> None:
        super().__init__(("127.0.0.1", 0), _StandInRequestHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        # The issuer's URL contains this server's port, so it is made once the port is known.
        self.issuer = DevIssuer(f"{self.url}{ISSUER_PATH}")
        self.frames = frames


class _StandInRequestHandler(BaseHTTPRequestHandler):
    server: _StandInServer

    def do_GET(self) -> None:
        if self.path != f"{ISSUER_PATH}/.well-known/jwks.json":
            self._answer(404, {"message": "Not Found"})
            return
        self._answer(200, self.server.issuer.jwks())

    def do_POST(self) -> None:
        prefix = f"{MANAGEMENT_PATH}/@connections/"
        if not self.path.startswith(prefix):
            self._answer(404, {"message": "Not Found"})
            return
        payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.frames.record(self.path.removeprefix(prefix), payload):
            self._answer(200, {})
        else:
            # boto3 reads the error code from this header and raises GoneException.
            self._answer(410, {"message": None}, {"x-amzn-ErrorType": "GoneException"})

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test report is the log worth reading


@dataclass(frozen=True)
class EmulatedAws:
    """The provisioned resources' physical names, and the stand-ins the handlers talk to."""

    endpoint_url: str
    jobs_table: str
    connections_table: str
    queue_url: str
    queue_arn: str
    bucket: str
    issuer: DevIssuer
    frames: PushedFrames

    def receive_messages(self) -> list[dict[str, Any]]:
        """Every message now visible on the jobs queue, as the SQS event source receives them."""
        sqs = client("sqs")
        received: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return received
            received.extend(batch)


def _clear_cold_start() -> None:
    """Forget the dependencies a previous 'cold start' built from another environment."""
    bootstrap.dependencies.cache_clear()
    bootstrap.token_verifier.cache_clear()
    bootstrap.api_keys.cache_clear()
    bootstrap.webhook_queue.cache_clear()
    settings.current_settings.cache_clear()


@pytest.fixture(scope="package")
def aws() -> Iterator[EmulatedAws]:
    """moto on 127.0.0.1 with what template.yaml declares; the process set up as a function's."""
    stand_ins = _StandInServer(PushedFrames())
    threading.Thread(target=stand_ins.serve_forever, name="stand-ins", daemon=True).start()
    issuer = stand_ins.issuer
    moto = MotoServer(port=0)
    try:
        endpoint_url = moto.start()
        provisioned = provision(
            load_template(REPO_ROOT / "template.yaml"),
            endpoint_url=endpoint_url,
            environment_overrides={
                "WEBSOCKET_MANAGEMENT_URL": f"{stand_ins.url}{MANAGEMENT_PATH}",
                "JWT_ISSUER": issuer.issuer,
                "JWT_AUDIENCE": issuer.audience,
            },
        )
        ids = provisioned.physical_ids
        [jobs_source] = [
            source
            for source in provisioned.queue_event_sources
            if source.queue_url == provisioned.physical_ids["JobsQueue"]
        ]
        with pytest.MonkeyPatch.context() as environment:
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                environment.delenv(name, raising=False)
            # No developer's ~/.aws may leak into what the handlers see.
            environment.setenv("AWS_CONFIG_FILE", os.devnull)
            environment.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            for name, value in handler_environment(provisioned, endpoint_url).items():
                environment.setenv(name, value)
            _clear_cold_start()
            yield EmulatedAws(
                endpoint_url=endpoint_url,
                jobs_table=ids["JobsTable"],
                connections_table=ids["ConnectionsTable"],
                queue_url=jobs_source.queue_url,
                queue_arn=jobs_source.queue_arn,
                bucket=ids["ArtifactsBucket"],
                issuer=issuer,
                frames=stand_ins.frames,
            )
            _clear_cold_start()
    finally:
        stand_ins.shutdown()
        stand_ins.server_close()
        moto.stop()


@pytest.fixture
def jobs(aws: EmulatedAws) -> DynamoJobStore:
    return DynamoJobStore(client("dynamodb"), aws.jobs_table)


@pytest.fixture
def connections(aws: EmulatedAws) -> DynamoConnectionStore:
    return DynamoConnectionStore(client("dynamodb"), aws.connections_table)


@pytest.fixture
def objects(aws: EmulatedAws) -> S3ObjectStore:
    return S3ObjectStore(client("s3"), aws.bucket)


@pytest.fixture
def cold_start(aws: EmulatedAws) -> Iterator[None]:
    """Handlers build their dependencies afresh from this environment, and leave none behind."""
    _clear_cold_start()
    yield
    # What was built points at this package's moto; no later test may inherit it.
    _clear_cold_start()


@pytest.fixture
def providers_table(aws: EmulatedAws) -> str:
    """The provisioned providers table, read from the environment the template gives the
    functions (PROVIDERS_TABLE)."""
    return os.environ["PROVIDERS_TABLE"]
