"""Batch handler throughput: each Powertools handler vs a bare loop doing the same business work.

The handler modules are loaded by file path (like ``tests/handlers``), with the environment
they are deployed with, and their boto3 table/client accessors (``table()``, ``s3()``: made on
first use, once per container) replaced by ones returning cheap stubs after the import, so only
Python work is timed. Their stdout (Powertools' JSON logs and EMF metrics) goes
to ``os.devnull`` during the run; the log level stays as deployed (INFO).

The pipeline stage case is built here instead: a small stage function of this file made a
handler by ``serverless_patterns.stage.pipeline_stage`` (``Connector.QUEUES``, the next stage an
SQS queue), with the helper's SQS client stubbed.

The bare loop of each handler is what one would write without the framework: decode, validate,
call the module's own pure business function, write through the same stub, and collect the
failed items for the partial batch response.

Run by ``benchmarks/run.py`` as ``python -m benchmarks.handlers --records N --repeat R --out F``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any, TextIO

from benchmarks.common import LAMBDA_SRC, ROOT, BenchError, ratio, summarize, write_json

REGION = "us-east-1"
ACCOUNT = "123456789012"

#: Environment of every handler as deployed (ServerlessFunction), plus what the tests set.
BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # ServerlessFunction deploys with application_log_level_v2=INFO; Lambda passes it as this.
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatternsBench",
    "POWERTOOLS_TRACE_DISABLED": "1",  # no X-Ray daemon here (tests/handlers do the same)
    "TABLE_NAME": "bench-table",
    "BUCKET_NAME": "bench-bucket",
    # What FilterPipeline sets on a Connector.QUEUES stage function.
    "PIPELINE_STAGE": "screen",
    "PIPELINE_NEXT": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/bench-pipeline-next",
    "PIPELINE_REJECTED": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/bench-pipeline-rejected",
}

Event = dict[str, Any]
Handler = Callable[[Event, Any], dict[str, Any]]
BareLoop = Callable[[Event], dict[str, Any]]


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' ``Logger.inject_lambda_context`` reads from the context."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


# --- stubs of the AWS calls ------------------------------------------------------------------


@dataclass
class StubTable:
    """A DynamoDB ``Table`` that accepts every write and keeps only a count."""

    writes: int = 0

    def put_item(self, *, Item: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.writes += 1
        return {}

    @contextlib.contextmanager
    def batch_writer(self) -> Iterator[StubTable]:
        yield self


@dataclass
class StubBody:
    data: bytes

    def read(self) -> bytes:
        return self.data


@dataclass
class StubS3:
    """An S3 client whose every object is the same small PNG."""

    data: bytes
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        self.etag = f'"{hashlib.md5(self.data).hexdigest()}"'

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"ContentLength": len(self.data), "ETag": self.etag}

    def get_object(self, **_arguments: Any) -> dict[str, Any]:
        return {"Body": StubBody(self.data)}


@dataclass
class StubSqs:
    """An SQS client that accepts every message of every batch and keeps only a count."""

    messages: int = 0

    def send_message_batch(
        self,
        *,
        QueueUrl: str,  # noqa: N803 (boto3's names)
        Entries: list[dict[str, Any]],  # noqa: N803
    ) -> dict[str, Any]:
        self.messages += len(Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


def png_bytes(width: int, height: int) -> bytes:
    """A valid (tiny, black) PNG image."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        checksum = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- synthetic events ------------------------------------------------------------------------


def _sqs_record(index: int, body: str, queue: str) -> dict[str, Any]:
    return {
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
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def _batches(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def order_events(records: int, batch_size: int) -> list[Event]:
    """SQS events of valid orders (``queue_worker_example``)."""
    bodies = (
        json.dumps(
            {
                "order_id": f"o-{index}",
                "items": [
                    {"quantity": 1 + index % 5, "unit_price": 9.99},
                    {"quantity": 2, "unit_price": 0.5},
                ],
            }
        )
        for index in range(records)
    )
    all_records = [_sqs_record(index, body, "orders") for index, body in enumerate(bodies)]
    return [{"Records": batch} for batch in _batches(all_records, batch_size)]


def click_events(records: int, batch_size: int) -> list[Event]:
    """Tumbling-window Kinesis events of valid clicks, not final (``clickstream_aggregator``).

    The ``state`` of each event is filled in while the benchmark runs, from the response to
    the previous one, as Lambda does within a window.
    """
    shard = "shardId-000000000000"
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"
    all_records = []
    for index in range(records):
        click = {
            "page": f"/page/{index % 50}",
            "user": f"u-{index % 997}",
            "ts": "2026-11-27T10:00:05Z",
        }
        sequence = f"{49590338271490256608559692538361571095921575989136588898 + index}"
        all_records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": click["page"],
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(json.dumps(click).encode()).decode("ascii"),
                    "approximateArrivalTimestamp": 1764237605.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/clickstream-aggregator",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
        )
    return [
        {
            "Records": batch,
            "window": {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:01:00Z"},
            "state": {},
            "shardId": shard,
            "eventSourceARN": stream_arn,
            "isFinalInvokeForWindow": False,
            "isWindowTerminatedEarly": False,
        }
        for batch in _batches(all_records, batch_size)
    ]


def upload_events(records: int, batch_size: int) -> list[Event]:
    """SQS events whose bodies are S3 ObjectCreated notifications (``fanout_metadata``)."""
    all_records = []
    for index in range(records):
        notification = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": "2026-11-27T10:00:05.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": "bench-uploads", "arn": "arn:aws:s3:::bench-uploads"},
                        "object": {"key": f"uploads/photo+{index}.png", "size": 67},
                    },
                }
            ]
        }
        all_records.append(_sqs_record(index, json.dumps(notification), "metadata"))
    return [{"Records": batch} for batch in _batches(all_records, batch_size)]


