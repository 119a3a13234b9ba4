"""``serverless-patterns-local``: serve the emulator with the runtime, or talk to one."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence


def _call(endpoint: str, path: str, method: str = "GET") -> dict[str, object]:
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/_sp_local/{path}", method=method)
    with urllib.request.urlopen(request, timeout=30) as reply:
        return dict(json.loads(reply.read()))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        from serverless_patterns.local.server import main as serve

        return serve(argv[1:])
    parser = argparse.ArgumentParser(prog="serverless-patterns-local")
    parser.add_argument("command", choices=["serve", "status", "run-schedule"])
    parser.add_argument("name", nargs="?", help="run-schedule: the schedule's name or logical id")
    parser.add_argument("--endpoint", default="http://localhost:5000")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            print(json.dumps(_call(args.endpoint, "status"), indent=2))
        elif args.command == "run-schedule":
            if not args.name:
                parser.error("run-schedule needs the schedule's name")
            print(json.dumps(_call(args.endpoint, f"schedules/{args.name}/run", "POST")))
    except urllib.error.HTTPError as error:
        print(
            f"serverless-patterns-local: {error.read().decode(errors='replace')}", file=sys.stderr
        )
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(
            f"serverless-patterns-local: no emulator answers at {args.endpoint}: {error}",
            file=sys.stderr,
        )
        return 1
    return 0
