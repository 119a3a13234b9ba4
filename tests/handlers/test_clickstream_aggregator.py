"""Tests for the clickstream aggregator (``lambda_src/clickstream_aggregator/app.py``).

Everything runs in-process against moto: the clicks are put onto a (mocked) Kinesis stream and
read back from it, and the Lambda Kinesis records of the tumbling-window events are built from
what the stream returned. Window aggregates land in a (mocked) DynamoDB table.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE_NAME = "clickstream-aggregates"
STREAM_NAME = "clickstream-aggregator-clicks"
HANDLER_PATH = (
    Path(__file__).resolve().parents[2] / "lambda_src" / "clickstream_aggregator" / "app.py"
)
MODULE_NAME = "clickstream_aggregator_app_under_test"
WINDOW = {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:01:00Z"}
POISON = b"\xff\xfe<not json>"


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' ``Logger.inject_lambda_context`` reads from the context."""

    function_name: str = "clickstream-aggregator"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clickstream-aggregator"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    kinesis: Any
    stream_arn: str
    shard_id: str


def click(page: str, user: str = "u-1", ts: str = "2026-11-27T10:00:05Z") -> bytes:
    return json.dumps({"page": page, "user": user, "ts": ts}).encode()


def to_lambda_kinesis_record(record: dict[str, Any], env: AwsEnv) -> dict[str, Any]:
    """Convert one record from Kinesis ``GetRecords`` into the record shape Lambda delivers."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{env.shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/clickstream-aggregator",
        "awsRegion": REGION,
        "eventSourceARN": env.stream_arn,
    }


def partition_key(data: bytes) -> str:
    """The click's page, as the API sets it (``poison`` for data that is not a usable click)."""
    try:
        page = json.loads(data).get("page")
    except (ValueError, AttributeError):
        return "poison"
    # Kinesis partition keys are 1 to 256 characters.
    return page if isinstance(page, str) and 0 < len(page) <= 256 else "poison"


