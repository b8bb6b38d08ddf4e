"""Cache hits against misses on the local stack: latency, and AWS API calls per job.

    .venv/bin/python -m bench.cache [--pairs 10] [--steps 20]

Latency (``python -m local.stack`` in a subprocess, over HTTP and the WebSocket): each
pair submits a new request, subscribes and waits for its result frame (the miss), then
submits the identical request again (the hit, answered 200 from the cache). The first
pair includes the handlers' cold starts and is left out.

API calls (the stack in this process): every boto3 client the handlers build is hooked
(botocore's ``before-call`` event) and each call counted by service and operation, for
one job at a time: a hit, a miss nobody watches, and a miss watched over the WebSocket
(connect, subscribe, then every frame is a push). Calls made by Lambda's SQS event source
(ReceiveMessage, DeleteMessageBatch) are not the handlers' and are not counted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from local.provision import aws_session
from local.stack import LocalStack, StackProcess
from local.template import STACK_NAME

SKETCH = Path(__file__).resolve().parents[2] / "shared" / "sketches" / "turtle.png"


def _body(prompt: str, steps: int) -> dict[str, Any]:
    sketch = "data:image/png;base64," + base64.b64encode(SKETCH.read_bytes()).decode()
    return {"sketch": sketch, "prompt": prompt, "params": {"seed": 11, "steps": steps}}


def _wait_for_result(ws_url: str, token: str, job_id: str) -> None:
    with connect(f"{ws_url}?token={token}") as socket:
        socket.send(json.dumps({"action": "subscribe", "id": job_id}))
        while True:
            frame = json.loads(socket.recv(timeout=120))
            if frame["type"] == "error":
                raise RuntimeError(frame["error"])
            if frame["type"] == "result":
                return


# ---------------------------------------------------------------- latency


def _latency_pair(stack: StackProcess, client: httpx.Client, steps: int) -> dict[str, float]:
    body = _body(f"a lighthouse at dusk {uuid.uuid4().hex[:8]}", steps)
    started = time.perf_counter()
    miss = client.post(f"{stack.api_url}/generations", json=body)
    assert miss.status_code == 202, miss.text
    accepted = time.perf_counter()
    _wait_for_result(stack.ws_url, stack.dev_token, miss.json()["id"])
    finished = time.perf_counter()

    hit_started = time.perf_counter()
    hit = client.post(f"{stack.api_url}/generations", json=body)
    hit_done = time.perf_counter()
    assert hit.status_code == 200 and hit.json()["cached"] is True, hit.text
    return {
        "miss_accepted_s": accepted - started,
        "miss_result_s": finished - started,
        "hit_s": hit_done - hit_started,
    }


def measure_latency(*, pairs: int, steps: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        StackProcess(state_file=Path(scratch) / "stack.json") as stack,
    ):
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)
        runs = [_latency_pair(stack, client, steps) for _ in range(pairs + 1)]
    warm = runs[1:]

    def summary(key: str) -> dict[str, float]:
        values = sorted(run[key] for run in warm)
        return {
            "median": round(statistics.median(values), 3),
            "p90": round(values[int(0.9 * (len(values) - 1))], 3),
            "max": round(values[-1], 3),
        }

    return {
        "pairs": pairs,
        "steps": steps,
        "cold_first_pair": {key: round(value, 3) for key, value in runs[0].items()},
        "hit_s": summary("hit_s"),
        "miss_accepted_s": summary("miss_accepted_s"),
        "miss_result_s": summary("miss_result_s"),
    }


# ---------------------------------------------------------------- API calls


class ApiCallCounter:
    """Counts every call of the hooked clients: by (who, "service.Operation")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()

    def hook(self, aws_client: Any) -> Any:
        # Emitted once per API call actually sent (not for presigned URLs, which are local).
        aws_client.meta.events.register("before-call", self._count)
        return aws_client

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        # The local poller runs the processor on its own thread, which runs the provider on
        # another (provider_chain); the gateway runs the other handlers.
        thread = threading.current_thread().name
        who = "processor" if thread.startswith(("poller-", "provider-")) else "api"
        operation = f"{model.service_model.service_name}.{model.name}"
        if model.service_model.service_name == "dynamodb":
            # ``params`` is the serialized request here: DynamoDB's is JSON naming the table.
            table = json.loads(params.get("body") or b"{}").get("TableName")
            if isinstance(table, str):
                operation += f" {table.removeprefix(f'{STACK_NAME}-')}"
        with self._lock:
            self.calls[(who, operation)] += 1

    @contextmanager
    def window(self) -> Iterator[Counter[tuple[str, str]]]:
        """The calls made while the block runs (the block waits for its job to finish)."""
        with self._lock:
            before = Counter(self.calls)
        counted: Counter[tuple[str, str]] = Counter()
        yield counted
        with self._lock:
            counted.update(self.calls - before)


