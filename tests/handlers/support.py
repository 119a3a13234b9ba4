"""Helpers shared by the handler tests.

The handlers run in-process: each is loaded from its file, invoked with a fake Lambda context
and with events built from what the (mocked, moto) services actually returned. What differs
between the test modules (names, tables, the exact environment) is passed in explicitly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import socket
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto import mock_aws

from serverless_patterns.testing import events
from tools.demo import serve_http  # noqa: F401 - the handler tests serve their fakes with it

REGION = "us-east-1"
ACCOUNT = "123456789012"
NAMESPACE = "ServerlessPatternsTests"
LAMBDA_REQUEST_ID = "00000000-0000-0000-0000-000000000000"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The example applications' handlers, and the handlers the constructs deploy themselves.
LAMBDA_SRC = REPO_ROOT / "lambda_src"
PACKAGE_LAMBDA = REPO_ROOT / "serverless_patterns" / "_lambda"


# --- loading and invoking a handler ------------------------------------------------------------


def load_handler(
    path: Path,
    module_name: str,
    *,
    register_while_loading: bool = False,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> ModuleType:
    """Run the handler file ``path`` as a fresh module named ``module_name``.

    By default the module never appears in ``sys.modules``. With ``register_while_loading`` it
    is there while its code runs and removed afterwards; with ``monkeypatch`` it is set there
    through the monkeypatch, as an import would (dataclasses look their module up there), and
    stays until the monkeypatch is undone.
    """
    if register_while_loading and monkeypatch is not None:
        raise ValueError("register_while_loading and monkeypatch exclude each other")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if monkeypatch is not None:
        monkeypatch.setitem(sys.modules, module_name, module)
    elif register_while_loading:
        sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if register_while_loading:
            del sys.modules[module_name]
    return module


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' ``Logger.inject_lambda_context`` reads from the context."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = LAMBDA_REQUEST_ID

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)


def failed_ids(response: dict[str, Any]) -> list[str]:
    """The ``itemIdentifier`` of each entry of a partial batch response, in order."""
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# --- environment -------------------------------------------------------------------------------


def set_handler_env(
    mp: pytest.MonkeyPatch,
    service: str,
    *,
    namespace: str | None = NAMESPACE,
    credentials: bool = True,
) -> None:
    """Set what every handler runs with: the region, no X-Ray, the Powertools service and
    (unless ``None``) metrics namespace; with ``credentials`` also dummy AWS credentials, and
    no session token or profile that could reach a real account."""
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    if credentials:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
    mp.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    mp.setenv("POWERTOOLS_SERVICE_NAME", service)
    if namespace is not None:
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", namespace)


def unset_proxies(mp: pytest.MonkeyPatch) -> None:
    """Remove every proxy variable (either case): requests go straight to their target."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        mp.delenv(name, raising=False)
        mp.delenv(name.upper(), raising=False)


@contextlib.contextmanager
def mocked_aws(
    service: str, *, namespace: str | None = NAMESPACE, **environ: str
) -> Iterator[None]:
    """moto's mocks, inside the handler environment (:func:`set_handler_env` with dummy
    credentials) plus ``environ``; all of it undone on exit."""
    with pytest.MonkeyPatch.context() as mp:
        set_handler_env(mp, service, namespace=namespace)
        for name, value in environ.items():
            mp.setenv(name, value)
        with mock_aws():
            yield


