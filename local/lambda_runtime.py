"""Invoke a function's handler in this process, the way the Lambda Python runtime would.

Each function's module is loaded from its own file under a module name of its own, so the
four `app` modules do not collide, and only on its first invocation, like a cold start. The
context object carries what the runtime's `LambdaContext` carries.

Unlike Lambda, invocations share one process and may run concurrently in threads: state a
handler caches per cold start is shared by concurrent invocations here.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.provision import FunctionConfig
from sketchbridge.domain import clock

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The runtime's context object: names, limits and the time left."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    # The Python runtime reads this from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float = field(repr=False)
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


class LocalFunction:
    """One Lambda function: its configuration and its lazily loaded handler."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self._handler: Handler | None = None
        self._load_lock = threading.Lock()
        self._log_stream_name = f"{clock.utc_now():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    def invoke(self, event: Any) -> Any:
        """Call the handler with `event` and a fresh context; its exceptions propagate."""
        handler = self._loaded_handler()
        context = self.new_context()
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > self.config.timeout_seconds:
                # Threads cannot be killed; Lambda would have ended this invocation.
                logger.warning(
                    "%s ran %.1f s, past its %d s timeout: on AWS this invocation times out",
                    self.config.logical_id,
                    elapsed,
                    self.config.timeout_seconds,
                )

    def new_context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.config.name,
            function_version="$LATEST",
            invoked_function_arn=self.config.arn,
            memory_limit_in_mb=str(self.config.memory_mb),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.config.name}",
            log_stream_name=self._log_stream_name,
            deadline_monotonic=time.monotonic() + self.config.timeout_seconds,
        )

    def _loaded_handler(self) -> Handler:
        with self._load_lock:
            if self._handler is None:
                self._handler = load_handler(self.config)
            return self._handler


def load_handler(config: FunctionConfig) -> Handler:
    """Import `<CodeUri>/<module>.py` under a name unique to the function; return the handler."""
    module_path, _, function_name = config.handler.rpartition(".")
    source = config.code_uri.joinpath(*module_path.split(".")).with_suffix(".py")
    if not source.is_file():
        raise FileNotFoundError(f"{config.logical_id}: no handler module at {source}")
    module = _import_file(f"_local_lambda_{_identifier(config.logical_id)}", source)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f"{config.logical_id}: {source} has no callable {function_name!r}")
    logger.debug("loaded %s from %s", config.logical_id, source)
    return handler  # type: ignore[no-any-return]


def _import_file(module_name: str, source: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name)
