"""One dead-letter queue redriven: messages received, each given to the route that knows its
shape, deleted once done, kept (visible again) when not; or, for a plain queue redrive, one SQS
message move task watched to its end. A dry run peeks and puts every message back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from serverless_patterns.redrive import _sqs
from serverless_patterns.redrive._aws import Aws
from serverless_patterns.redrive._routes import MOVED, QueueRoute, Refused, Route, error_text
from serverless_patterns.redrive._sqs import Message, QueueRef

#: How often a message move task's progress is read.
MOVE_POLL_SECONDS = 1.0
#: Failed messages named one by one in the output; the rest are counted.
SHOWN_FAILURES = 10
SAMPLE_SIZE = 3
#: Errors of StartMessageMoveTask that mean "not here": the messages are moved one by one.
UNSUPPORTED_CODES = {
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidAction",
    "UnknownOperationException",
    "NotImplemented",
    "AccessDenied",
    "AccessDeniedException",
}


@dataclass
class Target:
    """A dead-letter queue and the routes its messages go back by."""

    queue: QueueRef
    routes: Sequence[Route]

    def kinds(self) -> str:
        return "+".join(dict.fromkeys(route.kind() for route in self.routes))

    def header(self) -> str:
        destinations = "; ".join(dict.fromkeys(route.destination() for route in self.routes))
        return f"{self.queue.label} ({self.kinds()}): {destinations}"

    def route_of(self, message: Message) -> Route | str:
        """The route for ``message``, or why none takes it (a refusal's reason first)."""
        reasons = []
        for route in self.routes:
            reason = route.accepts(message)
            if reason is None:
                return route
            reasons.append(reason)
        refusals = [r.reason for r in self.routes if isinstance(r, Refused)]
        return refusals[0] if refusals else "; ".join(dict.fromkeys(reasons))


@dataclass
class Tally:
    moved: int = 0
    replayed: int = 0
    failed: int = 0
    left: int = 0

    def add(self, other: Tally) -> None:
        self.moved += other.moved
        self.replayed += other.replayed
        self.failed += other.failed
        self.left += other.left

    def line(self, *, dry_run: bool = False, queues: int = 1) -> str:
        if dry_run:
            return (
                f"would move {self.moved}, would replay {self.replayed}, would fail "
                f"{self.failed}; in the queue{'s' if queues != 1 else ''} {self.left}"
            )
        return (
            f"moved {self.moved}, replayed {self.replayed}, failed {self.failed}, left {self.left}"
        )


@dataclass
class Budget:
    """``--max``: how many messages this run may still take (None: no limit)."""

    remaining: int | None = None

    def allows(self, wanted: int) -> int:
        return wanted if self.remaining is None else min(wanted, self.remaining)

    def spend(self, count: int) -> None:
        if self.remaining is not None:
            self.remaining -= count


@dataclass
class Progress:
    """A plain-text progress bar on ``stream``: redrawn in place on a terminal, a line per
    tenth elsewhere (logs, CI)."""

    label: str
    total: int
    stream: TextIO
    done: int = 0
    _tty: bool = field(init=False)
    _step: int = field(default=-1, init=False)
    _shown: str = field(default="", init=False)

    WIDTH = 30

    def __post_init__(self) -> None:
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._draw()

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self.total = max(self.total, self.done)
        self._draw()

    def advance(self, count: int) -> None:
        self.update(self.done + count)

    def _text(self) -> str:
        filled = self.WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total}"

    def _draw(self) -> None:
        if self._tty:
            self.stream.write(f"\r{self._text()}")
            self.stream.flush()
            return
        step = 10 * self.done // max(self.total, 1)
        if step > self._step:
            self._step = step
            self._write(self._text())

    def _write(self, text: str) -> None:
        self._shown = text
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
            return
        if self._text() != self._shown:  # the last tenth was not drawn, or the total grew
            self._write(self._text())


