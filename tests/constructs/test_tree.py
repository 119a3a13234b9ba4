"""Facts of the construct tree kept by the library: the same as jsii's, asked once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import CfnParameter, Duration
from aws_cdk import aws_sqs as sqs

from serverless_patterns import QueueWorker, _tree
from tests.support import user_function


@contextmanager
def _jsii_requests() -> Iterator[Counter[str]]:
    """Requests this process sends to jsii's Node.js process (jsii's private API)."""
    process = pytest.importorskip("jsii._kernel.providers.process")
    counts: Counter[str] = Counter()
    original = process._NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        counts[type(request).__name__] += 1
        return original(self, request, response_type)

    process._NodeProcess.send = send
    try:
        yield counts
    finally:
        process._NodeProcess.send = original


def test_path_and_id_of_a_created_construct_are_jsii_s(stack: cdk.Stack) -> None:
    parent = _tree.created(sqs.Queue(stack, "Parent"), stack, "Parent")
    child = _tree.created(sqs.Queue(parent, "a/b"), parent, "a/b")
    assert _tree.path(child) == child.node.path == "TestStack/Parent/a--b"
    assert _tree.construct_id(child) == child.node.id == "a--b"
    assert _tree.stack(child) is stack


def test_path_of_any_construct_is_asked_once(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Queue")
    assert _tree.path(queue) == "TestStack/Queue"
    with _jsii_requests() as counts:
        assert _tree.path(queue) == "TestStack/Queue"
        assert _tree.stack(queue) is stack
        _tree.stack(queue)
    assert sum(counts.values()) == 1  # Stack.of, once


def test_seconds_of_a_token_duration_is_none(stack: cdk.Stack) -> None:
    amount = CfnParameter(stack, "Seconds", type="Number").value_as_number
    assert _tree.seconds(Duration.seconds(amount)) is None
    assert _tree.seconds(Duration.minutes(amount)) is None
    assert _tree.seconds(Duration.millis(1500)) == 1.5
    assert _tree.whole_seconds(Duration.minutes(2)) == 120


def test_whole_seconds_refuses_a_fraction_as_cdk_does() -> None:
    with pytest.raises(RuntimeError, match="whole number"):
        _tree.whole_seconds(Duration.millis(1500))


def test_token_strings_are_told_apart_without_asking_for_plain_ones(stack: cdk.Stack) -> None:
    with _jsii_requests() as counts:
        assert not _tree.is_unresolved("eu-west-1")
    assert not counts
    assert _tree.is_unresolved(stack.region)
    assert _tree.environment(stack) == _tree.Environment(account=None, region=None)


def test_a_queue_worker_costs_few_round_trips_to_jsii(stack: cdk.Stack) -> None:
    handler = user_function(stack, "Handler")
    with _jsii_requests() as counts:
        QueueWorker(stack, "Worker", handler=handler)
    # Resources, grants and alarms take about 35; every acknowledgement, check and message
    # asked of jsii again would add up quickly.
    assert sum(counts.values()) <= 45, counts
