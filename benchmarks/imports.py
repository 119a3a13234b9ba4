"""Cold start of every deployed handler: ``import`` as Lambda runs it, and the first invocation.

Each measurement is a fresh interpreter started the way Lambda starts the function: its code
folder is the working directory (first on ``sys.path``, as ``/var/task``, and
``LAMBDA_TASK_ROOT``) and the layer folder (``python/`` of the Powertools layer merged with the
FilterPipeline stage-helper layer, as ``benchmarks.assets --layer-copy`` makes it; Lambda merges
layers into ``/opt/python``) is first on ``PYTHONPATH``. Neither folder holds byte code, as
deployed, so their modules are compiled on every start. The interpreter runs without ``site``
(``-S``), so that nothing of this virtualenv is importable but what Lambda's runtime provides
(boto3 and its dependencies, compiled, from links made by the local runtime's
``runtime_packages_dir``, after the layer): a handler importing what Lambda lacks fails here, and
X-Ray's ``patch_all`` finds only what it would find in Lambda.

``LAMBDA_TASK_ROOT`` matters beyond realism: without it the X-Ray SDK behind Powertools' Tracer
believes it runs outside Lambda and creates an X-Ray client for centralized sampling when it is
imported, which Lambda never does (a third of a handler's import, measured that way).

* :func:`deployed_import_times`: ``import <module>`` of every :data:`HANDLERS` entry vs
  ``import boto3`` (the floor: a handler that calls AWS imports boto3 before its first call);
  with ``tracing``, as Lambda runs it with active tracing (the Tracer patches botocore and the
  other libraries X-Ray traces at import) rather than with ``POWERTOOLS_TRACE_DISABLED``;
* :func:`first_invocation_times`: from the start of a fresh process to the end of the first
  handler call (import, then one representative event), against a moto server this function
  starts on 127.0.0.1 and stops (``AWS_ENDPOINT_URL``), the local HTTP targets of the probe
  and the translator served from this process: what a handler that defers work to its first
  invocation pays there;
* :func:`local_runtime_first_invocations`: the same events through the local runtime's
  :class:`~serverless_patterns.local.sandbox.FunctionPool` (the process layout, bootstrap and
  environment of ``make local``), which reports the init and first-invocation durations as
  Lambda's ``REPORT`` line does. The functions' folders are laid out before the clock starts,
  as Lambda unpacks the code before the init phase it reports.

Every function takes ``source_root``: the folder holding ``lambda_src/`` and
``serverless_patterns/_lambda/`` (default: this repository), so that another version of the
handlers (e.g. ``git archive`` of an older commit) can be measured the same way.

Run as ``python -m benchmarks.imports --layer-python DIR --repeat N --out F`` (``--tracing``
adds the imports with active tracing, ``--first`` the first invocations, ``--local`` the local
runtime's).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    BenchError,
    alternating,
    bench_env,
    ratio,
    summarize,
    write_json,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
SERVICE = "bench"
NAMESPACE = "ServerlessPatternsBench"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

#: Placeholders in a handler's environment or event, filled in when the servers are up.
MOTO = "{moto}"
HTTP = "{http}"
#: Where nothing listens: the import must not reach out (a handler that does fails loudly).
NOWHERE = {MOTO: "http://127.0.0.1:9", HTTP: "http://127.0.0.1:9"}

#: What every handler is deployed with (ServerlessFunction) and what Lambda adds, for the import
#: and the first call. ``LAMBDA_TASK_ROOT`` is set to the code folder of each.
BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
    "AWS_LAMBDA_FUNCTION_NAME": SERVICE,
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "1",  # no X-Ray daemon here (see deployed_import_times)
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
#: Set by Lambda with active tracing; the X-Ray SDK reads the trace header of the invocation.
TRACING_ENV = {
    "_X_AMZN_TRACE_ID": (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    ),
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}

#: Timed in the fresh process, after its interpreter started: the import of the module, in wall
#: time and in the process's CPU time (which a busy machine disturbs much less).
IMPORT_TIMER = """\
import sys, time
_start, _start_cpu = time.perf_counter(), time.process_time()
import {module}
_wall, _cpu = time.perf_counter() - _start, time.process_time() - _start_cpu
with open(sys.argv[1], "w") as _out:
    _out.write(repr(_wall) + " " + repr(_cpu))
