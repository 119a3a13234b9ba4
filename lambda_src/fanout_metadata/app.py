"""Media upload pipeline, metadata consumer: records what every uploaded object is.

The bucket publishes ``ObjectCreated`` events under ``uploads/`` to an SNS topic; this worker's
queue is subscribed with raw message delivery, so each SQS record body is the S3 event
notification JSON itself. For every object it reads the object's head and its first 64 KiB,
detects the media type from the magic bytes and, for images, the pixel dimensions, and stores a
``metadata`` item in the shared table.

A malformed body, or an object that no longer exists, is reported as a batch item failure: SQS
retries only that message (and dead-letters it after the queue's ``maxReceiveCount``); the other
records of the batch succeed. The ``s3:TestEvent`` S3 sends when notifications are configured is
acknowledged and skipped.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import struct
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a third
# of a cold start's import with active tracing. Each client accessor below patches before it
# makes its client (the patch is class-wide: every call is traced, as with auto_patch).
tracer = Tracer(auto_patch=False)
metrics = Metrics()

TABLE_NAME = os.environ["TABLE_NAME"]


# All made on first use and reused by every invocation of the container: boto3 and Powertools'
# batch utility (with the data classes of every event source) are most of a cold start's import,
# and the first invocation needs them anyway.
@functools.cache
def s3() -> Any:
    """The S3 client."""
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.client("s3")


@functools.cache
def table() -> Any:
    """The uploads table."""
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.resource("dynamodb").Table(TABLE_NAME)


@functools.cache
def processor() -> BatchProcessor:
    """The batch processor. A batch whose every record failed is reported like any other (each
    item a failure) rather than raised, so the failure metric is recorded for it too; SQS
    retries those items either way."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


HEADER_BYTES = 64 * 1024
OCTET_STREAM = "application/octet-stream"
TEST_EVENT = "s3:TestEvent"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
JPEG_SOI = b"\xff\xd8\xff"
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0..RST7 (SOI is consumed before the walk starts).
JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
JPEG_SOS = 0xDA
JPEG_EOI = 0xD9
VP8_START_CODE = b"\x9d\x01\x2a"
VP8L_SIGNATURE = 0x2F


class InvalidNotificationError(ValueError):
    """The message is not an S3 event notification; retrying will not help."""


class ObjectMissingError(LookupError):
    """The notified object no longer exists (deleted, or never readable by this function)."""


class CreatedObject(NamedTuple):
    bucket: str
    key: str
    event_time: str


