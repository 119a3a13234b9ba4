"""Order pipeline, stage ``validate``: checks an order's shape and normalizes it.

An order is a JSON object::

    {
        "order_id": "o-1",            # non-blank string, at most 64 characters
        "customer_id": "c-1",         # non-blank string
        "country": "DE",              # two upper-case ASCII letters
        "items": [                    # 1 to 100 lines
            {"sku": "MUG-002", "quantity": 2}   # non-blank string; integer 1..1000
        ],
        "new_customer": false         # optional boolean, false when absent
    }

The stage returns the order with only these fields (unknown fields are dropped, each line keeps
only ``sku`` and ``quantity``, ``new_customer`` is always present).

Failure vs filter: an order that breaks this schema will never succeed, so it is not retried but
filtered out as ``Filtered("invalid order: <what is wrong>")`` and lands with that reason in the
pipeline's rejected queue. This stage itself never fails for an item; a body that is not JSON at
all fails in the stage helper (``serverless_patterns.stage``) before this code runs.
"""

from __future__ import annotations

import re
from typing import Any

from serverless_patterns.stage import Filtered, pipeline_stage

MAX_ORDER_ID_LENGTH = 64
MAX_LINES = 100
MIN_QUANTITY = 1
MAX_QUANTITY = 1_000

_COUNTRY = re.compile(r"[A-Z]{2}")


class InvalidOrderError(ValueError):
    """The order breaks the schema; the message says how."""


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_order(order: Any) -> dict[str, Any]:
    """Return the normalized order, or raise :class:`InvalidOrderError` naming the problem."""
    if not isinstance(order, dict):
        raise InvalidOrderError("order must be a JSON object")
    order_id = order.get("order_id")
    if not _is_text(order_id) or len(order_id) > MAX_ORDER_ID_LENGTH:
        raise InvalidOrderError(
            f"order_id must be a non-empty string of at most {MAX_ORDER_ID_LENGTH} characters"
        )
    customer_id = order.get("customer_id")
    if not _is_text(customer_id):
        raise InvalidOrderError("customer_id must be a non-empty string")
    country = order.get("country")
    if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
        raise InvalidOrderError("country must be two upper-case letters")
    items = order.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        raise InvalidOrderError(f"items must be a list of 1 to {MAX_LINES} lines")
    lines = [_check_line(index, line) for index, line in enumerate(items)]
    new_customer = order.get("new_customer", False)
    if not isinstance(new_customer, bool):
        raise InvalidOrderError("new_customer must be true or false")
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "country": country,
        "items": lines,
        "new_customer": new_customer,
    }


def _check_line(index: int, line: Any) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise InvalidOrderError(f"items[{index}] must be an object")
    sku = line.get("sku")
    if not _is_text(sku):
        raise InvalidOrderError(f"items[{index}].sku must be a non-empty string")
    quantity = line.get("quantity")
    # bool is an int in Python, and JSON may carry 2.0: only a real int will do.
    if type(quantity) is not int or not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        raise InvalidOrderError(
            f"items[{index}].quantity must be an integer in {MIN_QUANTITY}..{MAX_QUANTITY}"
        )
    return {"sku": sku, "quantity": quantity}


def validate(order: Any) -> dict[str, Any] | Filtered:
    """The stage function: the normalized order, or ``Filtered`` for an invalid one."""
    try:
        return check_order(order)
    except InvalidOrderError as error:
        return Filtered(f"invalid order: {error}")


handler = pipeline_stage(validate)