"""

#: Timed in the fresh process: the import, then the first call; the result goes to a file.
FIRST_CALL_TIMER = """\
import json, sys, time
_start, _start_cpu = time.perf_counter(), time.process_time()
import {module} as _app
_imported, _imported_cpu = time.perf_counter(), time.process_time()
_event = json.loads(sys.argv[2])
class _Context:
    function_name = "{service}"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:{region}:{account}:function:{service}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self):
        return 60_000
_response = _app.{function}(_event, _Context())
_done, _done_cpu = time.perf_counter(), time.process_time()
with open(sys.argv[1], "w") as _out:
    json.dump({{"import": _imported - _start, "first": _done - _start,
        "import_cpu": _imported_cpu - _start_cpu, "first_cpu": _done_cpu - _start_cpu,
        "response": _response}}, _out, default=str)
"""


@dataclass(frozen=True)
class DeployedHandler:
    """A function's code as Lambda runs it, and what its first invocation gets."""

    name: str
    #: The function's code folder within the source root (``None``: an empty folder, for a
    #: module that lives in a layer).
    code: str | None
    module: str = "app"
    function: str = "handler"
    env: Mapping[str, str] = field(default_factory=dict)
    #: A representative first event (``None``: this entry is measured on import only).
    event: Any = None
    #: The moto resources it needs: ``("table", name, hash, range)``, ``("bucket", name)``,
    #: ``("object", bucket, key, bytes)``, ``("queue", name)``, ``("item", table, item)``.
    resources: tuple[tuple[Any, ...], ...] = ()


def _sqs_event(*bodies: str, queue: str = "bench") -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"00000000-0000-4000-8000-{index:012d}",
                "receiptHandle": f"AQEB{index:012d}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764237600000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1764237600001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                "awsRegion": REGION,
            }
            for index, body in enumerate(bodies)
        ]
    }


def _kinesis_event(*pages: str, final: bool = False) -> dict[str, Any]:
    shard = "shardId-000000000000"
    records = []
    for index, page in enumerate(pages):
        sequence = str(49590338271490256608559692538361571095921575989136588898 + index)
        data = json.dumps({"page": page, "user": "u-1", "ts": "2026-11-27T10:00:05Z"})
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": page,
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(data.encode()).decode(),
                    "approximateArrivalTimestamp": 1764237605.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/bench",
                "awsRegion": REGION,
                "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks",
            }
        )
    return {
        "Records": records,
        "window": {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:01:00Z"},
        "state": {},
        "shardId": shard,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def _s3_notification(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": "2026-11-27T10:00:05.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": key, "size": 67},
                    },
                }
            ]
        }
    )


def _sns_event(message: str) -> dict[str, Any]:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:uploads"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:00000000-0000-0000-0000-000000000001",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "00000000-0000-0000-0000-000000000002",
                    "TopicArn": topic,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": "2026-11-27T10:00:05.000Z",
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _api_event(method: str, resource: str, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": ACCOUNT,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
        **extra,
    }


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


USERS = ("table", "bench-users", "id", None)
UPLOADS = ("table", "bench-uploads-table", "object_key", "record")
PHOTO = ("object", "bench-uploads", "uploads/photo.png", _png(300, 200))
ORDER = {
    "order_id": "o-1",
    "customer_id": "c-1",
    "country": "DE",
    "items": [{"sku": "MUG-002", "quantity": 2}],
    "new_customer": False,
}
PIPELINE_ENV = {
    "PIPELINE_STAGE": "bench",
    "PIPELINE_NEXT": f"{MOTO}/{ACCOUNT}/bench-next",
    "PIPELINE_REJECTED": f"{MOTO}/{ACCOUNT}/bench-rejected",
}
PIPELINE_QUEUES = (("queue", "bench-next"), ("queue", "bench-rejected"))
PRICED_ORDER = {
    **ORDER,
    "lines": [{"sku": "MUG-002", "quantity": 2, "unit_price_cents": 850, "line_total_cents": 1700}],
    "subtotal_cents": 1700,
    "tax_cents": 323,
    "total_cents": 2023,
}
ROUTES = {
    "commands": {
        "getUser": {
            "default": "v1",
            "versions": {"v1": {"function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:u"}},
        },
    }
}
TRANSLATOR_ROUTES = {
    "GET /items/{id}": {
        "legacy_path": "/inventory/item/{id}",
        "legacy_method": "GET",
        "response_format": "xml",
        "request_mapping": None,
        "response_mapping": {"id": "item.@id", "sku": "item.sku"},
    }
}