def _png_size(data: bytes) -> tuple[int, int] | None:
    # Signature, then the IHDR chunk: length (4), type (4), width (4), height (4), all big-endian.
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _gif_size(data: bytes) -> tuple[int, int] | None:
    # Logical screen descriptor right after the 6-byte signature: width, height (little-endian).
    if len(data) < 10:
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments after SOI up to the first SOFn and read its frame size."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # not at a marker: the stream is corrupt
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        pos += 2
        if marker in JPEG_STANDALONE_MARKERS:
            continue
        if marker in (JPEG_SOS, JPEG_EOI):
            return None  # entropy-coded data or the end, and no frame header before it
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            return None
        if marker in JPEG_SOF_MARKERS:
            # length (2), sample precision (1), height (2), width (2)
            if pos + 7 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return width, height
        pos += length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        # Extended format: flags (4), then canvas width - 1 and height - 1 as 24-bit little-endian.
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == VP8_START_CODE:
        # Lossy: frame tag (3), start code (3), then 14-bit width and height (2 scale bits each).
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == VP8L_SIGNATURE:
        # Lossless: signature byte, then width - 1 and height - 1 as two 14-bit fields.
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def inspect_header(data: bytes) -> dict[str, Any]:
    """Media type from the magic bytes and, for images, the pixel size read from the header.

    Never raises: anything unrecognised is ``application/octet-stream``; a recognised format
    whose header is truncated or corrupt has a media type but no ``width``/``height``.
    """
    size: tuple[int, int] | None = None
    if data.startswith(PNG_SIGNATURE):
        media_type, size = "image/png", _png_size(data)
    elif data.startswith(JPEG_SOI):
        media_type, size = "image/jpeg", _jpeg_size(data)
    elif data[:6] in GIF_SIGNATURES:
        media_type, size = "image/gif", _gif_size(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        media_type, size = "image/webp", _webp_size(data)
    elif data.startswith(b"%PDF-"):
        media_type = "application/pdf"
    else:
        media_type = OCTET_STREAM
    result: dict[str, Any] = {"media_type": media_type}
    if size is not None and size[0] > 0 and size[1] > 0:
        result["width"], result["height"] = size
    return result


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def parse_notification(body: str) -> list[CreatedObject] | None:
    """The objects an S3 event notification is about, or ``None`` for S3's test event."""
    try:
        notification = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidNotificationError(f"body is not JSON: {error.msg}") from error
    if not isinstance(notification, dict):
        raise InvalidNotificationError("notification must be a JSON object")
    if notification.get("Event") == TEST_EVENT:
        return None
    records = notification.get("Records")
    if not isinstance(records, list) or not records:
        raise InvalidNotificationError("notification needs a non-empty Records list")
    objects = []
    for record in records:
        bucket = _get(record, "s3", "bucket", "name")
        key = _get(record, "s3", "object", "key")
        event_time = _get(record, "eventTime")
        if not all(isinstance(value, str) and value for value in (bucket, key, event_time)):
            raise InvalidNotificationError(
                "every record needs s3.bucket.name, s3.object.key and eventTime strings"
            )
        # S3 URL-encodes object keys in notifications (a space arrives as '+').
        objects.append(CreatedObject(bucket=bucket, key=unquote_plus(key), event_time=event_time))
    return objects


# No subsegment of its own (~8 us per object even with tracing off, more than the parsing): the
# X-Ray-patched S3 calls are traced anyway.
def describe_object(created: CreatedObject) -> dict[str, Any]:
    try:
        head = s3().head_object(Bucket=created.bucket, Key=created.key)
    except ClientError as error:
        # Without s3:ListBucket, S3 answers 403 rather than 404 for a missing key; either way
        # the error propagates and fails this record only.
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise ObjectMissingError(
                f"s3://{created.bucket}/{created.key} does not exist"
            ) from error
        raise
    size = head["ContentLength"]
    data = b""
    if size:  # a range request on an empty object is answered 416, and there is nothing to read
        response = s3().get_object(
            Bucket=created.bucket,
            Key=created.key,
            Range=f"bytes=0-{HEADER_BYTES - 1}",
            # The bytes must belong to the version whose size and ETag are recorded.
            IfMatch=head["ETag"],
        )
        data = response["Body"].read()
    return {
        "object_key": created.key,
        "record": "metadata",
        "bucket": created.bucket,
        "size": size,
        "etag": head["ETag"].strip('"'),
        **inspect_header(data),
        "event_time": created.event_time,
    }


# Per record: the work, its (X-Ray-patched) S3 reads and DynamoDB write, and a DEBUG line when
# DEBUG is on. The batch is logged and measured once in handler(): per-record INFO lines and
# metrics cost more than the parsing itself (benchmarks/README: handler_ratio).
inspected: list[str] = []


def record_handler(record: SQSRecord) -> None:
    objects = parse_notification(record.body)
    if objects is None:
        logger.info("skipping the S3 test event", message_id=record.message_id)
        metrics.add_metric(name="TestEventsSkipped", unit=MetricUnit.Count, value=1)
        return
    for created in objects:
        item = describe_object(created)
        table().put_item(Item=item)
        inspected.append(created.key)
        if logger.log_level <= logging.DEBUG:  # a discarded debug call still costs ~1 us
            logger.debug(
                "object inspected",
                object_key=created.key,
                media_type=item["media_type"],
                size=item["size"],
            )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported here rather than with the module, like processor(). No context: given one,
    # Powertools inspects the record handler's signature on every invocation to pass it along.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    inspected.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor()
    )
    failures = len(response.get("batchItemFailures", []))
    metrics.add_metric(name="ObjectsInspected", unit=MetricUnit.Count, value=len(inspected))
    if failures:
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failures)
    logger.info("batch processed", objects_inspected=len(inspected), records_failed=failures)
    return response