# --- the bare loops --------------------------------------------------------------------------


def bare_queue_worker(app: ModuleType) -> BareLoop:
    """Decode the order, validate and price it (``price_order``), write it."""
    table = app.table()

    def loop(event: Event) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            try:
                priced = app.price_order(json.loads(record["body"]))
                table.put_item(Item={**priced, "message_id": record["messageId"]})
            except ValueError:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return loop


def bare_clickstream_aggregator(app: ModuleType) -> BareLoop:
    """Decode and validate each click (``parse_click``), count the pages (``aggregate``)."""

    def loop(event: Event) -> dict[str, Any]:
        failures, pages = [], []
        for record in event["Records"]:
            try:
                pages.append(app.parse_click(record["kinesis"]["data"])["page"])
            except ValueError:
                failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
        state = app.aggregate(event.get("state") or {}, pages)
        return {"state": state, "batchItemFailures": failures}

    return loop


def bare_fanout_metadata(app: ModuleType) -> BareLoop:
    """Parse the notification, read the object's head (stubbed), inspect it, write it."""
    s3, table = app.s3(), app.table()

    def loop(event: Event) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            try:
                for created in app.parse_notification(record["body"]) or ():
                    head = s3.head_object(Bucket=created.bucket, Key=created.key)
                    size = head["ContentLength"]
                    data = b""
                    if size:
                        data = s3.get_object(
                            Bucket=created.bucket,
                            Key=created.key,
                            Range=f"bytes=0-{app.HEADER_BYTES - 1}",
                            IfMatch=head["ETag"],
                        )["Body"].read()
                    table.put_item(
                        Item={
                            "object_key": created.key,
                            "record": "metadata",
                            "bucket": created.bucket,
                            "size": size,
                            "etag": head["ETag"].strip('"'),
                            **app.inspect_header(data),
                            "event_time": created.event_time,
                        }
                    )
            except (ValueError, LookupError):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return loop


def bare_pipeline_stage(app: ModuleType) -> BareLoop:
    """Decode the item, run the stage function (``screen_order``), send the results on and the
    rejections to the rejected queue in batches of 10 through the same stub."""
    sqs, filtered_type, screen = app.sqs, app.Filtered, app.screen_order
    stage = os.environ["PIPELINE_STAGE"]
    next_url, rejected_url = os.environ["PIPELINE_NEXT"], os.environ["PIPELINE_REJECTED"]
    compact = (",", ":")

    def send(url: str, messages: list[tuple[str, str]], failures: list[dict[str, str]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            response = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "MessageBody": body}
                    for index, (_message_id, body) in enumerate(chunk)
                ],
            )
            failures.extend(
                {"itemIdentifier": chunk[int(failure["Id"])][0]} for failure in response["Failed"]
            )

    def loop(event: Event) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        passed: list[tuple[str, str]] = []
        rejected: list[tuple[str, str]] = []
        for record in event["Records"]:
            try:
                item = json.loads(record["body"])
                result = screen(item)
                if isinstance(result, filtered_type):
                    rejection = {"stage": stage, "reason": result.reason, "item": item}
                    rejected.append(
                        (record["messageId"], json.dumps(rejection, separators=compact))
                    )
                else:
                    passed.append((record["messageId"], json.dumps(result, separators=compact)))
            except Exception:  # whatever the stage function raises fails that item only
                failures.append({"itemIdentifier": record["messageId"]})
        send(next_url, passed, failures)
        send(rejected_url, rejected, failures)
        return {"batchItemFailures": failures}

    return loop


# --- the pipeline stage, built here ----------------------------------------------------------

#: The stage helper, loaded as the FilterPipeline layer ships it: alone, without the library.
STAGE_HELPER = ROOT / "serverless_patterns" / "stage.py"
#: The bench stage filters orders above this total (:func:`order_events`: 10.99 to 50.95, so
#: one order in five).
ORDER_REVIEW_LIMIT = 45.0