def _lambda_src(name: str, **fields: Any) -> DeployedHandler:
    return DeployedHandler(name=name, code=f"lambda_src/{name}", **fields)


#: Every handler the library and its examples deploy, with a first event each.
HANDLERS: tuple[DeployedHandler, ...] = (
    _lambda_src(
        "account_create_user",
        env={"TABLE_NAME": "bench-users"},
        event={"command": "createUser", "version": "v1", "payload": {"id": "u-1", "name": "Ada"}},
        resources=(USERS,),
    ),
    _lambda_src(
        "account_get_user_v1",
        env={"TABLE_NAME": "bench-users"},
        event={"command": "getUser", "version": "v1", "payload": {"id": "u-1"}},
        resources=(USERS, ("item", "bench-users", {"id": "u-1", "name": "Ada"})),
    ),
    _lambda_src(
        "account_get_user_v2",
        env={"TABLE_NAME": "bench-users"},
        event={"command": "getUser", "version": "v2", "payload": {"id": "u-1"}},
        resources=(USERS, ("item", "bench-users", {"id": "u-1", "name": "Ada"})),
    ),
    _lambda_src(
        "account_send_welcome_email",
        env={"TABLE_NAME": "bench-users"},
        event={"command": "sendWelcomeEmail", "version": "v1", "payload": {"id": "u-1"}},
        resources=(USERS,),
    ),
    _lambda_src(
        "clickstream_aggregator",
        env={"TABLE_NAME": "bench-windows"},
        event=_kinesis_event("/a", "/b", "/a", final=True),
        resources=(("table", "bench-windows", "page", "window_start"),),
    ),
    _lambda_src(
        "clickstream_archiver",
        env={"BUCKET_NAME": "bench-archive"},
        event=_kinesis_event("/a", "/b"),
        resources=(("bucket", "bench-archive"),),
    ),
    _lambda_src(
        "fanout_audit",
        env={"TABLE_NAME": "bench-uploads-table"},
        event=_sns_event(_s3_notification("bench-uploads", "uploads/photo.png")),
        resources=(UPLOADS,),
    ),
    _lambda_src(
        "fanout_metadata",
        env={"TABLE_NAME": "bench-uploads-table"},
        event=_sqs_event(_s3_notification("bench-uploads", "uploads/photo.png")),
        resources=(UPLOADS, ("bucket", "bench-uploads"), PHOTO),
    ),
    _lambda_src(
        "fanout_thumbnail",
        env={"TABLE_NAME": "bench-uploads-table"},
        event=_sqs_event(_s3_notification("bench-uploads", "uploads/photo.png")),
        resources=(UPLOADS, ("bucket", "bench-uploads"), PHOTO),
    ),
    _lambda_src(
        "pipeline_enrich",
        env=PIPELINE_ENV,
        event=_sqs_event(json.dumps(ORDER)),
        resources=PIPELINE_QUEUES,
    ),
    _lambda_src(
        "pipeline_fraud_screen",
        env=PIPELINE_ENV,
        event=_sqs_event(json.dumps(PRICED_ORDER)),
        resources=PIPELINE_QUEUES,
    ),
    _lambda_src(
        "pipeline_persist",
        env={**PIPELINE_ENV, "TABLE_NAME": "bench-orders"},
        event=_sqs_event(json.dumps(PRICED_ORDER)),
        resources=(*PIPELINE_QUEUES, ("table", "bench-orders", "order_id", None)),
    ),
    _lambda_src(
        "pipeline_validate",
        env=PIPELINE_ENV,
        event=_sqs_event(json.dumps(ORDER)),
        resources=PIPELINE_QUEUES,
    ),
    _lambda_src(
        "queue_worker_example",
        env={"TABLE_NAME": "bench-orders"},
        event=_sqs_event(
            json.dumps({"order_id": "o-1", "items": [{"quantity": 2, "unit_price": 9.99}]})
        ),
        resources=(("table", "bench-orders", "order_id", None),),
    ),
    DeployedHandler(
        "probe",
        "serverless_patterns/_lambda/probe",
        env={"PROBE_TARGETS": json.dumps([{"name": "local", "url": f"{HTTP}/health"}])},
        event={"source": "aws.scheduler"},
    ),
    DeployedHandler(
        "router",
        "serverless_patterns/_lambda/router",
        env={"COMMAND_ROUTES": json.dumps(ROUTES)},
        # The receiver is not there: the first call still makes the client and calls Lambda.
        event={"command": "getUser", "payload": {"id": "u-1"}},
    ),
    DeployedHandler(
        "translator",
        "serverless_patterns/_lambda/translator",
        env={
            "LEGACY_BASE_URL": HTTP,
            "LEGACY_TIMEOUT": "5",
            "TRANSLATOR_ROUTES": json.dumps(TRANSLATOR_ROUTES),
        },
        event=_api_event("GET", "/items/{id}", "/items/42", pathParameters={"id": "42"}),
    ),
    # The stage helper on its own, as its layer ships it (imported by the pipeline_* handlers).
    DeployedHandler("stage", None, module="serverless_patterns.stage"),
)


