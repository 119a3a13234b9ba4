"""Construction-time validation with one message style for every construct.

A construct collects every problem with its arguments and raises them together, so a user
fixes a configuration in one round trip instead of one error at a time::

    QueueWorker at 'Stack/Orders': batch_size=20 is not allowed for a FIFO queue (allowed: 1..10)
"""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct, IConstruct

from serverless_patterns import _tree


class Problems:
    """Collects argument problems for one construct and raises them as one ``ValueError``.

    The construct's path is asked of jsii only when a message needs it.
    """

    def __init__(self, construct_type: str, scope: IConstruct, construct_id: str) -> None:
        self._construct_type = construct_type
        self._where: tuple[IConstruct, str | None] = (scope, construct_id)
        self._messages: list[str] = []

    @classmethod
    def of(cls, construct_type: str, construct: IConstruct) -> Problems:
        """Problems of a method call on an existing construct (``add_*`` methods)."""
        problems = cls.__new__(cls)
        problems._construct_type = construct_type
        problems._where = (construct, None)
        problems._messages = []
        return problems

    @property
    def prefix(self) -> str:
        """``Construct at 'path'``: how every message of this construct begins."""
        construct, child_id = self._where
        path = _tree.path(construct)
        if child_id is not None:
            path = f"{path}/{child_id}" if path else child_id
        return f"{self._construct_type} at '{path}'"

    @property
    def has_problems(self) -> bool:
        """Whether any problem was recorded."""
        return bool(self._messages)

    def add(self, argument: str, value: object, reason: str, allowed: str) -> None:
        """Record that ``argument=value`` is wrong for ``reason``; ``allowed`` says what is fine."""
        self._messages.append(f"{argument}={_show(value)} {reason} (allowed: {allowed})")

    def check_range(
        self,
        argument: str,
        value: int | float | None,
        low: int | float,
        high: int | float,
        *,
        unit: str = "",
        context: str = "",
    ) -> None:
        """Record a problem when ``value`` is given and lies outside ``low..high``."""
        if value is None or low <= value <= high:
            return
        reason = f"is not allowed{' ' + context if context else ''}"
        self.add(argument, value, reason, f"{number(low)}..{number(high)}{unit}")

    def check_duration(
        self,
        argument: str,
        value: Duration | None,
        low_seconds: float,
        high_seconds: float,
        *,
        context: str = "",
    ) -> None:
        """Record a problem when ``value`` is given and lies outside ``low..high`` seconds."""
        seconds = None if value is None else _tree.seconds(value)
        if seconds is None or low_seconds <= seconds <= high_seconds:
            return
        reason = f"is not allowed{' ' + context if context else ''}"
        self.add(argument, value, reason, f"{number(low_seconds)}..{number(high_seconds)} seconds")

    def raise_if_any(self) -> None:
        if not self._messages:
            return
        if len(self._messages) == 1:
            raise ValueError(f"{self.prefix}: {self._messages[0]}")
        joined = "\n  - ".join(self._messages)
        raise ValueError(f"{self.prefix}: {len(self._messages)} problems:\n  - {joined}")


def _show(value: object) -> str:
    """Render a value the way a user would read it: seconds of a Duration, path of a construct."""
    if isinstance(value, Duration):
        return f"Duration.seconds({number(value.to_seconds(integral=False))})"
    if isinstance(value, Construct):
        return f"<{_tree.path(value)}>"
    return repr(value)


def number(value: float) -> str:
    """``1296000`` rather than ``1.296e+06``; fractions as Python prints them."""
    return str(int(value)) if float(value).is_integer() else repr(value)