def create_table(name: str, hash_key: str, range_key: str | None = None) -> Any:
    """An on-demand DynamoDB table with string keys, as a boto3 ``Table`` resource."""
    keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key is not None else [])
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def empty_table(table: Any, *keys: str) -> None:
    """Delete every item of ``table``, whose key attributes are ``keys``."""
    names = {f"#k{index}": key for index, key in enumerate(keys)}
    scanned = table.scan(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    for item in scanned["Items"]:
        table.delete_item(Key={key: item[key] for key in keys})


# --- logs and metrics --------------------------------------------------------------------------


def create_service_logger(service: str) -> Logger:
    """Create the service's Powertools logger now, outside any ``capsys`` capture.

    Powertools binds its handler to the ``sys.stdout`` of the moment the service's logger is
    first created; a capsys stream would be closed for every later test.
    """
    return Logger(service=service)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_logs(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """The records the logger ``logger_name`` emits inside the block."""
    handler = ListHandler()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """EMF documents on stdout, in order, without their timestamps."""
    documents = []
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            assert isinstance(document["_aws"].pop("Timestamp"), int)
            documents.append(document)
    return documents


# --- SQS, SNS and S3 ---------------------------------------------------------------------------


def create_queue(sqs: Any, name: str) -> tuple[str, str]:
    """Create a queue; return its URL and ARN."""
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def drain(sqs: Any, queue_url: str, *, with_attributes: bool = True) -> list[dict[str, Any]]:
    """Receive (and delete, as Lambda's poller does) everything the queue holds, in order.

    With ``with_attributes`` every system and message attribute is asked for too, as Lambda's
    poller asks for them.
    """
    attributes = (
        {"AttributeNames": ["All"], "MessageAttributeNames": ["All"]} if with_attributes else {}
    )
    received: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, **attributes
    ).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        received.extend(messages)
    return received


def to_lambda_sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """Convert one message from SQS ``ReceiveMessage`` into the record shape Lambda delivers
    (the testing kit's builder, which the local runtime uses too)."""
    return events.sqs_record_from_message(message, queue_arn)


def create_upload_bucket(bucket: str, topic_arn: str) -> Any:
    """Create ``bucket``, notifying ``topic_arn`` of every object created under ``uploads/``;
    return the S3 client."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "TopicArn": topic_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )
    return s3


def notified_key(message: dict[str, Any]) -> str:
    """The (decoded) object key of the first record of an S3 notification delivered raw."""
    return unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])


def png_bytes(width: int, height: int) -> bytes:
    """A complete, valid 8-bit RGB PNG (all black)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    scanlines = (b"\x00" + b"\x00\x00\x00" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int, height: int, *, comment: bytes | None = None) -> bytes:
    """A JPEG header: SOI, a JFIF APP0, SOF0 (3 components), then EOI.

    With ``comment``, a comment segment and a fill byte stand between APP0 and SOF0.
    """
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    between = b""
    if comment is not None:
        between = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + b"\xff\xff"
    return (
        b"\xff\xd8\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + between
        + b"\xff\xc0"
        + struct.pack(">H", len(sof0) + 2)
        + sof0
        + b"\xff\xd9"
    )


def gif_bytes(width: int, height: int) -> bytes:
    """A GIF89a header: signature, logical screen descriptor, trailer."""
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b";"


# --- Kinesis (clickstream) ---------------------------------------------------------------------


def click(page: str, user: str = "u-1", ts: str = "2026-11-27T10:00:05Z") -> bytes:
    return json.dumps({"page": page, "user": user, "ts": ts}).encode()


def partition_key(data: bytes) -> str:
    """The click's page, as the API sets it (``poison`` for data that is not a usable click)."""
    try:
        page = json.loads(data).get("page")
    except (ValueError, AttributeError):
        return "poison"
    # Kinesis partition keys are 1 to 256 characters.
    return page if isinstance(page, str) and 0 < len(page) <= 256 else "poison"


@dataclass(frozen=True)
class KinesisStream:
    """A (mocked) one-shard Kinesis stream of clicks."""

    client: Any
    name: str
    arn: str
    shard_id: str

    @classmethod
    def create(cls, name: str) -> KinesisStream:
        client = boto3.client("kinesis", region_name=REGION)
        client.create_stream(StreamName=name, ShardCount=1)
        arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        (shard,) = client.list_shards(StreamName=name)["Shards"]
        return cls(client=client, name=name, arn=arn, shard_id=shard["ShardId"])

    def to_lambda_record(self, record: dict[str, Any], *, role: str) -> dict[str, Any]:
        """Convert one record from Kinesis ``GetRecords`` into the record shape Lambda delivers
        to a function whose execution role is named ``role`` (the testing kit's builder)."""
        return events.kinesis_record(
            record["Data"],
            sequence_number=record["SequenceNumber"],
            partition_key=record["PartitionKey"],
            stream_arn=self.arn,
            shard_id=self.shard_id,
            arrival=record["ApproximateArrivalTimestamp"].timestamp(),
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        )

    def lambda_records(self, payloads: list[bytes], *, role: str) -> list[dict[str, Any]]:
        """Put ``payloads`` onto the stream (keyed by :func:`partition_key`), read them back and
        convert them to Lambda records (see :meth:`to_lambda_record`), in their order."""
        sequence_numbers = []
        for data in payloads:
            put = self.client.put_record(
                StreamName=self.name, Data=data, PartitionKey=partition_key(data)
            )
            assert put["ShardId"] == self.shard_id
            sequence_numbers.append(put["SequenceNumber"])
        iterator = self.client.get_shard_iterator(
            StreamName=self.name, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        # The stream lives for the whole module: earlier tests' records are read back too.
        received: dict[str, dict[str, Any]] = {}
        while True:
            page = self.client.get_records(ShardIterator=iterator)
            received.update({record["SequenceNumber"]: record for record in page["Records"]})
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
        return [self.to_lambda_record(received[number], role=role) for number in sequence_numbers]


# --- API Gateway -------------------------------------------------------------------------------


def api_gateway_event(
    method: str,
    resource: str,
    path: str,
    *,
    request_id: str,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    multi_value_query: dict[str, list[str]] | None = None,
    path_parameters: dict[str, str] | None = None,
    body: str | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST API Lambda proxy integration event (stage ``prod``): the testing
    kit's, with both shapes of the query string given as they are to stand in the event (so
    that a test can give shapes API Gateway would not)."""
    event = events.api_gateway_event(
        method,
        path,
        resource=resource,
        body=body,
        headers=headers,
        path_parameters=path_parameters,
        request_id=request_id,
    )
    event.update(
        queryStringParameters=query,
        multiValueQueryStringParameters=multi_value_query,
        body=body,
        isBase64Encoded=base64_encoded,
    )
    return event


# --- local network -----------------------------------------------------------------------------


class NoRequestLog:
    """Put first among a request handler's bases: the handler then logs no requests."""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


def send_body(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    location: str | None = None,
) -> None:
    """Answer the request ``handler`` serves: ``status``, then ``body`` with its type and length
    (and a ``Location`` header when given)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    if location is not None:
        handler.send_header("Location", location)
    handler.end_headers()
    handler.wfile.write(body)


def closed_local_port() -> int:
    """A local port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def answer_invalid_names_offline(
    mp: pytest.MonkeyPatch, *, hang_until: threading.Event | None = None
) -> None:
    """``*.invalid`` never resolves (RFC 2606): answer so without asking a DNS server.

    With ``hang_until``, a lookup of ``hang.invalid`` first hangs (as a lookup that ignores the
    socket timeout would) until that event is set, 30 s at most.
    """
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            if hang_until is not None and host == "hang.invalid":
                hang_until.wait(timeout=30)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    mp.setattr(socket, "getaddrinfo", getaddrinfo)


# --- the clickstream consumers' metrics and failures ---------------------------------------------


def count_metrics_document(service: str, **values: float) -> dict[str, Any]:
    """The EMF document of one invocation of ``service`` that published the Count ``values``,
    in the order given."""
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                }
            ]
        },
        "service": service,
        **{name: [float(value)] for name, value in values.items()},
    }


def published(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents written to stdout since the last read of ``capsys``."""
    return emf_documents(capsys.readouterr().out)


def fail_page(
    monkeypatch: pytest.MonkeyPatch, app: ModuleType, page: str, error: Exception
) -> None:
    """Make the handler module's ``parse_click`` raise ``error`` (a failure other than a
    malformed record) for every click of ``page``; every other record is parsed as before."""
    parse_click = app.parse_click

    def flaky(data: str) -> dict[str, Any]:
        parsed: dict[str, Any] = parse_click(data)
        if parsed["page"] == page:
            raise error
        return parsed

    monkeypatch.setattr(app, "parse_click", flaky)