def handler_names() -> list[str]:
    return [handler.name for handler in HANDLERS]


def _by_name(names: Sequence[str] | None) -> list[DeployedHandler]:
    if names is None:
        return list(HANDLERS)
    known = {handler.name: handler for handler in HANDLERS}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise BenchError(f"unknown handlers {unknown}; known: {sorted(known)}")
    return [known[name] for name in names]


def _fill(value: str, servers: Mapping[str, str]) -> str:
    for placeholder, url in servers.items():
        value = value.replace(placeholder, url)
    return value


_RUNTIME_PACKAGES: list[Path] = []


def runtime_packages() -> Path:
    """A folder of links to boto3 and the other packages Lambda's runtime provides (made once
    per process, removed at its exit)."""
    if not _RUNTIME_PACKAGES:
        import atexit
        import shutil

        from serverless_patterns.local.sandbox import runtime_packages_dir

        root = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _RUNTIME_PACKAGES.append(runtime_packages_dir(root))
    return _RUNTIME_PACKAGES[0]


def _lambda_like(env: dict[str, str], *first: Path) -> dict[str, str]:
    """``env`` with ``first`` then Lambda's runtime packages as the whole ``PYTHONPATH``."""
    env["PYTHONPATH"] = ":".join(str(path) for path in (*first, runtime_packages()))
    return env


def _environment(
    handler: DeployedHandler,
    task_root: Path,
    layer_python: Path,
    servers: Mapping[str, str],
    *,
    tracing: bool = False,
) -> dict[str, str]:
    env = bench_env(**BASE_ENV, **{k: _fill(v, servers) for k, v in handler.env.items()})
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    env["LAMBDA_TASK_ROOT"] = str(task_root)
    _lambda_like(env, layer_python)
    if tracing:
        env.pop("POWERTOOLS_TRACE_DISABLED")
        env.update(TRACING_ENV)
    return env


@contextlib.contextmanager
def _code_folder(handler: DeployedHandler, source_root: Path) -> Iterator[Path]:
    if handler.code is not None:
        folder = source_root / handler.code
        if not (folder / f"{handler.module}.py").is_file():
            raise BenchError(f"{handler.name}: no {handler.module}.py in {folder}")
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="bench-task-") as empty:
        yield Path(empty)