def load_stage_helper() -> ModuleType:
    """A private copy of ``serverless_patterns/stage.py``, loaded by path.

    As in Lambda (the layer holds only that file), neither the rest of the library nor aws_cdk
    is imported; and the copy's client cache is this case's own, so the stub placed there never
    reaches ``serverless_patterns.stage`` of the same process (the smoke test runs in pytest).
    """
    name = "bench_serverless_patterns_stage"
    spec = importlib.util.spec_from_file_location(name, STAGE_HELPER)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {STAGE_HELPER}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while they are made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def pipeline_stage_app() -> ModuleType:
    """The module of a ``Connector.QUEUES`` stage handler written with ``pipeline_stage``.

    Like a ``lambda_src`` module it holds ``handler``, the stage function (``screen_order``) and
    the ``logger`` and ``metrics`` the handler uses (those ``pipeline_stage`` made;
    ``benchmarks.diagnose`` turns them down), plus ``stage_helper`` and its ``Filtered``.
    """
    helper = load_stage_helper()
    filtered_type = helper.Filtered

    def screen_order(order: dict[str, Any]) -> Any:
        """Total the order's lines; an order above ORDER_REVIEW_LIMIT goes to a review."""
        total = round(sum(line["quantity"] * line["unit_price"] for line in order["items"]), 2)
        if total > ORDER_REVIEW_LIMIT:
            return filtered_type(f"total above {ORDER_REVIEW_LIMIT:g} needs a manual review")
        return {**order, "total": total}

    made: dict[str, Any] = {}
    factories = {"logger": helper.Logger, "metrics": helper.Metrics}

    def keeping(kind: str) -> Callable[..., Any]:
        def make(*arguments: Any, **keywords: Any) -> Any:
            made[kind] = factories[kind](*arguments, **keywords)
            return made[kind]

        return make

    helper.Logger, helper.Metrics = keeping("logger"), keeping("metrics")
    try:
        handler = helper.pipeline_stage(screen_order)
    finally:
        helper.Logger, helper.Metrics = factories["logger"], factories["metrics"]
    app = ModuleType("bench_pipeline_stage_queues_app", pipeline_stage_app.__doc__)
    vars(app).update(
        handler=handler,
        screen_order=screen_order,
        logger=made["logger"],
        metrics=made["metrics"],
        stage_helper=helper,
        Filtered=filtered_type,
    )
    return app


#: Handler modules built by this file (name -> builder) rather than loaded from ``lambda_src``.
BUILT_HERE: dict[str, Callable[[], ModuleType]] = {"pipeline_stage_queues": pipeline_stage_app}


# --- the cases -------------------------------------------------------------------------------


def _stub_accessor(app: ModuleType, name: str, stub: Any) -> None:
    """Make the module's client accessor ``name()`` return ``stub``."""
    if not callable(getattr(app, name, None)):
        raise BenchError(f"{app.__name__} has no client accessor {name}()")
    setattr(app, name, lambda: stub)


def _stub_table(app: ModuleType) -> None:
    _stub_accessor(app, "table", StubTable())


def _stub_table_and_s3(app: ModuleType) -> None:
    _stub_accessor(app, "table", StubTable())
    _stub_accessor(app, "s3", StubS3(png_bytes(3, 2)))


def _stub_stage_sqs(app: ModuleType) -> None:
    """Place a :class:`StubSqs` (also ``app.sqs``) into the stage helper's client cache."""
    app.sqs = StubSqs()
    helper = app.stage_helper
    helper._client.cache_clear()
    # The helper imports boto3 when it creates its first client: let that import find a stub.
    real_boto3 = sys.modules.get("boto3")
    sys.modules["boto3"] = SimpleNamespace(client={"sqs": app.sqs}.__getitem__)
    try:
        if helper._client("sqs") is not app.sqs:
            raise BenchError("the stage helper did not cache the stub SQS client")
    finally:
        if real_boto3 is None:
            del sys.modules["boto3"]
        else:
            sys.modules["boto3"] = real_boto3


@dataclass(frozen=True)
class HandlerCase:
    """A batch handler of ``lambda_src/<name>/app.py`` (or of :data:`BUILT_HERE`) and how to
    benchmark it."""

    name: str
    batch_size: int
    events: Callable[[int, int], list[Event]]
    stub: Callable[[ModuleType], None]
    bare: Callable[[ModuleType], BareLoop]
    #: Carry the response's ``state`` into the next event (Kinesis tumbling windows).
    carries_state: bool = False


