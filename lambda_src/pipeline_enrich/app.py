"""Order pipeline, stage ``enrich``: prices a validated order and adds its tax.

Every line is priced from :data:`CATALOG` (SKU -> unit price in integer cents) and the tax is
the order's subtotal times the rate of its country in :data:`TAX_RATES_BASIS_POINTS` (1900 =
19 %), rounded half up to a whole cent. Money is integer cents throughout, never floats. The
stage adds to the order::

    "lines": [{"sku", "quantity", "unit_price_cents", "line_total_cents"}, ...],
    "subtotal_cents": sum of the line totals,
    "tax_cents": the tax on the subtotal,
    "total_cents": subtotal + tax

Failure vs filter: nothing is filtered here. An unknown SKU or a country without a tax rate
raises :class:`PricingError`: the order passed validation, so the catalog or rate table is stale
(or there is a bug) and the item must not silently leave the pipeline; it is retried and then
dead-lettered, where it can be replayed once the tables are fixed.
"""

from __future__ import annotations

from typing import Any

from serverless_patterns.stage import pipeline_stage

#: Unit price of every SKU sold, in cents.
CATALOG: dict[str, int] = {
    "BOOK-001": 1_299,
    "MUG-002": 850,
    "STICKER-003": 200,
    "TSHIRT-004": 1_999,
    "HEADPHONES-005": 8_999,
    "LAPTOP-006": 129_900,
}

#: Tax rate of every country shipped to, in basis points (hundredths of a percent).
TAX_RATES_BASIS_POINTS: dict[str, int] = {
    "AT": 2_000,
    "CH": 810,
    "DE": 1_900,
    "ES": 2_100,
    "FR": 2_000,
    "GB": 2_000,
    "IE": 2_300,
    "IT": 2_200,
    "NL": 2_100,
    "US": 0,
}

_BASIS = 10_000


class PricingError(LookupError):
    """The order cannot be priced with the current catalog or tax table."""


def unit_price_cents(sku: str) -> int:
    """The catalog price of ``sku``; :class:`PricingError` if it is not in the catalog."""
    try:
        return CATALOG[sku]
    except KeyError:
        raise PricingError(f"SKU {sku!r} is not in the catalog") from None


def tax_cents(subtotal_cents: int, country: str) -> int:
    """The tax on ``subtotal_cents`` in ``country``, rounded half up to a whole cent."""
    try:
        rate = TAX_RATES_BASIS_POINTS[country]
    except KeyError:
        raise PricingError(f"no tax rate for country {country!r}") from None
    # Integer round half up (amounts are never negative): no float ever touches money.
    return (subtotal_cents * rate + _BASIS // 2) // _BASIS


def enrich(order: dict[str, Any]) -> dict[str, Any]:
    """The stage function: the order with its priced lines, subtotal, tax and total."""
    lines = []
    for item in order["items"]:
        price = unit_price_cents(item["sku"])
        lines.append(
            {
                "sku": item["sku"],
                "quantity": item["quantity"],
                "unit_price_cents": price,
                "line_total_cents": price * item["quantity"],
            }
        )
    subtotal = sum(line["line_total_cents"] for line in lines)
    tax = tax_cents(subtotal, order["country"])
    return {
        **order,
        "lines": lines,
        "subtotal_cents": subtotal,
        "tax_cents": tax,
        "total_cents": subtotal + tax,
    }


handler = pipeline_stage(enrich)
