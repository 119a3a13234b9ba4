"""Tests for the clickstream archiver (``lambda_src/clickstream_archiver/app.py``).

Everything runs in-process against moto: the clicks are put onto a (mocked) Kinesis stream and
read back from it, the Lambda Kinesis events are built from what the stream returned, and the
archives land in a (mocked) S3 bucket.
"""

from __future__ import annotations

import json
import logging
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
    captured_logs,
    click,
    count_metrics_document,
    fail_page,
    failed_ids,
    load_handler,
    mocked_aws,
    published,
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


def metrics_document(**values: float) -> dict[str, Any]:
    return count_metrics_document(FUNCTION_NAME, **values)


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


def test_poison_record_is_dropped_not_failed_and_the_archive_holds_the_others(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    event, numbers = kinesis_event(
        env,
        [
            click("/pricing", "u-1", "2026-11-27T10:00:00Z"),
            POISON,
            click("/docs", "u-2", "2026-11-27T10:00:01Z"),
        ],
    )
    capsys.readouterr()

    response = env.app.handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert archived(env) == {
        f"clicks/shardId-000000000000/{numbers[0]}-{numbers[2]}.jsonl": (
            b'{"page":"/pricing","user":"u-1","ts":"2026-11-27T10:00:00Z"}\n'
            b'{"page":"/docs","user":"u-2","ts":"2026-11-27T10:00:01Z"}\n'
        )
    }
    assert published(capsys) == [metrics_document(MalformedRecords=1, ClicksArchived=2)]


def test_archive_key_spans_the_whole_batch_even_when_its_first_record_is_malformed(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    event, numbers = kinesis_event(env, [b'{"user": "u-1"}', click("/blog")])
    capsys.readouterr()

    response = env.app.handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert list(archived(env)) == [f"clicks/shardId-000000000000/{numbers[0]}-{numbers[1]}.jsonl"]
    assert published(capsys) == [metrics_document(MalformedRecords=1, ClicksArchived=1)]


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
def test_record_that_is_not_a_click_is_dropped_and_not_archived(
    env: AwsEnv, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    event, numbers = kinesis_event(env, [click("/home"), data])
    capsys.readouterr()

    response = env.app.handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert archived(env) == {
        f"clicks/shardId-000000000000/{numbers[0]}-{numbers[1]}.jsonl": (
            b'{"page":"/home","user":"u-1","ts":"2026-11-27T10:00:05Z"}\n'
        )
    }
    assert published(capsys) == [metrics_document(MalformedRecords=1, ClicksArchived=1)]


def test_batch_whose_every_record_is_malformed_fails_none_and_writes_nothing(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    event, _numbers = kinesis_event(env, [POISON, b'{"page": ""}', b'["/pricing"]'])
    capsys.readouterr()

    response = env.app.handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert archived(env) == {}
    assert published(capsys) == [metrics_document(MalformedRecords=3)]


def test_malformed_records_are_counted_per_invocation(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _numbers = kinesis_event(env, [POISON, click("/home"), b'{"page": ""}'])
    second, _numbers = kinesis_event(env, [click("/docs")])
    capsys.readouterr()

    env.app.handler(first, CONTEXT)
    env.app.handler(second, CONTEXT)

    assert published(capsys) == [
        metrics_document(MalformedRecords=2, ClicksArchived=1),
        metrics_document(ClicksArchived=1),
    ]


def test_malformed_record_is_logged_once_by_sequence_number_without_its_data(
    env: AwsEnv,
) -> None:
    event, numbers = kinesis_event(env, [click("/home"), b'{"page": "", "user": "u-secret-7"}'])

    with captured_logs(FUNCTION_NAME) as logs:
        env.app.handler(event, CONTEXT)

    warnings = [record for record in logs if record.levelno >= logging.WARNING]
    assert [
        (record.getMessage(), record.sequence_number, record.reason)  # type: ignore[attr-defined]
        for record in warnings
    ] == [("malformed record dropped", numbers[1], "page must be a non-empty string")]
    logged = " ".join(str(vars(record)) for record in logs)
    assert "u-secret-7" not in logged
    assert event["Records"][1]["kinesis"]["data"] not in logged


@pytest.mark.parametrize(
    "error",
    [RuntimeError("bucket unavailable"), ValueError("not a click error"), ConnectionError()],
    ids=["runtime-error", "value-error", "connection-error"],
)
def test_record_failure_that_is_not_a_malformed_record_is_a_batch_item_failure(
    env: AwsEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    fail_page(monkeypatch, env.app, "/flaky", error)
    event, numbers = kinesis_event(
        env,
        [
            click("/pricing", "u-1", "2026-11-27T10:00:00Z"),
            POISON,
            click("/flaky", "u-2", "2026-11-27T10:00:01Z"),
            click("/docs", "u-3", "2026-11-27T10:00:02Z"),
        ],
    )
    capsys.readouterr()

    response = env.app.handler(event, CONTEXT)

    assert failed_ids(response) == [numbers[2]]
    assert archived(env) == {
        f"clicks/shardId-000000000000/{numbers[0]}-{numbers[3]}.jsonl": (
            b'{"page":"/pricing","user":"u-1","ts":"2026-11-27T10:00:00Z"}\n'
            b'{"page":"/docs","user":"u-3","ts":"2026-11-27T10:00:02Z"}\n'
        )
    }
    assert published(capsys) == [
        metrics_document(ClicksFailed=1, MalformedRecords=1, ClicksArchived=2)
    ]


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
