"""Event source mapping filter criteria, checked at synth time as Lambda would at deploy time.

A filter is CDK's ``lambda_.FilterCriteria.filter({...})`` (``{"pattern": "<JSON>"}``) or the
pattern itself as a dict. Lambda's rules: a pattern is a JSON object whose leaves are lists of
values or operators; a Kinesis mapping filters on ``data`` only, an SQS mapping on ``body`` and
the message's metadata; at most 4096 characters per pattern; five filters by default (a quota
increase allows ten).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_lambda as lambda_

from serverless_patterns._validation import Problems

KINESIS_KEYS = ("data",)
SQS_KEYS = ("body", "attributes", "messageAttributes", "messageId", "md5OfBody", "eventSource")
_MAX_PATTERN = 4096
_DEFAULT_QUOTA = 5
_MAX_FILTERS = 10
_OPERATORS = ("prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case")


def checked_filters(
    problems: Problems,
    argument: str,
    filters: Sequence[Mapping[str, Any]] | None,
    *,
    keys: Sequence[str],
) -> list[dict[str, Any]] | None:
    """``filters`` in CDK's form, every problem recorded; None when none are given."""
    if filters is None:
        return None
    if not filters:
        problems.add(argument, [], "is empty", "one or more filters, or leave it out")
        return None
    if len(filters) > _MAX_FILTERS:
        problems.add(
            argument,
            f"{len(filters)} filters",
            "is more than an event source mapping takes",
            f"at most {_DEFAULT_QUOTA} (or {_MAX_FILTERS} with a raised Lambda quota)",
        )
    result: list[dict[str, Any]] = []
    for index, given in enumerate(filters):
        where = f"{argument}[{index}]"
        pattern = _pattern_of(problems, where, given)
        if pattern is None:
            continue
        text = json.dumps(pattern, separators=(",", ":"))
        if len(text) > _MAX_PATTERN:
            problems.add(where, f"{len(text)} characters", "is too long", f"{_MAX_PATTERN}")
        unknown = sorted(set(pattern) - set(keys))
        if unknown:
            problems.add(
                where,
                dict(pattern),
                f"filters on {', '.join(map(repr, unknown))}, which this event source does not "
                "offer",
                f"patterns on {', '.join(map(repr, keys))}, e.g. "
                f"{{{keys[0]!r}: {{'type': ['click']}}}}",
            )
        _check_rules(problems, where, pattern)
        result.append(dict(lambda_.FilterCriteria.filter(pattern)))
    return result


def _pattern_of(problems: Problems, where: str, given: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pattern as a dict: parsed from CDK's ``{"pattern": "<JSON>"}``, or given as is."""
    if set(given) == {"pattern"} and isinstance(given["pattern"], str):
        try:
            parsed = json.loads(given["pattern"])
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.add(where, dict(given), "has a pattern that is not a JSON object", "{...}")
            return None
        return parsed
    return dict(given)


def _check_rules(problems: Problems, where: str, rules: Mapping[str, Any], path: str = "") -> None:
    for key, value in rules.items():
        at = f"{path}{key}"
        if isinstance(value, Mapping):
            _check_rules(problems, where, value, f"{at}.")
        elif isinstance(value, list | tuple):
            if not value:
                problems.add(
                    where, at, "has an empty list (it matches nothing)", "one value or more"
                )
            for element in value:
                if isinstance(element, Mapping) and (
                    len(element) != 1 or next(iter(element)) not in _OPERATORS
                ):
                    problems.add(
                        where,
                        dict(element),
                        f"at {at} is not a filter operator",
                        ", ".join(_OPERATORS),
                    )
        else:
            problems.add(
                where,
                {at: value},
                "has a value that is not a list: Lambda matches against lists of values",
                f"{{{at.split('.')[-1]!r}: [{value!r}]}}",
            )
