"""Media upload pipeline, audit consumer: one audit item per S3 event, straight from SNS.

This function is subscribed to the topic directly (no queue), so SNS invokes it asynchronously
with ``{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}``; each SNS ``Message`` is the S3
event notification JSON. Every S3 record becomes an item keyed by the object and
``audit#<eventTime>#<SNS message id>``, so a retried invocation rewrites the same items.

A message that is not an S3 event notification is logged as an error and raised: Lambda then
retries the asynchronous invocation and finally hands the event to the function's on-failure
destination, instead of the message disappearing silently. The whole event is validated before
anything is written. The ``s3:TestEvent`` S3 sends when notifications are configured is skipped.
"""

from __future__ import annotations

import functools
import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import SNSEvent
    from aws_lambda_powertools.utilities.data_classes.sns_event import SNSMessage
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# Not patched at import: X-Ray's patch of botocore imports botocore's whole client stack, a third
# of a cold start's import with active tracing. table() patches before it makes the client (the
# patch is class-wide: every call is traced, as with auto_patch).
tracer = Tracer(auto_patch=False)
metrics = Metrics()

TABLE_NAME = os.environ["TABLE_NAME"]


@functools.cache
def table() -> Any:
    """The uploads table, created on first use and reused by every invocation of the container.

    boto3 is imported here rather than with the module: the import and the resource's models
    are most of a cold start, and the first invocation needs them anyway.
    """
    tracer.patch()  # X-Ray's patch_all, once: later calls find it done
    import boto3

    return boto3.resource("dynamodb").Table(TABLE_NAME)


TEST_EVENT = "s3:TestEvent"


class InvalidNotificationError(ValueError):
    """An SNS message is not an S3 event notification."""


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def audit_items(message: SNSMessage) -> list[dict[str, Any]]:
    """The audit items for one SNS message (none for S3's test event)."""
    try:
        notification = json.loads(message.message)
    except json.JSONDecodeError as error:
        raise InvalidNotificationError(f"message is not JSON: {error.msg}") from error
    if not isinstance(notification, dict):
        raise InvalidNotificationError("message must be a JSON object")
    if notification.get("Event") == TEST_EVENT:
        return []
    records = notification.get("Records")
    if not isinstance(records, list) or not records:
        raise InvalidNotificationError("message needs a non-empty Records list")
    items = []
    for record in records:
        bucket = _get(record, "s3", "bucket", "name")
        key = _get(record, "s3", "object", "key")
        event_name = _get(record, "eventName")
        event_time = _get(record, "eventTime")
        if not all(
            isinstance(value, str) and value for value in (bucket, key, event_name, event_time)
        ):
            raise InvalidNotificationError(
                "every record needs eventName, eventTime, s3.bucket.name and s3.object.key"
            )
        item = {
            # S3 URL-encodes object keys in notifications (a space arrives as '+').
            "object_key": unquote_plus(key),
            "record": f"audit#{event_time}#{message.message_id}",
            "event_name": event_name,
            "bucket": bucket,
            "sns_message_id": message.message_id,
            "topic_arn": message.topic_arn,
        }
        size = _get(record, "s3", "object", "size")
        if type(size) is int:  # ObjectCreated events carry it; removals do not
            item["size"] = size
        items.append(item)
    return items


@tracer.capture_method
def collect(event: SNSEvent) -> list[dict[str, Any]]:
    items = []
    for record in event.records:
        message = record.sns
        try:
            message_items = audit_items(message)
        except InvalidNotificationError as error:
            logger.error(
                "SNS message is not an S3 event notification; raising so Lambda retries it",
                sns_message_id=message.message_id,
                topic_arn=message.topic_arn,
                reason=str(error),
            )
            metrics.add_metric(name="InvalidMessages", unit=MetricUnit.Count, value=1)
            raise
        if not message_items:
            logger.info("skipping the S3 test event", sns_message_id=message.message_id)
            metrics.add_metric(name="TestEventsSkipped", unit=MetricUnit.Count, value=1)
        items.extend(message_items)
    return items


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    # Imported here rather than with the module: the data classes package loads the classes of
    # every event source, which would add about half to the module's import.
    from aws_lambda_powertools.utilities.data_classes import SNSEvent

    items = collect(SNSEvent(event))
    for item in items:
        table().put_item(Item=item)
        logger.info(
            "upload audited",
            object_key=item["object_key"],
            event_name=item["event_name"],
            sns_message_id=item["sns_message_id"],
        )
    if items:
        metrics.add_metric(name="UploadsAudited", unit=MetricUnit.Count, value=len(items))
