"""Tests for the clickstream archiver (``lambda_src/clickstream_archiver/app.py``).

Everything runs in-process against moto: the clicks are put onto a (mocked) Kinesis stream and
read back from it, the Lambda Kinesis events are built from what the stream returned, and the
archives land in a (mocked) S3 bucket.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "clickstream-archive"
STREAM_NAME = "clickstream-archiver-clicks"
HANDLER_PATH = (
    Path(__file__).resolve().parents[2] / "lambda_src" / "clickstream_archiver" / "app.py"
)
MODULE_NAME = "clickstream_archiver_app_under_test"
POISON = b"\xff\xfe<not json>"


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' ``Logger.inject_lambda_context`` reads from the context."""

    function_name: str = "clickstream-archiver"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clickstream-archiver"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    s3: Any
    kinesis: Any
    stream_arn: str
    shard_id: str


def click(page: str, user: str = "u-1", ts: str = "2026-11-27T10:00:05Z") -> bytes:
    return json.dumps({"page": page, "user": user, "ts": ts}).encode()


def partition_key(data: bytes) -> str:
    """The click's page, as the API sets it (``poison`` for data that is not a usable click)."""
    try:
        page = json.loads(data).get("page")
    except (ValueError, AttributeError):
        return "poison"
    # Kinesis partition keys are 1 to 256 characters.
    return page if isinstance(page, str) and 0 < len(page) <= 256 else "poison"


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
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/clickstream-archiver",
        "awsRegion": REGION,
        "eventSourceARN": env.stream_arn,
    }


def kinesis_event(env: AwsEnv, payloads: list[bytes]) -> tuple[dict[str, Any], list[str]]:
    """Put ``payloads`` onto the stream, read them back and wrap them as a Lambda Kinesis event.

    Returns the event and the sequence numbers in the order of ``payloads``.
    """
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
    records = [to_lambda_kinesis_record(received[number], env) for number in sequence_numbers]
    return {"Records": records}, sequence_numbers


