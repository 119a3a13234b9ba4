"""The emulator with the local runtime: moto's server, patched (:mod:`.moto_patches`), and the
runtime (:mod:`.runtime`) in one process on localhost.

Control endpoints beside moto's API, under ``/_sp_local/``:

- ``GET /_sp_local/status``: workers, in-flight invocations, seconds since the last activity;
- ``POST /_sp_local/refresh``: re-read the deployed stacks now;
- ``POST /_sp_local/schedules/<name>/run``: run a Scheduler schedule now;
- ``POST /_sp_local/time-scale``: ``{"scale": 60}`` sets the time scale from now on (waits
  already begun keep theirs);
- ``GET /_sp_local/apis``: the URL of every REST API stage the API front serves;
- ``POST /_sp_local/faults``: make the next ``count`` calls of one operation fail with a
  service error, e.g. ``{"service": "kinesis", "operation": "PutRecord", "error":
  "ProvisionedThroughputExceededException", "count": 1}`` (how a test sees throttling, which
  the emulator never does by itself); ``DELETE`` clears them.

The API front (:mod:`.apigateway`) listens on its own port on 127.0.0.1 (``--api-port``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "/_sp_local/"


@dataclass
class Fault:
    service: str
    operation: str
    error: str
    status: int = 400
    message: str = "injected by the local runtime"
    count: int = 1

    def matches(self, environ: dict[str, Any]) -> bool:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        scope = str(environ.get("HTTP_AUTHORIZATION", ""))
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
        operation = target.rsplit(".", 1)[-1] if target else (query.get("Action") or [""])[0]
        return operation == self.operation and f"/{self.service}/aws4_request" in scope


def _injected(faults: list[Fault], lock: threading.Lock, environ: dict[str, Any]) -> Fault | None:
    with lock:
        for fault in faults:
            if fault.count > 0 and fault.matches(environ):
                fault.count -= 1
                return fault
    return None


def _json_body(environ: dict[str, Any]) -> Any:
    """A control request's JSON body ({} when it has none)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(length) or b"{}")


def _control(runtime: Any, app: Any, front: Any) -> Callable[..., Iterable[bytes]]:
    faults: list[Fault] = []
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PREFIX):
            fault = _injected(faults, lock, environ) if faults else None
            if fault is None:
                return app(environ, start_response)  # type: ignore[no-any-return]
            data = json.dumps({"__type": fault.error, "message": fault.message}).encode()
            start_response(
                f"{fault.status} Injected",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Content-Length", str(len(data))),
                    ("x-amzn-ErrorType", fault.error),
                ],
            )
            return [data]
        route = path[len(PREFIX) :].strip("/").split("/")
        method = environ.get("REQUEST_METHOD", "GET")
        status = "404 Not Found"
        body: dict[str, Any] = {"error": f"no such endpoint: {path}"}
        if route == ["faults"] and method == "POST":
            try:
                fault = Fault(**_json_body(environ))
            except (TypeError, ValueError) as error:
                status, body = "400 Bad Request", {"error": f"not a fault: {error}"}
            else:
                with lock:
                    faults.append(fault)
                status, body = "200 OK", {"faults": [vars(f) for f in faults]}
        elif route == ["time-scale"] and method == "POST":
            try:
                scale = float(_json_body(environ)["scale"])
                if not scale > 0:
                    raise ValueError(f"{scale} is not > 0")
            except (KeyError, TypeError, ValueError) as error:
                status, body = "400 Bad Request", {"error": f"not a time scale: {error}"}
            else:
                runtime.clock.scale = scale
                status, body = "200 OK", {"time_scale": scale}
        elif route == ["faults"] and method == "DELETE":
            with lock:
                faults.clear()
            status, body = "200 OK", {"faults": []}
        elif route == ["status"]:
            status, body = "200 OK", {**runtime.status(), "apis": front.describe()}
        elif route == ["apis"]:
            status, body = "200 OK", {"apis": front.describe()}
        elif route == ["refresh"] and method == "POST":
            runtime.refresh()
            status, body = "200 OK", {**runtime.status(), "apis": front.describe()}
        elif len(route) == 3 and route[0] == "schedules" and route[2] == "run" and method == "POST":
            found = runtime.run_schedule(route[1])
            status, body = (
                ("200 OK", {"ran": route[1]})
                if found
                else ("404 Not Found", {"error": f"no schedule named {route[1]}"})
            )
        data = json.dumps(body, default=str).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]

    return application


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="serverless-patterns-local serve",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--state-dir", type=Path, default=Path(".local/emulator"))
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("SP_LOCAL_TIME_SCALE", "1")),
        help="how many times faster long waits pass (default 1: real time)",
    )
    parser.add_argument("--api-host", default="127.0.0.1", help="the API front's address")
    parser.add_argument(
        "--api-port", type=int, default=0, help="the API front's port (default: a free one)"
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (default: warnings and the runtime's own lines only)",
    )
    args = parser.parse_args(argv)

    os.environ["MOTO_PORT"] = str(args.port)  # moto's Step Functions interpreter calls back here
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.access_log:  # a line per request cost a tenth of the server's time under load
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from serverless_patterns.local import moto_patches
    from serverless_patterns.local.apigateway import ApiFront
    from serverless_patterns.local.clock import Clock
    from serverless_patterns.local.runtime import Runtime

    runtime = Runtime(
        endpoint=f"http://{args.host}:{args.port}",
        state_dir=args.state_dir.resolve(),
        clock=Clock(args.time_scale),
    )
    moto_patches.install(runtime)
    front = ApiFront(runtime, host=args.api_host, port=args.api_port)
    runtime.on_refresh.append(front.refresh)

    def stop(signum: int, frame: Any) -> None:
        front.stop()
        runtime.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    front.start()
    runtime.start()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        _control(runtime, app, front),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
