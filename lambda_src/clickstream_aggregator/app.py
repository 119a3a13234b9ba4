"""Clickstream analytics, aggregator: page views per page in 60-second tumbling windows.

The API puts every click onto a Kinesis stream as JSON (``{"page": ..., "user": ..., "ts": ...}``,
partition key = page). This consumer's event source mapping has a tumbling window, so Lambda
invokes it with ``{"Records": [...], "window": {"start", "end"}, "state": {...}, "shardId",
"isFinalInvokeForWindow", "isWindowTerminatedEarly", ...}``, and passes the ``state`` this
function returns to its next invocation for the same window and shard. The state is the view
count per page, ``{page: views}``.

A record that is not a click (not base64-encoded JSON, or without a non-empty ``page``) is
dropped: logged as a warning (its sequence number and the reason, never its data), counted in the
invocation's ``MalformedRecords`` metric, and not counted in the window. It is not a batch item
failure, because retrying cannot fix it, and reporting it would make Lambda re-deliver the batch
from that record on, counting the good records after it in the window a second time. The good
records of the batch are counted. Any other failure of a record is a batch item failure reported
by its sequence number (Lambda retries from it). Every response carries both the state and the
failures; Lambda treats a response without ``state`` as a failed invocation.

On the window's final invocation (``isFinalInvokeForWindow``; its ``Records`` is usually empty)
one item per page is written to the table, keyed by ``page`` and ``window_start``, so a retried
final invocation rewrites the same items, and the state is reset.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections import Counter
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
# of a cold start's import with active tracing. table() patches before it makes the client (the
# patch is class-wide: every call is traced, as with auto_patch).
tracer = Tracer(auto_patch=False)
metrics = Metrics()

TABLE_NAME = os.environ["TABLE_NAME"]


# Both made on first use and reused by every invocation of the container: boto3 and Powertools'
# batch utility (with the data classes of every event source) are most of a cold start's import,
# and the first invocation needs them anyway.
@functools.cache
def table() -> Any:
    """The windows table."""
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.resource("dynamodb").Table(TABLE_NAME)


@functools.cache
def processor() -> BatchProcessor:
    """The batch processor. A batch whose every record failed (malformed records are dropped,
    not failed) is reported like any other (each item a failure) rather than raised: the
    response must still carry the window's state, and the failure metric is recorded for it
    too."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(
        event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
    )


# DynamoDB's limit for a partition key value. A longer page would make the window's final write
# fail, and Lambda retries a failed final invocation until it succeeds, stalling the shard.
MAX_PAGE_BYTES = 2048

# The pages of the current invocation's good records, in order; reset by every invocation.
batch_pages: list[str] = []
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


def aggregate(state: dict[str, int], pages: list[str]) -> dict[str, int]:
    """The window state after ``pages`` were viewed: one more view per occurrence of a page.

    Pure: ``state`` is not modified.
    """
    counts = Counter(state)
    counts.update(pages)
    return dict(counts)


# No subsegment per record (~15 us each, most of this handler's time): the invocation and the
# DynamoDB writes are traced instead.
def record_handler(record: KinesisStreamRecord) -> None:
    try:
        click = parse_click(record.kinesis.data)
    except InvalidClickError as error:
        # Permanent: dropped rather than failed (see the module's docstring). Anything else a
        # record raises is a batch item failure, retried.
        drop_malformed(record, error)
        return
    batch_pages.append(click["page"])


def drop_malformed(record: KinesisStreamRecord, error: InvalidClickError) -> None:
    sequence_number = record.kinesis.sequence_number
    logger.warning("malformed record dropped", sequence_number=sequence_number, reason=str(error))
    batch_malformed.append(sequence_number)


def process_records(event: dict[str, Any]) -> dict[str, Any]:
    """Run the batch processor over the event's records, collecting the good pages (and the
    malformed records it dropped)."""
    batch_pages.clear()
    batch_malformed.clear()
    if not event.get("Records"):
        # Powertools raises UnexpectedBatchTypeError for an event without records, and the
        # window's final invocation usually has none.
        return {"batchItemFailures": []}
    # Imported here rather than with the module, like processor(). No context: given one,
    # Powertools inspects the record handler's signature on every invocation to pass it along.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor()
    )
    return {"batchItemFailures": response.get("batchItemFailures", [])}


@tracer.capture_method
def write_window(state: dict[str, int], window: dict[str, str], shard_id: str) -> None:
    with table().batch_writer() as batch:
        for page, views in state.items():
            batch.put_item(
                Item={
                    "page": page,
                    "window_start": window["start"],
                    "views": views,
                    "window_end": window["end"],
                    "shard_id": shard_id,
                }
            )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_records(event)
    failures = len(response["batchItemFailures"])
    if failures:
        metrics.add_metric(name="ClicksFailed", unit=MetricUnit.Count, value=failures)
    if batch_malformed:
        metrics.add_metric(
            name="MalformedRecords", unit=MetricUnit.Count, value=len(batch_malformed)
        )
    # Published even when zero, so an invocation without records is recorded as such.
    metrics.add_metric(name="ClicksCounted", unit=MetricUnit.Count, value=len(batch_pages))
    state = aggregate(event.get("state") or {}, batch_pages)

    if not event.get("isFinalInvokeForWindow"):
        return {"state": state, **response}

    window = event["window"]
    shard_id = event.get("shardId") or "unknown"
    if event.get("isWindowTerminatedEarly"):
        # Lambda ends a window early when its state outgrows 1 MB and carries on with the same
        # window from an empty state; that part's final write replaces the items written here
        # for every page it saw again (views from before the cut are then lost).
        logger.warning("window terminated early", window=window, shard_id=shard_id)
    write_window(state, window, shard_id)
    logger.info(
        "window closed",
        window=window,
        shard_id=shard_id,
        pages=len(state),
        views=sum(state.values()),
    )
    metrics.add_metric(name="WindowPagesWritten", unit=MetricUnit.Count, value=len(state))
    return {"state": {}, **response}
