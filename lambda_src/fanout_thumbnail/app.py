"""Media upload pipeline, thumbnail consumer: writes a placeholder thumbnail for every image.

The bucket publishes ``ObjectCreated`` events under ``uploads/`` to an SNS topic; this worker's
queue is subscribed with raw message delivery and a payload filter on the key suffixes
``.png``/``.jpg``/``.jpeg``/``.gif``, so each SQS record body is the S3 event notification JSON of
an image upload. Without an imaging library the "thumbnail" is an SVG placeholder: the image's
header gives its size, the thumbnail is that size fitted into 128x128, and the SVG (written under
``thumbnails/``, outside the notified prefix, so it triggers nothing) shows the original size.

An object that is not a PNG, JPEG or GIF with a readable size, a malformed body or a missing
object is reported as a batch item failure: SQS retries only that message (and dead-letters it
after the queue's ``maxReceiveCount``); the other records of the batch succeed.
"""

from __future__ import annotations

import functools
import json
import os
import struct
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

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
THUMBNAIL_BOX = 128
UPLOAD_PREFIX = "uploads/"
THUMBNAIL_PREFIX = "thumbnails/"
SVG_CONTENT_TYPE = "image/svg+xml"
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


class InvalidNotificationError(ValueError):
    """The message is not an S3 event notification; retrying will not help."""


class UnsupportedImageError(ValueError):
    """The object is not a PNG, JPEG or GIF whose pixel size can be read from its header."""


class CreatedObject(NamedTuple):
    bucket: str
    key: str


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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Pixel (width, height) of a PNG, GIF or JPEG from its header; ``None`` if unreadable."""
    size = None
    if data.startswith(PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        size = struct.unpack(">II", data[16:24])
    elif data[:6] in GIF_SIGNATURES and len(data) >= 10:
        size = struct.unpack("<HH", data[6:10])
    elif data.startswith(JPEG_SOI):
        size = _jpeg_size(data)
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size[0], size[1]


def fit_within(width: int, height: int, box: int = THUMBNAIL_BOX) -> tuple[int, int]:
    """Largest size within ``box`` x ``box`` with the aspect ratio of ``width`` x ``height``.

    Never upscales, and neither side drops below 1 px. Integer arithmetic, rounding half up.
    """
    if width < 1 or height < 1 or box < 1:
        raise ValueError("width, height and box must be positive")
    if width <= box and height <= box:
        return width, height
    if width >= height:
        return box, max(1, (2 * height * box + width) // (2 * width))
    return max(1, (2 * width * box + height) // (2 * height)), box


def render_svg(
    width: int, height: int, original_width: int, original_height: int, title: str
) -> str:
    """A ``width`` x ``height`` placeholder SVG: a rectangle labelled with the original size."""
    label = escape(f"{original_width}x{original_height}")
    font_size = max(1, min(height // 3, width // 6))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#e5e7eb" stroke="#9ca3af"/>'
        f'<text x="{width / 2:g}" y="{height / 2:g}" font-family="sans-serif"'
        f' font-size="{font_size}" text-anchor="middle" dominant-baseline="middle"'
        f' fill="#374151">{label}</text>'
        "</svg>"
    )


def thumbnail_key_for(key: str) -> str:
    return f"{THUMBNAIL_PREFIX}{key.removeprefix(UPLOAD_PREFIX)}.svg"


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
        if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
            raise InvalidNotificationError("every record needs s3.bucket.name and s3.object.key")
        # S3 URL-encodes object keys in notifications (a space arrives as '+').
        objects.append(CreatedObject(bucket=bucket, key=unquote_plus(key)))
    return objects


@tracer.capture_method
def make_thumbnail(created: CreatedObject) -> dict[str, Any]:
    response = s3().get_object(
        Bucket=created.bucket, Key=created.key, Range=f"bytes=0-{HEADER_BYTES - 1}"
    )
    data = response["Body"].read()
    size = image_size(data)
    if size is None:
        raise UnsupportedImageError(
            f"s3://{created.bucket}/{created.key} is not a PNG, JPEG or GIF with a readable size"
        )
    width, height = fit_within(*size)
    thumbnail_key = thumbnail_key_for(created.key)
    s3().put_object(
        Bucket=created.bucket,
        Key=thumbnail_key,
        Body=render_svg(width, height, *size, title=created.key).encode(),
        ContentType=SVG_CONTENT_TYPE,
    )
    return {
        "object_key": created.key,
        "record": "thumbnail",
        "thumbnail_key": thumbnail_key,
        "width": width,
        "height": height,
    }


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    objects = parse_notification(record.body)
    if objects is None:
        logger.info("skipping the S3 test event", message_id=record.message_id)
        metrics.add_metric(name="TestEventsSkipped", unit=MetricUnit.Count, value=1)
        return
    for created in objects:
        item = make_thumbnail(created)
        table().put_item(Item=item)
        logger.info(
            "thumbnail written",
            object_key=created.key,
            thumbnail_key=item["thumbnail_key"],
            width=item["width"],
            height=item["height"],
        )
        metrics.add_metric(name="ThumbnailsWritten", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported here rather than with the module, like processor(). No context: given one,
    # Powertools inspects the record handler's signature on every invocation to pass it along.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor()
    )
    failures = len(response.get("batchItemFailures", []))
    if failures:
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failures)
    return response