def _run_timer(script: str, *args: str, cwd: Path, env: dict[str, str], what: str) -> str:
    """Run ``script`` in a fresh interpreter in ``cwd``; what it wrote to the file it is given
    as its first argument (its stdout is the function's logs and metrics)."""
    with tempfile.TemporaryDirectory(prefix="bench-timer-") as scratch:
        out = Path(scratch) / "result"
        process = subprocess.run(
            [sys.executable, "-S", "-c", script, str(out), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if process.returncode != 0 or not out.exists():
            raise BenchError(f"{what} failed:\n{(process.stderr or process.stdout)[-3000:]}")
        return out.read_text()


def _wall_and_cpu(result: str) -> tuple[float, float]:
    wall, cpu = result.split()
    return float(wall), float(cpu)


def import_seconds(
    handler: DeployedHandler,
    layer_python: Path,
    *,
    source_root: Path = ROOT,
    tracing: bool = False,
) -> tuple[float, float]:
    """Seconds ``import <module>`` of ``handler`` takes in a fresh interpreter, as deployed:
    wall time and the process's CPU time."""
    with _code_folder(handler, source_root) as cwd:
        result = _run_timer(
            IMPORT_TIMER.format(module=handler.module),
            cwd=cwd,
            env=_environment(handler, cwd, layer_python, NOWHERE, tracing=tracing),
            what=f"import {handler.module} of {handler.name}",
        )
    return _wall_and_cpu(result)


def boto3_import_seconds() -> tuple[float, float]:
    """Seconds ``import boto3`` takes in a fresh interpreter (no layer, an empty folder), from
    the runtime's packages as the handlers get it: wall time and CPU time."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as empty:
        env = _lambda_like(bench_env())
        result = _run_timer(
            IMPORT_TIMER.format(module="boto3"), cwd=Path(empty), env=env, what="import boto3"
        )
    return _wall_and_cpu(result)


def deployed_import_times(
    *,
    layer_python: Path,
    repeat: int,
    handlers: Sequence[str] | None = None,
    tracing: bool = False,
    source_root: Path = ROOT,
) -> dict[str, Any]:
    """``import`` of every handler as deployed vs ``import boto3``, each in a fresh process.

    ``{"boto3": summary, "boto3_cpu": summary, "tracing": bool, "handlers": {name: {"module",
    "import": summary, "import_cpu": summary, "ratio", "ratio_of_mins", "ratio_cpu"}}}``:
    ``ratio`` is of the wall-time medians, ``ratio_of_mins`` of the fastest samples and
    ``ratio_cpu`` of the CPU-time medians (the two least disturbed by a busy machine).
    ``layer_python`` is the merged layers' ``python/`` folder. With ``tracing``, the handlers
    import as with active tracing.
    """
    chosen = _by_name(handlers)
    names = ["boto3", *(handler.name for handler in chosen)]
    by_name = {handler.name: handler for handler in chosen}
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeat):
        for name in alternating(names, round_index):
            seconds, cpu_seconds = (
                boto3_import_seconds()
                if name == "boto3"
                else import_seconds(
                    by_name[name], layer_python, source_root=source_root, tracing=tracing
                )
            )
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    boto3, boto3_cpu = summarize(wall["boto3"]), summarize(cpu["boto3"])
    results: dict[str, Any] = {}
    for handler in chosen:
        entry, entry_cpu = summarize(wall[handler.name]), summarize(cpu[handler.name])
        results[handler.name] = {
            "module": handler.module,
            "import": entry,
            "import_cpu": entry_cpu,
            "ratio": ratio(entry["median"], boto3["median"]),
            "ratio_of_mins": ratio(entry["min"], boto3["min"]),
            "ratio_cpu": ratio(entry_cpu["median"], boto3_cpu["median"]),
        }
    return {"boto3": boto3, "boto3_cpu": boto3_cpu, "tracing": tracing, "handlers": results}


# --- the servers of the first invocation -------------------------------------------------------

LEGACY_ITEM = b'<item id="42"><sku>A-1</sku><name>Bolt</name></item>'


class _LocalTargets(BaseHTTPRequestHandler):
    """The probe's target and the translator's legacy service."""

    def do_GET(self) -> None:
        body = LEGACY_ITEM if self.path.startswith("/inventory/") else b"ok"
        content_type = "application/xml" if body is LEGACY_ITEM else "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LocalTargets)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    """A moto server on a free local port for the block, stopped afterwards."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def servers() -> Iterator[dict[str, str]]:
    """The moto server and the local HTTP targets, as the placeholders' values."""
    with _moto_server() as moto, _http_server() as http:
        yield {MOTO: moto, HTTP: http}


def _reset_and_create(handler: DeployedHandler, endpoint: str) -> None:
    """Empty moto, then create the resources ``handler`` needs."""
    import urllib.request

    import boto3

    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30
    ).close()
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    for resource in handler.resources:
        kind, *args = resource
        if kind == "table":
            name, hash_key, range_key = args
            keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key else [])
            session.client("dynamodb", endpoint_url=endpoint).create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": role} for key, role in keys],
                AttributeDefinitions=[
                    {"AttributeName": key, "AttributeType": "S"} for key, _ in keys
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        elif kind == "item":
            table, item = args
            session.resource("dynamodb", endpoint_url=endpoint).Table(table).put_item(Item=item)
        elif kind == "bucket":
            session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=args[0])
        elif kind == "object":
            bucket, key, data = args
            session.client("s3", endpoint_url=endpoint).put_object(
                Bucket=bucket, Key=key, Body=data
            )
        elif kind == "queue":
            session.client("sqs", endpoint_url=endpoint).create_queue(QueueName=args[0])
        else:
            raise BenchError(f"unknown resource kind {kind!r}")


