"""Example QueueWorker consumer: prices orders from SQS and stores them in DynamoDB.

Each SQS record is one order (JSON). A record that is malformed or fails is reported as a batch
item failure, so SQS retries only that message (and dead-letters it after the queue's
``maxReceiveCount``); the other records of the batch succeed.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
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
    """The orders table."""
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


MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE = 1_000_000_000


class InvalidOrderError(ValueError):
    """The message is not an order this worker can price; retrying will not help."""


def price_order(order: Any) -> dict[str, Any]:
    """Validate an order and compute its total (the business work, free of any framework)."""
    if not isinstance(order, dict):
        raise InvalidOrderError("order must be a JSON object")
    order_id = order.get("order_id")
    items = order.get("items")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrderError("order_id must be a non-empty string")
    if not isinstance(items, list) or not items:
        raise InvalidOrderError("items must be a non-empty list")
    total = Decimal(0)
    for item in items:
        quantity = item.get("quantity") if isinstance(item, dict) else None
        price = item.get("unit_price") if isinstance(item, dict) else None
        # bool is an int in Python; NaN and Infinity are floats JSON may carry.
        if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidOrderError(f"every item needs an integer quantity in 1..{MAX_QUANTITY}")
        if type(price) not in (int, float) or not 0 <= price <= MAX_UNIT_PRICE:
            raise InvalidOrderError(f"every item needs a unit_price in 0..{MAX_UNIT_PRICE}")
        total += quantity * Decimal(str(price))
    return {"order_id": order_id, "item_count": len(items), "total": total}


# Per record: only the work, the (X-Ray-patched) DynamoDB call and a DEBUG line when DEBUG is on.
# Logging at INFO, a traced subsegment and a metric per record cost ~70 us each, 10x the business
# work (benchmarks/README: handler_ratio); the batch is logged and measured once, below.
def record_handler(record: SQSRecord) -> None:
    try:
        order = json.loads(record.body)
    except json.JSONDecodeError as error:
        raise InvalidOrderError(f"body is not JSON: {error.msg}") from error
    priced = price_order(order)
    table().put_item(Item={**priced, "message_id": record.message_id})
    if logger.log_level <= logging.DEBUG:  # a discarded debug call still costs ~1 us
        logger.debug("order priced", order_id=priced["order_id"], total=str(priced["total"]))


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
    priced = len(event.get("Records", [])) - failures
    metrics.add_metric(name="OrdersPriced", unit=MetricUnit.Count, value=priced)
    if failures:
        metrics.add_metric(name="OrdersFailed", unit=MetricUnit.Count, value=failures)
    logger.info("batch processed", orders_priced=priced, orders_failed=failures)
    return response