CASES: tuple[HandlerCase, ...] = (
    HandlerCase("queue_worker_example", 10, order_events, _stub_table, bare_queue_worker),
    HandlerCase(
        "clickstream_aggregator",
        100,
        click_events,
        _stub_table,
        bare_clickstream_aggregator,
        carries_state=True,
    ),
    HandlerCase("fanout_metadata", 10, upload_events, _stub_table_and_s3, bare_fanout_metadata),
    # A FilterPipeline stage (Connector.QUEUES, the next stage an SQS queue) written with
    # serverless_patterns.stage.pipeline_stage; its module is built here (BUILT_HERE).
    HandlerCase("pipeline_stage_queues", 10, order_events, _stub_stage_sqs, bare_pipeline_stage),
)


# --- running ---------------------------------------------------------------------------------

_SINK: TextIO | None = None


def _null_sink() -> TextIO:
    """One ``os.devnull`` text stream for the whole process (loggers keep a reference)."""
    global _SINK
    if _SINK is None:
        _SINK = open(os.devnull, "w")  # noqa: SIM115 (kept open for the process's lifetime)
    return _SINK


@contextlib.contextmanager
def handler_environment(name: str) -> Iterator[None]:
    """The deployed environment of handler ``name``, restored afterwards."""
    values = {**BASE_ENV, "POWERTOOLS_SERVICE_NAME": f"bench-{name}"}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_handler(name: str) -> ModuleType:
    """Import ``lambda_src/<name>/app.py`` by path, or build the module of :data:`BUILT_HERE`
    (its stdout bound to the null sink)."""
    build = BUILT_HERE.get(name)
    if build is not None:
        with contextlib.redirect_stdout(_null_sink()):
            return build()
    path = LAMBDA_SRC / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}_app", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Powertools' Logger keeps the sys.stdout it sees when it is created.
    with contextlib.redirect_stdout(_null_sink()):
        spec.loader.exec_module(module)
    return module


def _run_events(
    invoke: Callable[[Event], dict[str, Any]],
    events: list[Event],
    carries_state: bool,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, int]:
    """Seconds (by ``clock``) to invoke every event in order, and how many items failed."""
    failed = 0
    state: dict[str, int] = {}
    with contextlib.redirect_stdout(_null_sink()):
        start = clock()
        for event in events:
            if carries_state:
                event["state"] = state
            response = invoke(event)
            failed += len(response["batchItemFailures"])
            if carries_state:
                state = response["state"]
        elapsed = clock() - start
    return elapsed, failed


def bench_handler(case: HandlerCase, *, records: int, repeat: int) -> dict[str, Any]:
    """Time ``case``'s handler and its bare loop over ``records`` records, ``repeat`` times.

    Wall time, and the process's CPU time in another run of each (``*_cpu``, ``ratio_cpu``):
    a busy machine preempts a run, which counts in its wall time but not in its CPU time.
    """
    with handler_environment(case.name):
        app = load_handler(case.name)
        case.stub(app)
        events = case.events(records, case.batch_size)
        context = FakeLambdaContext(function_name=case.name)
        handler: Handler = app.handler
        bare = case.bare(app)
        sides: dict[str, Callable[[Event], dict[str, Any]]] = {
            "handler": lambda event: handler(event, context),
            "bare": bare,
        }
        clocks = {"": time.perf_counter, "_cpu": time.process_time}
        samples: dict[str, list[float]] = {side + suffix: [] for side in sides for suffix in clocks}
        for round_index in range(repeat):
            for side in ("handler", "bare") if round_index % 2 == 0 else ("bare", "handler"):
                for suffix, clock in clocks.items():
                    elapsed, failed = _run_events(
                        sides[side], events, case.carries_state, clock=clock
                    )
                    if failed:
                        raise BenchError(
                            f"{case.name}: the {side} failed {failed} of {records} records; "
                            "the benchmark times the success path (do the stubs still fit?)"
                        )
                    samples[side + suffix].append(elapsed)
    summary = {name: summarize(values) for name, values in samples.items()}
    handler_summary, bare_summary = summary["handler"], summary["bare"]
    return {
        "records": records,
        "batch_size": case.batch_size,
        "invocations": len(events),
        "handler": handler_summary,
        "bare": bare_summary,
        "handler_cpu": summary["handler_cpu"],
        "bare_cpu": summary["bare_cpu"],
        "handler_records_per_second": round(records / handler_summary["median"]),
        "bare_records_per_second": round(records / bare_summary["median"]),
        "ratio": ratio(handler_summary["median"], bare_summary["median"]),
        "ratio_cpu": ratio(summary["handler_cpu"]["median"], summary["bare_cpu"]["median"]),
    }


def bench_handlers(*, records: int, repeat: int) -> dict[str, Any]:
    """:func:`bench_handler` for every case of :data:`CASES`."""
    return {case.name: bench_handler(case, records=records, repeat=repeat) for case in CASES}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    write_json(args.out, bench_handlers(records=args.records, repeat=args.repeat))


if __name__ == "__main__":
    main()
