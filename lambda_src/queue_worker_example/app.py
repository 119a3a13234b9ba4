"""Example QueueWorker consumer: prices orders from SQS and stores them in DynamoDB.

Each SQS record is one order (JSON). A record that is malformed or fails is reported as a batch
item failure, so SQS retries only that message (and dead-letters it after the queue's
``maxReceiveCount``); the other records of the batch succeed.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A batch whose every record failed is reported like any other (each item a failure) rather
# than raised, so the failure metric is recorded for it too; SQS retries those items either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Created once per container, reused by every invocation.
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


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


# Per record: only the work, a DEBUG line and the (X-Ray-patched) DynamoDB call. Logging at INFO,
# a traced subsegment and a metric per record cost ~70 us each, 10x the business work
# (benchmarks/README: handler_ratio); the batch is logged and measured once, below.
def record_handler(record: SQSRecord) -> None:
    try:
        order = json.loads(record.body)
    except json.JSONDecodeError as error:
        raise InvalidOrderError(f"body is not JSON: {error.msg}") from error
    priced = price_order(order)
    table.put_item(Item={**priced, "message_id": record.message_id})
    logger.debug("order priced", order_id=priced["order_id"], total=str(priced["total"]))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failures = len(response.get("batchItemFailures", []))
    priced = len(event.get("Records", [])) - failures
    metrics.add_metric(name="OrdersPriced", unit=MetricUnit.Count, value=priced)
    if failures:
        metrics.add_metric(name="OrdersFailed", unit=MetricUnit.Count, value=failures)
    logger.info("batch processed", orders_priced=priced, orders_failed=failures)
    return response