def _failure_lines(failures: Sequence[tuple[str, str]]) -> list[str]:
    lines = [f"  kept {message_id}: {reason}" for message_id, reason in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failures) - SHOWN_FAILURES} more kept")
    return lines


def run(
    aws: Aws,
    target: Target,
    *,
    dry_run: bool,
    budget: Budget,
    out: TextIO,
    err: TextIO,
) -> Tally:
    sqs = aws.client("sqs")
    print(target.header(), file=out)
    if not target.queue.url:  # not deployed: nothing to read
        return Tally()
    present = _sqs.depth(sqs, target.queue.url)
    if present == 0:
        print(f"{target.queue.label}: empty, nothing to do", file=out)
        return Tally()
    if all(isinstance(route, Refused) for route in target.routes):
        tally = Tally(failed=0 if dry_run else present, left=present)
        print(f"{target.queue.label}: {tally.line(dry_run=dry_run)} (refused)", file=out)
        return tally
    if budget.allows(1) == 0:
        print(f"{target.queue.label}: not started, --max reached; in the queue {present}", file=out)
        return Tally(left=present)
    if dry_run:
        return _dry_run(aws, target, present, budget, out)
    route = target.routes[0]
    if (
        len(target.routes) == 1
        and isinstance(route, QueueRoute)
        and budget.remaining is None
        and not target.queue.fifo
    ):
        moved = _move_task(aws, target, route, present, out, err)
        if moved is not None:
            return moved
    return _drain(aws, target, present, budget, out, err)


def _receive_fresh(
    sqs: Any, target: Target, budget: Budget, seen: dict[str, Message]
) -> list[Message]:
    """The next messages not seen in this run (seen ones that came back, under a short
    visibility timeout, get their new receipt handle)."""
    wanted = budget.allows(10)
    if wanted <= 0:
        return []
    batch = _sqs.receive(sqs, target.queue.url, wanted)
    fresh = []
    for message in batch:
        if message.id in seen:
            seen[message.id].receipt = message.receipt
        else:
            seen[message.id] = message
            fresh.append(message)
    budget.spend(len(fresh))
    return fresh


def _dry_run(aws: Aws, target: Target, present: int, budget: Budget, out: TextIO) -> Tally:
    sqs = aws.client("sqs")
    tally = Tally(left=present)
    seen: dict[str, Message] = {}
    samples: list[str] = []
    failures: list[tuple[str, str]] = []
    try:
        while fresh := _receive_fresh(sqs, target, budget, seen):
            for message in fresh:
                route = target.route_of(message)
                if isinstance(route, str):
                    tally.failed += 1
                    failures.append((message.id, route))
                    continue
                if route.verb() == MOVED:
                    tally.moved += 1
                else:
                    tally.replayed += 1
                if len(samples) < SAMPLE_SIZE:
                    samples.append(f"  e.g. {route.describe(message)}")
    finally:
        _sqs.release(sqs, target.queue.url, list(seen.values()))
    print(f"{target.queue.label} (dry run): {tally.line(dry_run=True)}", file=out)
    for line in samples + _failure_lines(failures):
        print(line, file=out)
    if len(seen) < present and budget.allows(1):
        print(
            f"  {len(seen)} of {present} messages could be peeked"
            + (
                " (a FIFO queue shows the next messages of a group only when the first are gone)"
                if target.queue.fifo
                else ""
            ),
            file=out,
        )
    return tally


