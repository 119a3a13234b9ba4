"""The kit's events in AWS's shapes, and its check of partial batch responses (the one the
local runtime applies, so a handler test and the emulator agree)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from serverless_patterns.local.runtime import batch_failures
from serverless_patterns.testing import events
from serverless_patterns.testing.events import (
    assert_batch_response,
    batch_response_problems,
    failed_items,
)

FIFO = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"


def test_an_sqs_event_carries_each_body_with_lambdas_record_keys() -> None:
    event = events.sqs_event(["plain", {"order_id": 1}], attributes={"tenant": "t1"})
    first, second = event["Records"]
    assert set(first) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert (first["body"], json.loads(second["body"])) == ("plain", {"order_id": 1})
    assert first["eventSource"] == "aws:sqs"
    assert first["messageAttributes"]["tenant"]["stringValue"] == "t1"
    assert "MessageGroupId" not in first["attributes"]


def test_a_fifo_queue_gives_message_groups_and_ascending_sequence_numbers() -> None:
    records = events.sqs_event(["a", "b"], queue_arn=FIFO, group_id="customer-7")["Records"]
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"customer-7"}
    numbers = [int(r["attributes"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers)
    assert records[0]["awsRegion"] == "eu-west-1"


@pytest.mark.parametrize("builder", [events.sqs_event, events.kinesis_event])
def test_more_records_than_the_batch_size_is_refused(builder: Any) -> None:
    with pytest.raises(ValueError, match="batch size is 2"):
        builder(["a", "b", "c"], batch_size=2)


def test_a_kinesis_event_base64_encodes_data_and_carries_a_tumbling_window() -> None:
    event = events.kinesis_event(
        [{"page": "/"}, b"raw"],
        window=("2026-12-01T10:00:00Z", "2026-12-01T10:01:00Z"),
        state={"views": 3},
        final=True,
    )
    data = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
    assert data == [b'{"page": "/"}', b"raw"]
    assert event["window"] == {"start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:01:00Z"}
    assert (event["state"], event["isFinalInvokeForWindow"]) == ({"views": 3}, True)
    numbers = [int(r["kinesis"]["sequenceNumber"]) for r in event["Records"]]
    assert numbers == sorted(numbers)


def test_sns_s3_eventbridge_and_api_gateway_events_have_their_documented_fields() -> None:
    sns = events.sns_event({"a": 1}, attributes={"kind": "order", "size": 3, "tags": ["x"]})
    attributes = sns["Records"][0]["Sns"]["MessageAttributes"]
    assert attributes == {
        "kind": {"Type": "String", "Value": "order"},
        "size": {"Type": "Number", "Value": "3"},
        "tags": {"Type": "String.Array", "Value": '["x"]'},
    }
    s3 = events.s3_event("uploads", "photos/my cat.png", size=10)
    assert s3["Records"][0]["s3"]["object"]["key"] == "photos/my+cat.png"  # as S3 encodes it
    bus = events.eventbridge_event({"id": 1}, source="shop", detail_type="Order Placed")
    assert (bus["detail-type"], bus["source"], bus["detail"]) == ("Order Placed", "shop", {"id": 1})
    api = events.api_gateway_event(
        "GET", "/items/7", resource="/items/{id}", query=[("q", "1"), ("q", "2")]
    )
    assert api["queryStringParameters"] == {"q": "2"}
    assert api["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert api["requestContext"]["path"] == "/prod/items/7"
    assert events.api_gateway_event("POST", "/f", body=b"\xff\x00")["isBase64Encoded"] is True


EVENT = events.sqs_event(["a", "b"])
FIRST = EVENT["Records"][0]["messageId"]


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        ({"batchItemFailures": [{"itemIdentifier": "nope"}]}, "not in the batch"),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, "empty itemIdentifier"),
        ({"batchItemFailures": [{"itemIdentifer": FIRST}]}, "no 'itemIdentifier'"),
        ({"batchItemFailures": [FIRST]}, "no 'itemIdentifier'"),
        ({"batchItemFailures": {"itemIdentifier": FIRST}}, "not a list"),
        ({"BatchItemFailures": [{"itemIdentifier": FIRST}]}, "complete success"),
        ("failed", "not an object"),
    ],
    ids=["unknown", "empty", "misspelt item key", "bare id", "not a list", "misspelt key", "text"],
)
def test_an_invalid_partial_batch_response_is_explained(response: Any, problem: str) -> None:
    (found,) = batch_response_problems(EVENT, response)
    assert problem in found
    with pytest.raises(AssertionError, match="invalid partial batch response"):
        assert_batch_response(EVENT, response)


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": [{"itemIdentifier": FIRST}]}],
)
def test_a_valid_partial_batch_response_passes(response: Any) -> None:
    assert_batch_response(EVENT, response)


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        ({"batchItemFailures": [{"itemIdentifier": FIRST}]}, [FIRST]),
        ({"batchItemFailures": [{"itemIdentifier": "nope"}]}, None),  # the whole batch fails
        ({"BatchItemFailures": [{"itemIdentifier": FIRST}]}, []),  # taken as complete success
        (None, []),
    ],
)
def test_the_local_runtime_reads_a_response_as_the_kit_does(response: Any, failed: Any) -> None:
    assert failed_items(EVENT, response) == failed
    identifiers = [r["messageId"] for r in EVENT["Records"]]
    assert batch_failures(response, identifiers) == failed
