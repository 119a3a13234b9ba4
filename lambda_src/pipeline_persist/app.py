"""Order pipeline, stage ``persist``: stores each screened order in DynamoDB, once.

The order is written as it arrives (every field an attribute; integers and strings as they are,
so money stays whole cents) to the table named by ``TABLE_NAME``, whose partition key is
``order_id``. The write is conditional on no item with that ``order_id`` existing yet: delivery
between stages is at least once, and a redelivered order must neither be written twice nor
overwrite what was stored first. When the condition fails the order is already stored, so the
stage passes it on all the same (idempotent). The stage returns the order it was given.

Failure vs filter: nothing is filtered here. Any other DynamoDB error (throttling, a missing
table, ...) raises, so the item is retried and then dead-lettered. So does an order without a
non-empty string ``order_id`` or holding a float (upstream stages deal in integer cents only):
both are bugs, not bad input.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from serverless_patterns.stage import pipeline_stage

# The logger of the stage helper's service (``POWERTOOLS_SERVICE_NAME``, else the function's name).
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "persist"))

TABLE_NAME = os.environ["TABLE_NAME"]


@functools.cache
def table() -> Any:
    """The orders table, created on first use and reused by every invocation of the container.

    boto3 is imported here rather than with the module: the import and the resource's models
    are most of a cold start, and the first invocation needs them anyway.
    """
    import boto3

    return boto3.resource("dynamodb").Table(TABLE_NAME)


class UnstorableOrderError(ValueError):
    """The order cannot be stored as it is."""


def check_storable(value: Any, path: str = "order") -> None:
    """Raise :class:`UnstorableOrderError` if ``value`` holds a float anywhere.

    DynamoDB numbers are exact decimals; a float here would mean an upstream stage computed
    money in binary floating point.
    """
    if isinstance(value, float):
        raise UnstorableOrderError(f"{path} is a float ({value!r}): amounts must be integers")
    if isinstance(value, dict):
        for key, item in value.items():
            check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]")


def persist(order: dict[str, Any]) -> dict[str, Any]:
    """The stage function: store ``order`` unless it is stored already; return it."""
    order_id = order.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise UnstorableOrderError("order has no order_id")
    check_storable(order)
    try:
        table().put_item(Item=order, ConditionExpression="attribute_not_exists(order_id)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        logger.debug("order already stored", order_id=order_id)
    return order


handler = pipeline_stage(persist)