def _drain(
    aws: Aws, target: Target, present: int, budget: Budget, out: TextIO, err: TextIO
) -> Tally:
    sqs = aws.client("sqs")
    tally = Tally()
    seen: dict[str, Message] = {}
    kept: list[Message] = []
    failures: list[tuple[str, str]] = []
    progress = Progress(target.queue.label, budget.allows(present), err)
    try:
        while fresh := _receive_fresh(sqs, target, budget, seen):
            routed: dict[int, tuple[Route, list[Message]]] = {}
            for message in fresh:
                route = target.route_of(message)
                if isinstance(route, str):
                    kept.append(message)
                    failures.append((message.id, route))
                else:
                    routed.setdefault(id(route), (route, []))[1].append(message)
            for route, messages in routed.values():
                try:
                    results = route.apply(aws, messages)
                except Exception as error:  # a route's own failure: keep its messages
                    results = [f"{route.kind()} failed: {error_text(error)}"] * len(messages)
                done = [m for m, result in zip(messages, results, strict=True) if result is None]
                undeleted = _sqs.delete(sqs, target.queue.url, done)
                for message, result in zip(messages, results, strict=True):
                    reason = result or undeleted.get(message.id)
                    if reason:
                        kept.append(message)
                        failures.append((message.id, reason))
                    elif route.verb() == MOVED:
                        tally.moved += 1
                    else:
                        tally.replayed += 1
            progress.advance(len(fresh))
    finally:
        progress.close()
        _sqs.release(sqs, target.queue.url, kept)
    tally.failed = len(failures)
    tally.left = _sqs.depth(sqs, target.queue.url)
    print(f"{target.queue.label}: {tally.line()}", file=out)
    for line in _failure_lines(failures):
        print(line, file=out)
    if budget.remaining == 0 and tally.left:
        print(f"  --max reached: {tally.left} left for another run", file=out)
    return tally


def _unsupported(error: Exception) -> str | None:
    """Why StartMessageMoveTask is not available here, if that is what ``error`` says."""
    if isinstance(error, NotImplementedError):
        return "not implemented"
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = str((response.get("Error") or {}).get("Code", ""))
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode", 0))
    if status in (500, 501) or code in UNSUPPORTED_CODES:
        return code or str(status)
    return None


def _move_task(
    aws: Aws, target: Target, route: QueueRoute, present: int, out: TextIO, err: TextIO
) -> Tally | None:
    """Move the messages with an SQS message move task and watch it; None when the service
    has none (the caller then moves them one by one)."""
    sqs = aws.client("sqs")
    request = {"SourceArn": target.queue.arn}
    if route.explicit:
        request["DestinationArn"] = route.sources[0].arn
    try:
        handle = sqs.start_message_move_task(**request)["TaskHandle"]
    except Exception as error:
        reason = _unsupported(error)
        if reason is None:
            tally = Tally(failed=present, left=_sqs.depth(sqs, target.queue.url))
            print(f"{target.queue.label}: {tally.line()}", file=out)
            print(f"  StartMessageMoveTask failed: {error_text(error)}", file=out)
            return tally
        print(
            f"  StartMessageMoveTask not available here ({reason}): receive, send, delete instead",
            file=out,
        )
        return None
    print(f"  StartMessageMoveTask started (task handle {handle})", file=out)
    progress = Progress(target.queue.label, present, err)
    task: dict[str, Any] = {}
    try:
        while True:
            results = sqs.list_message_move_tasks(SourceArn=target.queue.arn, MaxResults=1)
            task = (results.get("Results") or [{}])[0]
            to_move = int(task.get("ApproximateNumberOfMessagesToMove") or present)
            progress.update(int(task.get("ApproximateNumberOfMessagesMoved", 0)), to_move)
            if task.get("Status") in ("COMPLETED", "CANCELLED", "FAILED"):
                break
            time.sleep(MOVE_POLL_SECONDS)
    except KeyboardInterrupt:
        print(
            f"\n  interrupted: the move task goes on (cancel it with aws sqs "
            f"cancel-message-move-task --task-handle {handle})",
            file=out,
        )
        raise
    finally:
        progress.close()
    moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    to_move = int(task.get("ApproximateNumberOfMessagesToMove") or present)
    tally = Tally(moved=moved, left=_sqs.depth(sqs, target.queue.url))
    if task.get("Status") != "COMPLETED":
        tally.failed = max(to_move - moved, 1)
    print(f"{target.queue.label}: {tally.line()}", file=out)
    if task.get("Status") != "COMPLETED":
        print(
            f"  the move task ended {task.get('Status')}: {task.get('FailureReason', '')}",
            file=out,
        )
    return tally
