"""The emulator with the local runtime: moto's server, patched (:mod:`.moto_patches`), and the
runtime (:mod:`.runtime`) in one process on localhost.

Control endpoints beside moto's API, under ``/_sp_local/``:

- ``GET /_sp_local/status``: workers, in-flight invocations, seconds since the last activity;
- ``POST /_sp_local/refresh``: re-read the deployed stacks now;
- ``POST /_sp_local/schedules/<name>/run``: run a Scheduler schedule now.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

PREFIX = "/_sp_local/"


def _control(runtime: Any, app: Any) -> Callable[..., Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PREFIX):
            return app(environ, start_response)  # type: ignore[no-any-return]
        route = path[len(PREFIX) :].strip("/").split("/")
        method = environ.get("REQUEST_METHOD", "GET")
        status, body = "404 Not Found", {"error": f"no such endpoint: {path}"}
        if route == ["status"]:
            status, body = "200 OK", runtime.status()
        elif route == ["refresh"] and method == "POST":
            runtime.refresh()
            status, body = "200 OK", runtime.status()
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
    from serverless_patterns.local.clock import Clock
    from serverless_patterns.local.runtime import Runtime

    runtime = Runtime(
        endpoint=f"http://{args.host}:{args.port}",
        state_dir=args.state_dir.resolve(),
        clock=Clock(args.time_scale),
    )
    moto_patches.install(runtime)

    def stop(signum: int, frame: Any) -> None:
        runtime.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runtime.start()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        _control(runtime, app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
