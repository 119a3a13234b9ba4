"""Tests for the real QueueWorker example handler (``lambda_src/queue_worker_example/app.py``).

Everything runs in-process against moto: the SQS events are built from messages actually sent to
and received from a (mocked) queue, and the priced orders land in a (mocked) DynamoDB table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    captured_logs,
    create_queue,
    create_table,
    empty_table,
    failed_ids,
    load_handler,
    mocked_aws,
    to_lambda_sqs_record,
)

TABLE_NAME = "queue-worker-example-orders"
HANDLER_PATH = LAMBDA_SRC / "queue_worker_example" / "app.py"
MODULE_NAME = "queue_worker_example_app_under_test"
CONTEXT = FakeLambdaContext("queue-worker-example")


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    sqs: Any
    queue_url: str
    queue_arn: str


def sqs_event(env: AwsEnv, bodies: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Send ``bodies`` to the queue, receive them back and wrap them as a Lambda SQS event.

    Returns the event and the message ids in the order of ``bodies``.
    """
    sent_ids = [
        env.sqs.send_message(
            QueueUrl=env.queue_url,
            MessageBody=body,
            MessageAttributes={"source": {"DataType": "String", "StringValue": "tests"}},
        )["MessageId"]
        for body in bodies
    ]
    received: dict[str, dict[str, Any]] = {}
    while len(received) < len(sent_ids):
        messages = env.sqs.receive_message(
            QueueUrl=env.queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        assert messages, "queue ran dry before every sent message was received"
        for message in messages:
            # Lambda's poller deletes what it hands over; do the same so no message from an
            # earlier test can reappear here once its visibility timeout runs out.
            env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if message["MessageId"] in sent_ids:
                received[message["MessageId"]] = message
    assert set(received) == set(sent_ids)
    records = [to_lambda_sqs_record(received[message_id], env.queue_arn) for message_id in sent_ids]
    return {"Records": records}, sent_ids


def stored_items(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["order_id"]: item for item in env.table.scan()["Items"]}


def order(order_id: str, *items: tuple[int, float]) -> str:
    return json.dumps(
        {
            "order_id": order_id,
            "items": [{"quantity": quantity, "unit_price": price} for quantity, price in items],
        }
    )


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws("queue-worker-example", TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "order_id")
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url, queue_arn = create_queue(sqs, "queue-worker-example")
        # Loaded inside mock_aws so the boto3 resource it creates at import time is mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)
        yield AwsEnv(app=app, table=table, sqs=sqs, queue_url=queue_url, queue_arn=queue_arn)


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty orders table for each test."""
    empty_table(aws.table, "order_id")
    return aws


def test_all_good_batch_reports_no_failures_and_stores_every_order(env: AwsEnv) -> None:
    event, ids = sqs_event(
        env,
        [
            order("o-1", (2, 9.99)),
            order("o-2", (1, 5), (3, 0.5)),
            order("o-3", (10, 0.1), (1, 0), (4, 2.25)),
        ],
    )

    response = env.app.handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert stored_items(env) == {
        "o-1": {
            "order_id": "o-1",
            "item_count": Decimal(1),
            "total": Decimal("19.98"),
            "message_id": ids[0],
        },
        "o-2": {
            "order_id": "o-2",
            "item_count": Decimal(2),
            "total": Decimal("6.5"),
            "message_id": ids[1],
        },
        "o-3": {
            "order_id": "o-3",
            "item_count": Decimal(3),
            "total": Decimal("10"),
            "message_id": ids[2],
        },
    }


def test_poison_order_is_the_only_failure_and_the_rest_are_stored(env: AwsEnv) -> None:
    event, ids = sqs_event(
        env,
        [
            order("good-1", (1, 1.5)),
            order("poison", (0, 3.0)),
            order("good-2", (2, 4)),
        ],
    )

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert stored_items(env) == {
        "good-1": {
            "order_id": "good-1",
            "item_count": Decimal(1),
            "total": Decimal("1.5"),
            "message_id": ids[0],
        },
        "good-2": {
            "order_id": "good-2",
            "item_count": Decimal(1),
            "total": Decimal("8"),
            "message_id": ids[2],
        },
    }


def test_malformed_json_body_is_an_item_failure_and_the_others_succeed(env: AwsEnv) -> None:
    event, ids = sqs_event(
        env,
        ['{"order_id": "broken", "items": [', order("ok-1", (3, 1)), order("ok-2", (1, 0.25))],
    )

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [ids[0]]
    assert set(stored_items(env)) == {"ok-1", "ok-2"}
    assert stored_items(env)["ok-1"]["total"] == Decimal("3")
    assert stored_items(env)["ok-2"]["total"] == Decimal("0.25")


def test_non_object_json_body_is_an_item_failure(env: AwsEnv) -> None:
    event, ids = sqs_event(env, [order("fine", (1, 2)), "[1,2]"])

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert set(stored_items(env)) == {"fine"}


def test_price_order_sums_float_prices_exactly_as_decimal(aws: AwsEnv) -> None:
    priced = aws.app.price_order(
        {"order_id": "o-float", "items": [{"quantity": 3, "unit_price": 0.1}]}
    )

    assert priced == {"order_id": "o-float", "item_count": 1, "total": Decimal("0.3")}
    assert str(priced["total"]) == "0.3"


def test_price_order_rejects_a_non_object_as_invalid_order(aws: AwsEnv) -> None:
    with pytest.raises(aws.app.InvalidOrderError, match="order must be a JSON object"):
        aws.app.price_order([1, 2])


def test_batch_where_every_record_fails_reports_each_instead_of_raising(env: AwsEnv) -> None:
    event, ids = sqs_event(env, ["not json", order("bad", (0, 1))])

    response = env.app.handler(event, CONTEXT)

    assert sorted(failed_ids(response)) == sorted(ids)
    assert stored_items(env) == {}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"quantity": True, "unit_price": 1}, "integer quantity in 1..1000000"),
        ({"quantity": 10**40, "unit_price": 1}, "integer quantity in 1..1000000"),
        ({"quantity": 1, "unit_price": False}, "unit_price in 0..1000000000"),
        ({"quantity": 1, "unit_price": float("nan")}, "unit_price in 0..1000000000"),
        ({"quantity": 1, "unit_price": float("inf")}, "unit_price in 0..1000000000"),
        ({"quantity": 1, "unit_price": -1}, "unit_price in 0..1000000000"),
        ({"quantity": 1, "unit_price": "1"}, "unit_price in 0..1000000000"),
    ],
)
def test_price_order_rejects_items_that_only_look_numeric(
    aws: AwsEnv, item: dict[str, Any], message: str
) -> None:
    with pytest.raises(aws.app.InvalidOrderError, match=message):
        aws.app.price_order({"order_id": "o", "items": [item]})


def test_at_debug_level_every_priced_order_is_logged(env: AwsEnv) -> None:
    event, _ids = sqs_event(env, [order("o-d1", (2, 1.25)), "not json", order("o-d2", (1, 3))])
    env.app.logger.setLevel(logging.DEBUG)
    try:
        with captured_logs("queue-worker-example") as records:
            env.app.handler(event, CONTEXT)
    finally:
        env.app.logger.setLevel(logging.INFO)

    assert [
        (record.getMessage(), record.order_id, record.total)  # type: ignore[attr-defined]
        for record in records
        if record.levelno == logging.DEBUG and record.name == "queue-worker-example"
    ] == [("order priced", "o-d1", "2.50"), ("order priced", "o-d2", "3")]


def test_at_info_level_no_per_record_line_is_logged(env: AwsEnv) -> None:
    event, _ids = sqs_event(env, [order("o-i1", (1, 1)), order("o-i2", (1, 2))])

    with captured_logs("queue-worker-example") as records:
        env.app.handler(event, CONTEXT)

    assert [(record.levelname, record.getMessage()) for record in records] == [
        ("INFO", "batch processed")
    ]