def kinesis_records(env: AwsEnv, payloads: list[bytes]) -> list[dict[str, Any]]:
    """Put ``payloads`` onto the stream, read them back and convert them to Lambda records."""
    sequence_numbers = []
    for data in payloads:
        put = env.kinesis.put_record(
            StreamName=STREAM_NAME, Data=data, PartitionKey=partition_key(data)
        )
        assert put["ShardId"] == env.shard_id
        sequence_numbers.append(put["SequenceNumber"])
    iterator = env.kinesis.get_shard_iterator(
        StreamName=STREAM_NAME, ShardId=env.shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    # The stream lives for the whole module: earlier tests' records are read back too.
    received: dict[str, dict[str, Any]] = {}
    while True:
        page = env.kinesis.get_records(ShardIterator=iterator)
        received.update({record["SequenceNumber"]: record for record in page["Records"]})
        if not page["Records"]:
            break
        iterator = page["NextShardIterator"]
    return [to_lambda_kinesis_record(received[number], env) for number in sequence_numbers]


def window_event(
    env: AwsEnv,
    records: list[dict[str, Any]],
    state: dict[str, int],
    *,
    final: bool = False,
) -> dict[str, Any]:
    """The event Lambda sends a function whose event source mapping has a tumbling window."""
    return {
        "Records": records,
        "window": dict(WINDOW),
        "state": dict(state),
        "shardId": env.shard_id,
        "eventSourceARN": env.stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def sequence_number(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"])


def stored_items(env: AwsEnv) -> list[dict[str, Any]]:
    return sorted(env.table.scan()["Items"], key=lambda item: item["page"])


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("TABLE_NAME", TABLE_NAME)
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        mp.setenv("POWERTOOLS_SERVICE_NAME", "clickstream-aggregator")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessPatternsTests")
        with mock_aws():
            table = boto3.resource("dynamodb", region_name=REGION).create_table(
                TableName=TABLE_NAME,
                KeySchema=[
                    {"AttributeName": "page", "KeyType": "HASH"},
                    {"AttributeName": "window_start", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "page", "AttributeType": "S"},
                    {"AttributeName": "window_start", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            kinesis = boto3.client("kinesis", region_name=REGION)
            kinesis.create_stream(StreamName=STREAM_NAME, ShardCount=1)
            stream_arn = kinesis.describe_stream_summary(StreamName=STREAM_NAME)[
                "StreamDescriptionSummary"
            ]["StreamARN"]
            (shard,) = kinesis.list_shards(StreamName=STREAM_NAME)["Shards"]

            # Loaded inside mock_aws so the boto3 resource it creates at import time is mocked.
            spec = importlib.util.spec_from_file_location(MODULE_NAME, HANDLER_PATH)
            assert spec is not None
            assert spec.loader is not None
            app = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(app)

            yield AwsEnv(
                app=app,
                table=table,
                kinesis=kinesis,
                stream_arn=stream_arn,
                shard_id=shard["ShardId"],
            )


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty aggregates table for each test."""
    for item in aws.table.scan(ProjectionExpression="page, window_start")["Items"]:
        aws.table.delete_item(Key={"page": item["page"], "window_start": item["window_start"]})
    return aws


def test_view_counts_are_carried_across_invocations_of_the_same_window(env: AwsEnv) -> None:
    first = env.app.handler(
        window_event(
            env,
            kinesis_records(env, [click("/pricing"), click("/docs"), click("/pricing", "u-2")]),
            {},
        ),
        FakeLambdaContext(),
    )
    second = env.app.handler(
        window_event(
            env, kinesis_records(env, [click("/docs", "u-3"), click("/home")]), first["state"]
        ),
        FakeLambdaContext(),
    )

    assert first == {"state": {"/pricing": 2, "/docs": 1}, "batchItemFailures": []}
    assert second == {"state": {"/pricing": 2, "/docs": 2, "/home": 1}, "batchItemFailures": []}


def test_invocation_before_the_end_of_the_window_writes_nothing(env: AwsEnv) -> None:
    records = kinesis_records(env, [click("/pricing"), click("/docs")])

    env.app.handler(window_event(env, records, {"/pricing": 4}), FakeLambdaContext())

    assert stored_items(env) == []


def test_poison_record_fails_only_itself_and_is_not_counted(env: AwsEnv) -> None:
    records = kinesis_records(env, [click("/pricing"), POISON, click("/docs")])

    response = env.app.handler(window_event(env, records, {"/docs": 1}), FakeLambdaContext())

    assert response == {
        "state": {"/docs": 2, "/pricing": 1},
        "batchItemFailures": [{"itemIdentifier": sequence_number(records[1])}],
    }


@pytest.mark.parametrize(
    "data",
    [
        b"<html>not json</html>",
        b'["/pricing"]',
        b'{"user": "u-1", "ts": "2026-11-27T10:00:00Z"}',
        b'{"page": "", "user": "u-1"}',
        b'{"page": 42, "user": "u-1"}',
        b'{"page": null, "user": "u-1"}',
        json.dumps({"page": "/" + "p" * 2048}).encode(),
    ],
    ids=["not-json", "not-an-object", "no-page", "empty-page", "number-page", "null-page", "long"],
)
def test_record_that_is_not_a_click_fails_and_is_not_counted(env: AwsEnv, data: bytes) -> None:
    records = kinesis_records(env, [data, click("/home")])

    response = env.app.handler(window_event(env, records, {}), FakeLambdaContext())

    assert response == {
        "state": {"/home": 1},
        "batchItemFailures": [{"itemIdentifier": sequence_number(records[0])}],
    }


def test_batch_whose_every_record_fails_reports_each_and_keeps_the_state(env: AwsEnv) -> None:
    records = kinesis_records(env, [POISON, b'{"page": ""}'])

    response = env.app.handler(window_event(env, records, {"/pricing": 3}), FakeLambdaContext())

    assert response == {
        "state": {"/pricing": 3},
        "batchItemFailures": [
            {"itemIdentifier": sequence_number(records[0])},
            {"itemIdentifier": sequence_number(records[1])},
        ],
    }


def test_invocation_without_records_returns_the_state_it_was_given(env: AwsEnv) -> None:
    response = env.app.handler(window_event(env, [], {"/pricing": 3}), FakeLambdaContext())

    assert response == {"state": {"/pricing": 3}, "batchItemFailures": []}


def test_final_invocation_writes_one_item_per_page_and_resets_the_state(env: AwsEnv) -> None:
    state = {"/pricing": 2, "/docs": 1}

    response = env.app.handler(window_event(env, [], state, final=True), FakeLambdaContext())

    assert response == {"state": {}, "batchItemFailures": []}
    assert stored_items(env) == [
        {
            "page": "/docs",
            "window_start": "2026-11-27T10:00:00Z",
            "views": Decimal(1),
            "window_end": "2026-11-27T10:01:00Z",
            "shard_id": "shardId-000000000000",
        },
        {
            "page": "/pricing",
            "window_start": "2026-11-27T10:00:00Z",
            "views": Decimal(2),
            "window_end": "2026-11-27T10:01:00Z",
            "shard_id": "shardId-000000000000",
        },
    ]


def test_final_invocation_counts_its_own_records_and_reports_their_failures(
    env: AwsEnv,
) -> None:
    records = kinesis_records(env, [click("/docs"), POISON, click("/blog")])

    response = env.app.handler(
        window_event(env, records, {"/docs": 1}, final=True), FakeLambdaContext()
    )

    assert response == {
        "state": {},
        "batchItemFailures": [{"itemIdentifier": sequence_number(records[1])}],
    }
    assert {item["page"]: item["views"] for item in stored_items(env)} == {
        "/blog": Decimal(1),
        "/docs": Decimal(2),
    }


def test_final_invocation_of_an_empty_window_writes_nothing(env: AwsEnv) -> None:
    response = env.app.handler(window_event(env, [], {}, final=True), FakeLambdaContext())

    assert response == {"state": {}, "batchItemFailures": []}
    assert stored_items(env) == []


def test_retried_final_invocation_rewrites_the_same_items(env: AwsEnv) -> None:
    event = window_event(env, [], {"/pricing": 5}, final=True)

    env.app.handler(event, FakeLambdaContext())
    env.app.handler(event, FakeLambdaContext())

    assert [(item["page"], item["views"]) for item in stored_items(env)] == [
        ("/pricing", Decimal(5))
    ]


def test_window_terminated_early_is_written_and_reset_like_any_final_invocation(
    env: AwsEnv,
) -> None:
    event = {
        **window_event(env, [], {"/pricing": 7}, final=True),
        "isWindowTerminatedEarly": True,
    }

    response = env.app.handler(event, FakeLambdaContext())

    assert response == {"state": {}, "batchItemFailures": []}
    assert [(item["page"], item["views"]) for item in stored_items(env)] == [
        ("/pricing", Decimal(7))
    ]


def test_aggregate_adds_one_view_per_occurrence_of_a_page(aws: AwsEnv) -> None:
    assert aws.app.aggregate({"/a": 2, "/b": 1}, ["/b", "/c", "/b"]) == {"/a": 2, "/b": 3, "/c": 1}


def test_aggregate_does_not_modify_the_state_it_is_given(aws: AwsEnv) -> None:
    state = {"/a": 2}

    aws.app.aggregate(state, ["/a", "/b"])

    assert state == {"/a": 2}


def test_aggregate_of_no_pages_is_an_equal_copy_of_the_state(aws: AwsEnv) -> None:
    state = {"/a": 2}

    result = aws.app.aggregate(state, [])

    assert result == {"/a": 2}
    assert result is not state


def test_aggregate_of_an_empty_state_counts_the_pages(aws: AwsEnv) -> None:
    assert aws.app.aggregate({}, ["/x", "/x"]) == {"/x": 2}
