"""Order pipeline, stage ``fraud_screen``: takes suspicious priced orders out of the pipeline.

The rules, checked in this order (the first that matches gives the reason):

1. ``total_cents`` above :data:`MAX_TOTAL_CENTS` (any customer):
   ``"order total <total> cents is above the cap of <cap>"``;
2. ``total_cents`` above :data:`NEW_CUSTOMER_LIMIT_CENTS` for a ``new_customer``:
   ``"new customer order total <total> cents is above <limit>"``;
3. a line whose ``quantity`` is above :data:`MAX_LINE_QUANTITY`:
   ``"quantity <quantity> of <sku> is above <limit>"``.

An order none of them matches is passed on with ``"fraud_screen": "passed"`` added.

The thresholds are module constants; the environment variables ``FRAUD_MAX_TOTAL_CENTS``,
``FRAUD_NEW_CUSTOMER_LIMIT_CENTS`` and ``FRAUD_MAX_LINE_QUANTITY`` override them (read once, when
the module is loaded). An override that is not a positive whole number stops the module from
loading (an init error): a fraud screen must not silently run with a threshold nobody chose.

Failure vs filter: a suspicious order is filtered (``Filtered(reason)``), so it lands with its
reason in the rejected queue for a human to review; retrying would not change the verdict. An
order that was not priced (no integer ``total_cents``, no ``lines``) raises
:class:`UnpricedOrderError`: that is a wiring bug, so the item is retried and dead-lettered.
"""

from __future__ import annotations

import os
import re
from typing import Any

from serverless_patterns.stage import Filtered, pipeline_stage

_WHOLE_NUMBER = re.compile(r"[0-9]{1,15}")


def positive_int_env(name: str, default: int) -> int:
    """The environment variable ``name`` as a positive integer, ``default`` when unset or blank.

    Raises ``ValueError`` for anything else (signs, decimals, exponents, zero, ...).
    """
    raw = os.environ.get(name, "")
    text = raw.strip()
    if not text:
        return default
    if not _WHOLE_NUMBER.fullmatch(text) or int(text) == 0:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
    return int(text)


#: No order above this total (cents, tax included) passes, whoever the customer.
MAX_TOTAL_CENTS = positive_int_env("FRAUD_MAX_TOTAL_CENTS", 2_000_000)
#: A new customer's order above this total (cents, tax included) is held back.
NEW_CUSTOMER_LIMIT_CENTS = positive_int_env("FRAUD_NEW_CUSTOMER_LIMIT_CENTS", 500_000)
#: No line may order more than this many of one SKU.
MAX_LINE_QUANTITY = positive_int_env("FRAUD_MAX_LINE_QUANTITY", 50)


class UnpricedOrderError(ValueError):
    """The order reached the fraud screen without the enrich stage's prices."""


def suspicion(order: dict[str, Any]) -> str | None:
    """Why the priced ``order`` is suspicious, or ``None`` if it is not."""
    total = order.get("total_cents")
    lines = order.get("lines")
    if type(total) is not int or not isinstance(lines, list):
        raise UnpricedOrderError("order has no integer total_cents and lines: was it enriched?")
    if total > MAX_TOTAL_CENTS:
        return f"order total {total} cents is above the cap of {MAX_TOTAL_CENTS}"
    if order.get("new_customer") is True and total > NEW_CUSTOMER_LIMIT_CENTS:
        return f"new customer order total {total} cents is above {NEW_CUSTOMER_LIMIT_CENTS}"
    for line in lines:
        if line["quantity"] > MAX_LINE_QUANTITY:
            return f"quantity {line['quantity']} of {line['sku']} is above {MAX_LINE_QUANTITY}"
    return None


def fraud_screen(order: dict[str, Any]) -> dict[str, Any] | Filtered:
    """The stage function: ``Filtered`` for a suspicious order, else the order marked passed."""
    reason = suspicion(order)
    if reason is not None:
        return Filtered(reason)
    return {**order, "fraud_screen": "passed"}


handler = pipeline_stage(fraud_screen)
