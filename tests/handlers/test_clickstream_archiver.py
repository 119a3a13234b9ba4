"""Tests for the clickstream archiver (``lambda_src/clickstream_archiver/app.py``).

Everything runs in-process against moto: the clicks are put onto a (mocked) Kinesis stream and
read back from it, the Lambda Kinesis events are built from what the stream returned, and the
archives land in a (mocked) S3 bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    KinesisStream,
    click,
    failed_ids,
    load_handler,
    mocked_aws,
)

# The function's name, its execution role's name and its Powertools service.
FUNCTION_NAME = "clickstream-archiver"
BUCKET = "clickstream-archive"
STREAM_NAME = "clickstream-archiver-clicks"
HANDLER_PATH = LAMBDA_SRC / "clickstream_archiver" / "app.py"
MODULE_NAME = "clickstream_archiver_app_under_test"
POISON = b"\xff\xfe<not json>"
CONTEXT = FakeLambdaContext(FUNCTION_NAME)


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    s3: Any
    stream: KinesisStream


def kinesis_event(env: AwsEnv, payloads: list[bytes]) -> tuple[dict[str, Any], list[str]]:
    """Put ``payloads`` onto the stream, read them back and wrap them as a Lambda Kinesis event.

    Returns the event and the sequence numbers in the order of ``payloads``.
    """
    records = env.stream.lambda_records(payloads, role=FUNCTION_NAME)
    return {"Records": records}, [record["kinesis"]["sequenceNumber"] for record in records]


def archived(env: AwsEnv) -> dict[str, bytes]:
    listed = env.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        item["Key"]: env.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws(FUNCTION_NAME, BUCKET_NAME=BUCKET):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        stream = KinesisStream.create(STREAM_NAME)
        # Loaded inside mock_aws so the boto3 client it creates at import time is mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)
        yield AwsEnv(app=app, s3=s3, stream=stream)


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

    response = env.app.handler(event, CONTEXT)

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

    env.app.handler(event, CONTEXT)

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

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [numbers[1]]
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

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [numbers[0]]
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

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [numbers[1]]
    assert list(archived(env).values()) == [
        b'{"page":"/home","user":"u-1","ts":"2026-11-27T10:00:05Z"}\n'
    ]


def test_batch_whose_every_record_fails_reports_each_and_writes_nothing(env: AwsEnv) -> None:
    event, numbers = kinesis_event(env, [POISON, b'{"page": ""}'])

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == numbers
    assert archived(env) == {}


def test_retried_batch_overwrites_its_own_archive(env: AwsEnv) -> None:
    event, numbers = kinesis_event(env, [click("/pricing"), click("/docs")])

    env.app.handler(event, CONTEXT)
    env.app.handler(event, CONTEXT)

    assert list(archived(env)) == [f"clicks/shardId-000000000000/{numbers[0]}-{numbers[1]}.jsonl"]


def test_archive_key_uses_unknown_when_the_event_names_no_shard(aws: AwsEnv) -> None:
    records = [
        {"eventID": "", "kinesis": {"sequenceNumber": "7"}},
        {"eventID": "", "kinesis": {"sequenceNumber": "9"}},
    ]

    assert aws.app.archive_key({"Records": records}) == "clicks/unknown/7-9.jsonl"
