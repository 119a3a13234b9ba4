"""EventBridge Scheduler expressions, checked at synth time as the service checks them.

``rate(value unit)``: a positive whole number and ``minute``/``hour``/``day``, singular for 1
and plural above (``rate(1 minutes)`` is refused by the service). ``cron(minutes hours
day-of-month month day-of-week year)``: six fields, ``?`` in exactly one of day-of-month and
day-of-week. ``at(yyyy-mm-ddThh:mm:ss)``: one run at that time.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_AT = re.compile(r"at\((?P<when>[^()]*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    special: str = ""  # characters beyond , - * / that the field allows


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, special="?LW"),
    _Field("month", 1, 12, names=tuple(_MONTHS)),
    _Field("day-of-week", 1, 7, names=tuple(_DAYS), special="?L#"),
    _Field("year", 1970, 2199),
)


class ExpressionError(ValueError):
    """What is wrong with an expression (``reason``) and what would be right (``allowed``)."""

    def __init__(self, reason: str, allowed: str) -> None:
        super().__init__(f"{reason} (allowed: {allowed})")
        self.reason = reason
        self.allowed = allowed


@dataclass(frozen=True)
class Schedule:
    """What an expression means: seconds between runs (None for cron and at), and its kind."""

    kind: str
    interval_seconds: float | None


def parse_expression(expression: str) -> Schedule:
    """The meaning of a Scheduler expression; ExpressionError saying what is wrong with it."""
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            raise ExpressionError("has a rate of 0", "a whole number from 1")
        if value == 1 and unit.endswith("s"):
            raise ExpressionError("needs the singular unit for 1", f"'rate(1 {unit[:-1]})'")
        if value > 1 and not unit.endswith("s"):
            raise ExpressionError("needs the plural unit above 1", f"'rate({value} {unit}s)'")
        return Schedule("rate", float(value * _UNIT_SECONDS[unit.rstrip("s")]))
    cron = _CRON.fullmatch(expression)
    if cron:
        _check_cron(cron["fields"].split())
        return Schedule("cron", None)
    at = _AT.fullmatch(expression)
    if at:
        try:
            datetime.datetime.strptime(at["when"], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ExpressionError(
                "is not a one-time schedule", "'at(yyyy-mm-ddThh:mm:ss)'"
            ) from None
        return Schedule("at", None)
    raise ExpressionError(
        "is not a schedule expression",
        "a Duration, 'rate(5 minutes)', 'cron(0/10 * * * ? *)' or 'at(2027-01-01T09:00:00)'",
    )


def _check_cron(fields: list[str]) -> None:
    if len(fields) != len(_FIELDS):
        raise ExpressionError(
            f"has {len(fields)} cron fields",
            "6: minutes hours day-of-month month day-of-week year, e.g. 'cron(0/10 * * * ? *)'",
        )
    for text, field in zip(fields, _FIELDS, strict=True):
        if not _field_ok(text.upper(), field):
            raise ExpressionError(
                f"has {text!r} as its {field.name} field",
                f"{field.low}..{field.high}{', names' if field.names else ''}, with , - * /"
                f"{' ' + ' '.join(field.special) if field.special else ''}",
            )
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ExpressionError(
            "needs '?' in exactly one of day-of-month and day-of-week",
            "e.g. 'cron(0 9 * * ? *)' or 'cron(0 9 ? * MON-FRI *)'",
        )


def _field_ok(text: str, field: _Field) -> bool:
    if text in ("*", "?") and (text == "*" or "?" in field.special):
        return True
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) >= 1):
            return False
        if base == "*" and step:
            continue
        if field.name == "day-of-week" and "#" in base:
            day, _, nth = base.partition("#")
            if not (_value_ok(day, field) and nth in "12345" and len(nth) == 1):
                return False
            continue
        if base.endswith(("L", "W")) and base[:-1] and set(base[-1]) <= set(field.special):
            base = base[:-1]
        elif base in ("L", "LW") and "L" in field.special:
            continue
        low, _, high = base.partition("-")
        if not _value_ok(low, field) or (high and not _value_ok(high, field)):
            return False
    return True


def _value_ok(text: str, field: _Field) -> bool:
    if text in field.names:
        return True
    return text.isdigit() and field.low <= int(text) <= field.high