def failed_sequence_numbers(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def archived(env: AwsEnv) -> dict[str, bytes]:
    listed = env.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        item["Key"]: env.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("BUCKET_NAME", BUCKET)
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        mp.setenv("POWERTOOLS_SERVICE_NAME", "clickstream-archiver")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessPatternsTests")
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            kinesis = boto3.client("kinesis", region_name=REGION)
            kinesis.create_stream(StreamName=STREAM_NAME, ShardCount=1)
            stream_arn = kinesis.describe_stream_summary(StreamName=STREAM_NAME)[
                "StreamDescriptionSummary"
            ]["StreamARN"]
            (shard,) = kinesis.list_shards(StreamName=STREAM_NAME)["Shards"]

            # Loaded inside mock_aws so the boto3 client it creates at import time is mocked.
            spec = importlib.util.spec_from_file_location(MODULE_NAME, HANDLER_PATH)
            assert spec is not None
            assert spec.loader is not None
            app = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(app)

            yield AwsEnv(
                app=app, s3=s3, kinesis=kinesis, stream_arn=stream_arn, shard_id=shard["ShardId"]
            )


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty archive bucket for each test."""
    for key in archived(aws):
        aws.s3.delete_object(Bucket=BUCKET, Key=key)
    return aws


def test_good_batch_is_archived_as_exact_json_lines_at_its_exact_key(env: AwsEnv) -> None:
    event, numbers = kinesis_event(
        env,
        [
            click("/pricing", "u-1", "2026-11-27T10:00:00Z"),
            click("/docs", "u-2", "2026-11-27T10:00:01Z"),
            click("/pricing", "u-3", "2026-11-27T10:00:02Z"),
        ],
    )

    response = env.app.handler(event, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert archived(env) == {
        f"clicks/shardId-000000000000/{numbers[0]}-{numbers[2]}.jsonl": (
            b'{"page":"/pricing","user":"u-1","ts":"2026-11-27T10:00:00Z"}\n'
            b'{"page":"/docs","user":"u-2","ts":"2026-11-27T10:00:01Z"}\n'
            b'{"page":"/pricing","user":"u-3","ts":"2026-11-27T10:00:02Z"}\n'
        )
    }


def test_archive_is_stored_as_newline_delimited_json(env: AwsEnv) -> None:
    event, numbers = kinesis_event(env, [click("/home")])

    env.app.handler(event, FakeLambdaContext())

    head = env.s3.head_object(
        Bucket=BUCKET, Key=f"clicks/shardId-000000000000/{numbers[0]}-{numbers[0]}.jsonl"
    )
    assert head["ContentType"] == "application/x-ndjson"


def test_poison_record_is_the_only_failure_and_the_archive_holds_the_others(
    env: AwsEnv,
) -> None:
    event, numbers = kinesis_event(
        env,
        [
            click("/pricing", "u-1", "2026-11-27T10:00:00Z"),
            POISON,
            click("/docs", "u-2", "2026-11-27T10:00:01Z"),
        ],
    )

    response = env.app.handler(event, FakeLambdaContext())

    assert failed_sequence_numbers(response) == [numbers[1]]
    assert archived(env) == {
        f"clicks/shardId-000000000000/{numbers[0]}-{numbers[2]}.jsonl": (
            b'{"page":"/pricing","user":"u-1","ts":"2026-11-27T10:00:00Z"}\n'
            b'{"page":"/docs","user":"u-2","ts":"2026-11-27T10:00:01Z"}\n'
        )
    }


def test_archive_key_spans_the_whole_batch_even_when_its_first_record_failed(
    env: AwsEnv,
) -> None:
    event, numbers = kinesis_event(env, [b'{"user": "u-1"}', click("/blog")])

    response = env.app.handler(event, FakeLambdaContext())

    assert failed_sequence_numbers(response) == [numbers[0]]
    assert list(archived(env)) == [f"clicks/shardId-000000000000/{numbers[0]}-{numbers[1]}.jsonl"]


@pytest.mark.parametrize(
    "data",
    [
        b"<html>not json</html>",
        b'["/pricing"]',
        b'{"user": "u-1", "ts": "2026-11-27T10:00:00Z"}',
        b'{"page": "", "user": "u-1"}',
        b'{"page": 42, "user": "u-1"}',
        json.dumps({"page": "/" + "p" * 2048}).encode(),
    ],
    ids=["not-json", "not-an-object", "no-page", "empty-page", "number-page", "long-page"],
)
def test_record_that_is_not_a_click_fails_and_is_not_archived(env: AwsEnv, data: bytes) -> None:
    event, numbers = kinesis_event(env, [click("/home"), data])

    response = env.app.handler(event, FakeLambdaContext())

    assert failed_sequence_numbers(response) == [numbers[1]]
    assert list(archived(env).values()) == [
        b'{"page":"/home","user":"u-1","ts":"2026-11-27T10:00:05Z"}\n'
    ]


def test_batch_whose_every_record_fails_reports_each_and_writes_nothing(env: AwsEnv) -> None:
    event, numbers = kinesis_event(env, [POISON, b'{"page": ""}'])

    response = env.app.handler(event, FakeLambdaContext())

    assert failed_sequence_numbers(response) == numbers
    assert archived(env) == {}


def test_retried_batch_overwrites_its_own_archive(env: AwsEnv) -> None:
    event, numbers = kinesis_event(env, [click("/pricing"), click("/docs")])

    env.app.handler(event, FakeLambdaContext())
    env.app.handler(event, FakeLambdaContext())

    assert list(archived(env)) == [f"clicks/shardId-000000000000/{numbers[0]}-{numbers[1]}.jsonl"]


def test_archive_key_uses_unknown_when_the_event_names_no_shard(aws: AwsEnv) -> None:
    records = [
        {"eventID": "", "kinesis": {"sequenceNumber": "7"}},
        {"eventID": "", "kinesis": {"sequenceNumber": "9"}},
    ]

    assert aws.app.archive_key({"Records": records}) == "clicks/unknown/7-9.jsonl"