#: The handlers whose result is ``None`` (an asynchronous receiver, an SNS subscriber).
RETURN_NOTHING = frozenset({"account_send_welcome_email", "fanout_audit"})


def _check_response(handler: DeployedHandler, response: Any) -> None:
    """The first call must have taken the success path (the resources and events still fit).

    The router is the exception: moto runs no receiver, so its invoke fails after the client
    was made and the call sent, which is the part a cold start pays.
    """
    if response is None and handler.name in RETURN_NOTHING:
        return
    if not isinstance(response, dict):
        raise BenchError(f"{handler.name}: unexpected first response {response!r}")
    status = response.get("statusCode")
    if handler.name == "router":
        if status != 500:
            raise BenchError(f"router: expected the receiver's invoke to fail, got {response!r}")
        return
    if response.get("batchItemFailures") or response.get("down") or (status or 0) >= 400:
        raise BenchError(f"{handler.name}: the first call did not succeed: {response!r}")


def first_invocation(
    handler: DeployedHandler,
    layer_python: Path,
    servers: Mapping[str, str],
    *,
    source_root: Path = ROOT,
) -> dict[str, float]:
    """One fresh process: seconds to import the handler and to the end of its first call."""
    _reset_and_create(handler, servers[MOTO])
    event = json.loads(_fill(json.dumps(handler.event), servers))
    start = time.perf_counter()
    with _code_folder(handler, source_root) as cwd:
        env = _environment(handler, cwd, layer_python, servers)
        env["AWS_ENDPOINT_URL"] = servers[MOTO]
        output = _run_timer(
            FIRST_CALL_TIMER.format(
                module=handler.module,
                function=handler.function,
                region=REGION,
                account=ACCOUNT,
                service=SERVICE,
            ),
            json.dumps(event),
            cwd=cwd,
            env=env,
            what=f"first invocation of {handler.name}",
        )
    wall = time.perf_counter() - start
    result = json.loads(output)
    _check_response(handler, result["response"])
    return {key: result[key] for key in ("import", "first", "import_cpu", "first_cpu")} | {
        "wall": wall
    }


def first_invocation_times(
    *,
    layer_python: Path,
    repeat: int,
    handlers: Sequence[str] | None = None,
    source_root: Path = ROOT,
) -> dict[str, Any]:
    """:func:`first_invocation` of every handler with an event, ``repeat`` times each.

    ``{name: {"import", "first_call", "first_invocation", "process_wall", "first_invocation_cpu":
    summaries}}``: ``first_invocation`` is from the first line of the script (the interpreter is
    up) to the end of the first call, ``import`` and ``first_call`` its two parts;
    ``process_wall`` adds the interpreter's own start and exit, as seen from outside;
    ``first_invocation_cpu`` is the process's CPU time over ``first_invocation`` (without the
    waits for moto and the local targets).
    """
    chosen = [handler for handler in _by_name(handlers) if handler.event is not None]
    samples: dict[str, dict[str, list[float]]] = {
        handler.name: {"import": [], "first_call": [], "first": [], "wall": [], "first_cpu": []}
        for handler in chosen
    }
    by_name = {handler.name: handler for handler in chosen}
    with servers() as urls:
        for round_index in range(repeat):
            for name in alternating(list(by_name), round_index):
                measured = first_invocation(
                    by_name[name], layer_python, urls, source_root=source_root
                )
                for key in ("import", "first", "wall", "first_cpu"):
                    samples[name][key].append(measured[key])
                samples[name]["first_call"].append(measured["first"] - measured["import"])
    return {
        name: {
            "import": summarize(values["import"]),
            "first_call": summarize(values["first_call"]),
            "first_invocation": summarize(values["first"]),
            "process_wall": summarize(values["wall"]),
            "first_invocation_cpu": summarize(values["first_cpu"]),
        }
        for name, values in samples.items()
    }


