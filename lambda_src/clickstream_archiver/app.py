"""Clickstream analytics, archiver: every batch of click events as one JSON-lines object in S3.

The API puts every click onto a Kinesis stream as JSON (``{"page": ..., "user": ..., "ts": ...}``,
partition key = page). This consumer decodes each record of a batch and, after the whole batch is
processed, writes the good clicks (in stream order, one compact JSON object per line) to
``clicks/<shard id>/<first sequence number>-<last sequence number>.jsonl``. The key is made of
the batch's first and last records, good or not, so a retried batch overwrites its own object.

A record that is not a click (not base64-encoded JSON, or without a non-empty ``page``) is
dropped: logged as a warning (its sequence number and the reason, never its data), counted in the
invocation's ``MalformedRecords`` metric, and not archived. It is not a batch item failure,
because retrying cannot fix it, and reporting it would make Lambda re-deliver the batch from that
record on, archiving the good records after it a second time under another key. Any other failure
of a record is a batch item failure reported by its sequence number (Lambda retries from it).
When no record of a batch is a good click, nothing is written.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
        KinesisStreamRecord,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a third
# of a cold start's import with active tracing. Each client accessor below patches before it
# makes its client (the patch is class-wide: every call is traced, as with auto_patch).
tracer = Tracer(auto_patch=False)
metrics = Metrics()

BUCKET_NAME = os.environ["BUCKET_NAME"]


# Both made on first use and reused by every invocation of the container: boto3 and Powertools'
# batch utility (with the data classes of every event source) are most of a cold start's import,
# and the first invocation needs them anyway.
@functools.cache
def s3() -> Any:
    """The S3 client."""
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.client("s3")


@functools.cache
def processor() -> BatchProcessor:
    """The batch processor. A batch whose every record failed (malformed records are dropped,
    not failed) is reported like any other (each item a failure) rather than raised, so the
    failure metric is recorded for it too; Lambda retries from the first failed record either
    way."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(
        event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
    )


KEY_PREFIX = "clicks"
CONTENT_TYPE = "application/x-ndjson"
# The same limit as the aggregator's (DynamoDB's partition key), so both agree on what a click is.
MAX_PAGE_BYTES = 2048

# The good clicks of the current invocation, in stream order; reset by every invocation.
batch_clicks: list[dict[str, Any]] = []
# The sequence numbers of the current invocation's malformed records, dropped; reset likewise.
batch_malformed: list[str] = []


class InvalidClickError(ValueError):
    """The record is not a click event; retrying will not help."""


def parse_click(data: str) -> dict[str, Any]:
    """Decode a Kinesis record's base64 ``data`` into a click event and validate it."""
    try:
        click = json.loads(base64.b64decode(data, validate=True))
    except ValueError as error:  # binascii.Error, UnicodeDecodeError and JSONDecodeError
        raise InvalidClickError(f"data is not base64-encoded JSON: {error}") from error
    if not isinstance(click, dict):
        raise InvalidClickError("click must be a JSON object")
    page = click.get("page")
    if not isinstance(page, str) or not page:
        raise InvalidClickError("page must be a non-empty string")
    if len(page.encode("utf-8")) > MAX_PAGE_BYTES:
        raise InvalidClickError(f"page must be at most {MAX_PAGE_BYTES} bytes of UTF-8")
    return click


def archive_key(event: dict[str, Any]) -> str:
    """``clicks/<shard id>/<first>-<last>.jsonl`` for the batch's first and last records."""
    records = event["Records"]
    event_id = records[0].get("eventID", "")
    # eventID is "<shard id>:<sequence number>"; tumbling-window events also carry shardId.
    shard_id = event.get("shardId") or (event_id.split(":", 1)[0] if ":" in event_id else "")
    first = records[0]["kinesis"]["sequenceNumber"]
    last = records[-1]["kinesis"]["sequenceNumber"]
    return f"{KEY_PREFIX}/{shard_id or 'unknown'}/{first}-{last}.jsonl"


def to_json_lines(clicks: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(click, separators=(",", ":")) + "\n" for click in clicks).encode()


# No subsegment per record (a batch holds up to 10,000 of them, each its own X-Ray document):
# the invocation and the S3 write are traced instead.
def record_handler(record: KinesisStreamRecord) -> None:
    try:
        click = parse_click(record.kinesis.data)
    except InvalidClickError as error:
        # Permanent: dropped rather than failed (see the module's docstring). Anything else a
        # record raises is a batch item failure, retried.
        drop_malformed(record, error)
        return
    batch_clicks.append(click)


def drop_malformed(record: KinesisStreamRecord, error: InvalidClickError) -> None:
    sequence_number = record.kinesis.sequence_number
    logger.warning("malformed record dropped", sequence_number=sequence_number, reason=str(error))
    batch_malformed.append(sequence_number)


@tracer.capture_method
def archive(key: str, clicks: list[dict[str, Any]]) -> None:
    s3().put_object(
        Bucket=BUCKET_NAME, Key=key, Body=to_json_lines(clicks), ContentType=CONTENT_TYPE
    )
    logger.info("batch archived", key=key, clicks=len(clicks))
    metrics.add_metric(name="ClicksArchived", unit=MetricUnit.Count, value=len(clicks))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch_clicks.clear()
    batch_malformed.clear()
    # Imported here rather than with the module, like processor(). No context: given one,
    # Powertools inspects the record handler's signature on every invocation to pass it along.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor()
    )
    failures = len(response.get("batchItemFailures", []))
    if failures:
        metrics.add_metric(name="ClicksFailed", unit=MetricUnit.Count, value=failures)
    if batch_malformed:
        metrics.add_metric(
            name="MalformedRecords", unit=MetricUnit.Count, value=len(batch_malformed)
        )
    if batch_clicks:
        archive(archive_key(event), batch_clicks)
    return response