@contextmanager
def _hooked_clients(counter: ApiCallCounter) -> Iterator[None]:
    """Every client the handlers' factory builds is counted."""
    from sketchbridge.aws import factory

    real = factory.client

    def counted_client(service: str, **kwargs: Any) -> Any:
        return counter.hook(real(service, **kwargs))

    factory.client = counted_client
    try:
        yield
    finally:
        factory.client = real


def _settled(counter: ApiCallCounter, quiet_s: float = 0.5) -> None:
    """Wait until no call has been made for ``quiet_s`` (the poller's last writes)."""
    last = -1
    while True:
        total = sum(counter.calls.values())
        if total == last:
            return
        last = total
        time.sleep(quiet_s)


def _wait_until_final(stack: LocalStack, job_id: str) -> None:
    """Watch the job's record through a client of our own: its reads are not counted."""
    assert stack.provisioned is not None
    dynamodb = aws_session().client("dynamodb", endpoint_url=stack.aws_endpoint_url)
    table = stack.provisioned.physical_ids["JobsTable"]
    while True:
        item = dynamodb.get_item(
            TableName=table, Key={"id": {"S": job_id}}, ConsistentRead=True
        ).get("Item", {})
        if item.get("status", {}).get("S") in ("succeeded", "failed"):
            return
        time.sleep(0.1)


def _table(counted: Counter[tuple[str, str]]) -> dict[str, Any]:
    by_who: dict[str, dict[str, int]] = {}
    for (who, operation), calls in sorted(counted.items()):
        by_who.setdefault(who, {})[operation] = calls
    return {
        "total": sum(counted.values()),
        **{who: {"total": sum(ops.values()), **ops} for who, ops in by_who.items()},
    }


def count_api_calls(*, steps_options: tuple[int, ...]) -> dict[str, Any]:
    counter = ApiCallCounter()
    figures: dict[str, Any] = {}
    with _hooked_clients(counter), LocalStack(port=0, aws_port=0) as stack:
        client = httpx.Client(headers={"authorization": f"Bearer {stack.dev_token}"}, timeout=60)

        def post(body: dict[str, Any]) -> httpx.Response:
            response = client.post(f"{stack.api_url}/generations", json=body)
            response.raise_for_status()
            return response

        # Warm every handler (cold starts read nothing extra, but keep it comparable).
        warm = post(_body("warm-up", 1)).json()["id"]
        _wait_for_result(stack.ws_url, stack.dev_token, warm)
        _settled(counter)
        for steps in steps_options:
            body = _body(f"a lighthouse {uuid.uuid4().hex[:8]}", steps)
            with counter.window() as unwatched:
                job_id = post(body).json()["id"]
                _wait_until_final(stack, job_id)
                _settled(counter)
            with counter.window() as hit:
                assert post(body).status_code == 200
            watched_body = _body(f"a lighthouse {uuid.uuid4().hex[:8]}", steps)
            with counter.window() as watched:
                job_id = post(watched_body).json()["id"]
                _wait_for_result(stack.ws_url, stack.dev_token, job_id)
                _settled(counter)
            figures[f"steps_{steps}"] = {
                "hit": _table(hit),
                "miss_unwatched": _table(unwatched),
                "miss_watched": _table(watched),
            }
    return figures


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """The stack's banner, the handlers' logs and metrics go to stderr: stdout is the figures.

    At the descriptor level, so the stack's subprocess and this process's handlers follow.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run(*, pairs: int = 10, steps: int = 20) -> dict[str, Any]:
    with _stdout_to_stderr():
        return {
            "latency": measure_latency(pairs=pairs, steps=steps),
            "api_calls_per_job": count_api_calls(steps_options=(1, steps)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    print(json.dumps(run(pairs=arguments.pairs, steps=arguments.steps), indent=2))


if __name__ == "__main__":
    main()
