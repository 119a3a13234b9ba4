"""The local runtime's changes to moto's SQS, in process: the time scale applies to visibility
timeouts, and the cheaper clock and retention check keep SQS's semantics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Message, SQSBackend, sqs_backends

from serverless_patterns.local import moto_patches
from serverless_patterns.local.clock import Clock

PATCHED = {
    Message: ("visible", "delayed", "change_visibility", "delay"),
    SQSBackend: ("is_message_valid_based_on_retention_period",),
}


@pytest.fixture
def sqs() -> Iterator[Any]:
    saved = {
        (owner, name): owner.__dict__[name] for owner, names in PATCHED.items() for name in names
    }
    moto_patches._sqs_time(SimpleNamespace(clock=Clock(60)))  # type: ignore[arg-type]
    try:
        with mock_aws():
            yield boto3.client("sqs", region_name="us-east-1")
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def _queue(sqs: Any, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName="orders", Attributes=attributes)["QueueUrl"])


def _receive(sqs: Any, url: str, **options: Any) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **options)
    return [m["Body"] for m in answer.get("Messages", [])]


def test_a_visibility_timeout_passes_on_the_time_scale(sqs: Any) -> None:
    url = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="order")
    assert _receive(sqs, url, VisibilityTimeout=60) == ["order"]
    assert _receive(sqs, url) == []  # hidden: 60 s of AWS time are 1 s here
    time.sleep(1.2)
    assert _receive(sqs, url) == ["order"]


def test_a_delay_passes_on_the_time_scale(sqs: Any) -> None:
    url = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert _receive(sqs, url) == []
    time.sleep(1.2)
    assert _receive(sqs, url) == ["later"]


@pytest.mark.parametrize(("age", "received"), [(59, ["order"]), (61, [])])
def test_messages_older_than_the_retention_period_are_not_received(
    sqs: Any, age: int, received: list[str]
) -> None:
    url = _queue(sqs, MessageRetentionPeriod="60")
    sqs.send_message(QueueUrl=url, MessageBody="order")
    (queue,) = sqs_backends["123456789012"]["us-east-1"].queues.values()
    (message,) = queue._messages
    message.sent_timestamp -= age * 1000
    assert _receive(sqs, url) == received