# --- the local runtime --------------------------------------------------------------------------


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if "__pycache__" in relative.parts or not path.is_file():
                continue
            archive.write(path, relative.as_posix())
    return buffer.getvalue()


def local_runtime_first_invocations(
    *,
    layer_python: Path,
    repeat: int,
    handlers: Sequence[str] | None = None,
    source_root: Path = ROOT,
) -> dict[str, Any]:
    """Init and first-invocation durations of each handler in the local runtime's pool.

    Every round starts a new :class:`~serverless_patterns.local.sandbox.FunctionPool` (so every
    function starts cold) over folders laid out once beforehand, against a moto server as
    :func:`first_invocation_times` uses. ``{name: {"init", "first_invocation", "total":
    summaries}}`` in seconds: ``init`` is the pool's (process start to the handler imported),
    ``first_invocation`` the first invocation's duration as its REPORT line says, ``total``
    the pool's whole ``invoke`` as the caller waits for it.
    """
    from serverless_patterns.local.sandbox import FunctionPool, FunctionSpec, lay_out

    chosen = [h for h in _by_name(handlers) if h.code is not None and h.event is not None]
    layer_zip = _zipped(layer_python.parent)
    samples: dict[str, dict[str, list[float]]] = {
        handler.name: {"init": [], "first": [], "total": []} for handler in chosen
    }
    by_name = {handler.name: handler for handler in chosen}
    with servers() as urls, tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        root = Path(scratch)
        specs: dict[str, FunctionSpec] = {}
        for handler in chosen:
            assert handler.code is not None
            environment = {
                key: value
                for key, value in BASE_ENV.items()
                # The pool sets the region, the endpoint, the credentials and Lambda's own.
                if key in ("AWS_LAMBDA_LOG_LEVEL",) or not key.startswith("AWS_")
            }
            environment.update({key: _fill(value, urls) for key, value in handler.env.items()})
            specs[handler.name] = FunctionSpec(
                name=handler.name,
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{handler.name}",
                handler=f"{handler.module}.{handler.function}",
                runtime=RUNTIME,
                timeout=60,
                memory_size=256,
                environment=environment,
                code=_zipped(source_root / handler.code),
                layers=(layer_zip,),
            )
            lay_out(specs[handler.name], root)  # Lambda unpacks the code before the init phase
        for round_index in range(repeat):
            for name in alternating(list(by_name), round_index):
                handler = by_name[name]
                _reset_and_create(handler, urls[MOTO])
                event = json.loads(_fill(json.dumps(handler.event), urls))
                pool = FunctionPool(
                    root,
                    endpoint=urls[MOTO],
                    region=REGION,
                    credentials=lambda _spec: {
                        "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing",
                    },
                    log_sink=lambda _group, _stream, _lines: None,
                )
                try:
                    started = time.perf_counter()
                    result = pool.invoke(specs[name], event)
                    total = time.perf_counter() - started
                finally:
                    pool.close()
                if not result.ok or result.init_ms is None:
                    raise BenchError(f"{name} failed locally: {result.error} {result.logs[-5:]}")
                _check_response(handler, result.payload)
                samples[name]["init"].append(result.init_ms / 1000)
                samples[name]["first"].append(result.duration_ms / 1000)
                samples[name]["total"].append(total)
    return {
        name: {
            "init": summarize(values["init"]),
            "first_invocation": summarize(values["first"]),
            "total": summarize(values["total"]),
        }
        for name, values in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer-python", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--handler", action="append", dest="handlers")
    parser.add_argument("--source-root", type=Path, default=ROOT)
    parser.add_argument("--tracing", action="store_true", help="also import with active tracing")
    parser.add_argument("--first", action="store_true", help="also time the first invocations")
    parser.add_argument("--local", action="store_true", help="also in the local runtime's pool")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "layer_python": args.layer_python,
        "repeat": args.repeat,
        "handlers": args.handlers,
        "source_root": args.source_root,
    }
    result: dict[str, Any] = {"imports": deployed_import_times(**options)}
    if args.tracing:
        result["imports_traced"] = deployed_import_times(**options, tracing=True)
    if args.first:
        result["first_invocation"] = first_invocation_times(**options)
    if args.local:
        result["local_runtime"] = local_runtime_first_invocations(**options)
    write_json(args.out, result)


if __name__ == "__main__":
    main()
