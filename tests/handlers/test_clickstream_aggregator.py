"""Tests for the clickstream aggregator (``lambda_src/clickstream_aggregator/app.py``).

Everything runs in-process against moto: the clicks are put onto a (mocked) Kinesis stream and
read back from it, and the Lambda Kinesis records of the tumbling-window events are built from
what the stream returned. Window aggregates land in a (mocked) DynamoDB table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from serverless_patterns.testing import events
from tests.handlers.support import (
    LAMBDA_SRC,
    FakeLambdaContext,
    KinesisStream,
    captured_logs,
    click,
    count_metrics_document,
    create_table,
    empty_table,
    fail_page,
    load_handler,
    mocked_aws,
    published,
)

# The function's name, its execution role's name and its Powertools service.
FUNCTION_NAME = "clickstream-aggregator"
TABLE_NAME = "clickstream-aggregates"
STREAM_NAME = "clickstream-aggregator-clicks"
HANDLER_PATH = LAMBDA_SRC / "clickstream_aggregator" / "app.py"
MODULE_NAME = "clickstream_aggregator_app_under_test"
WINDOW = {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:01:00Z"}
POISON = b"\xff\xfe<not json>"
CONTEXT = FakeLambdaContext(FUNCTION_NAME)


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    stream: KinesisStream


def kinesis_records(env: AwsEnv, payloads: list[bytes]) -> list[dict[str, Any]]:
    """Put ``payloads`` onto the stream, read them back and convert them to Lambda records."""
    return env.stream.lambda_records(payloads, role=FUNCTION_NAME)


def window_event(
    env: AwsEnv,
    records: list[dict[str, Any]],
    state: dict[str, int],
    *,
    final: bool = False,
) -> dict[str, Any]:
    """The event Lambda sends a function whose event source mapping has a tumbling window."""
    return events.in_window(
        records,
        WINDOW,
        state=state,
        final=final,
        shard_id=env.stream.shard_id,
        stream_arn=env.stream.arn,
    )


def sequence_number(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"])


def stored_items(env: AwsEnv) -> list[dict[str, Any]]:
    return sorted(env.table.scan()["Items"], key=lambda item: item["page"])


def metrics_document(**values: float) -> dict[str, Any]:
    return count_metrics_document(FUNCTION_NAME, **values)


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws(FUNCTION_NAME, TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "page", "window_start")
        stream = KinesisStream.create(STREAM_NAME)
        # Loaded inside mock_aws so the boto3 resource it creates at import time is mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)
        yield AwsEnv(app=app, table=table, stream=stream)


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty aggregates table for each test."""
    empty_table(aws.table, "page", "window_start")
    return aws


def test_view_counts_are_carried_across_invocations_of_the_same_window(env: AwsEnv) -> None:
    first = env.app.handler(
        window_event(
            env,
            kinesis_records(env, [click("/pricing"), click("/docs"), click("/pricing", "u-2")]),
            {},
        ),
        CONTEXT,
    )
    second = env.app.handler(
        window_event(
            env, kinesis_records(env, [click("/docs", "u-3"), click("/home")]), first["state"]
        ),
        CONTEXT,
    )

    assert first == {"state": {"/pricing": 2, "/docs": 1}, "batchItemFailures": []}
    assert second == {"state": {"/pricing": 2, "/docs": 2, "/home": 1}, "batchItemFailures": []}


def test_invocation_before_the_end_of_the_window_writes_nothing(env: AwsEnv) -> None:
    records = kinesis_records(env, [click("/pricing"), click("/docs")])

    env.app.handler(window_event(env, records, {"/pricing": 4}), CONTEXT)

    assert stored_items(env) == []


def test_poison_record_is_dropped_not_failed_and_the_others_are_counted(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    records = kinesis_records(env, [click("/pricing"), POISON, click("/docs")])
    capsys.readouterr()

    response = env.app.handler(window_event(env, records, {"/docs": 1}), CONTEXT)

    assert response == {"state": {"/docs": 2, "/pricing": 1}, "batchItemFailures": []}
    assert published(capsys) == [metrics_document(MalformedRecords=1, ClicksCounted=2)]


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
def test_record_that_is_not_a_click_is_dropped_and_not_counted(
    env: AwsEnv, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    records = kinesis_records(env, [data, click("/home")])
    capsys.readouterr()

    response = env.app.handler(window_event(env, records, {}), CONTEXT)

    assert response == {"state": {"/home": 1}, "batchItemFailures": []}
    assert published(capsys) == [metrics_document(MalformedRecords=1, ClicksCounted=1)]


def test_batch_whose_every_record_is_malformed_fails_none_and_keeps_the_state(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    records = kinesis_records(env, [POISON, b'{"page": ""}', b'["/pricing"]'])
    capsys.readouterr()

    response = env.app.handler(window_event(env, records, {"/pricing": 3}), CONTEXT)

    assert response == {"state": {"/pricing": 3}, "batchItemFailures": []}
    assert published(capsys) == [metrics_document(MalformedRecords=3, ClicksCounted=0)]
    assert stored_items(env) == []


def test_malformed_records_are_counted_per_invocation(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    first = kinesis_records(env, [POISON, click("/home"), b'{"page": ""}'])
    second = kinesis_records(env, [click("/docs")])
    capsys.readouterr()

    state = env.app.handler(window_event(env, first, {}), CONTEXT)["state"]
    env.app.handler(window_event(env, second, state), CONTEXT)

    assert published(capsys) == [
        metrics_document(MalformedRecords=2, ClicksCounted=1),
        metrics_document(ClicksCounted=1),
    ]


def test_malformed_record_is_logged_once_by_sequence_number_without_its_data(
    env: AwsEnv,
) -> None:
    records = kinesis_records(env, [click("/home"), b'{"page": "", "user": "u-secret-7"}'])

    with captured_logs(FUNCTION_NAME) as logs:
        env.app.handler(window_event(env, records, {}), CONTEXT)

    warnings = [record for record in logs if record.levelno >= logging.WARNING]
    assert [
        (record.getMessage(), record.sequence_number, record.reason)  # type: ignore[attr-defined]
        for record in warnings
    ] == [
        (
            "malformed record dropped",
            sequence_number(records[1]),
            "page must be a non-empty string",
        )
    ]
    logged = " ".join(str(vars(record)) for record in logs)
    assert "u-secret-7" not in logged
    assert records[1]["kinesis"]["data"] not in logged


@pytest.mark.parametrize(
    "error",
    [RuntimeError("table unavailable"), ValueError("not a click error"), ConnectionError()],
    ids=["runtime-error", "value-error", "connection-error"],
)
def test_record_failure_that_is_not_a_malformed_record_is_a_batch_item_failure(
    env: AwsEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    fail_page(monkeypatch, env.app, "/flaky", error)
    records = kinesis_records(env, [click("/pricing"), POISON, click("/flaky"), click("/docs")])
    capsys.readouterr()

    response = env.app.handler(window_event(env, records, {}), CONTEXT)

    assert response == {
        "state": {"/pricing": 1, "/docs": 1},
        "batchItemFailures": [{"itemIdentifier": sequence_number(records[2])}],
    }
    assert published(capsys) == [
        metrics_document(ClicksFailed=1, MalformedRecords=1, ClicksCounted=2)
    ]


def test_invocation_without_records_returns_the_state_it_was_given(env: AwsEnv) -> None:
    response = env.app.handler(window_event(env, [], {"/pricing": 3}), CONTEXT)

    assert response == {"state": {"/pricing": 3}, "batchItemFailures": []}


def test_final_invocation_writes_one_item_per_page_and_resets_the_state(env: AwsEnv) -> None:
    state = {"/pricing": 2, "/docs": 1}

    response = env.app.handler(window_event(env, [], state, final=True), CONTEXT)

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


def test_final_invocation_counts_its_own_records_and_drops_the_malformed_ones(
    env: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    records = kinesis_records(env, [click("/docs"), POISON, click("/blog")])
    capsys.readouterr()

    response = env.app.handler(window_event(env, records, {"/docs": 1}, final=True), CONTEXT)

    assert response == {"state": {}, "batchItemFailures": []}
    assert {item["page"]: item["views"] for item in stored_items(env)} == {
        "/blog": Decimal(1),
        "/docs": Decimal(2),
    }
    assert published(capsys) == [
        metrics_document(MalformedRecords=1, ClicksCounted=2, WindowPagesWritten=2)
    ]


def test_final_invocation_of_an_empty_window_writes_nothing(env: AwsEnv) -> None:
    response = env.app.handler(window_event(env, [], {}, final=True), CONTEXT)

    assert response == {"state": {}, "batchItemFailures": []}
    assert stored_items(env) == []


def test_retried_final_invocation_rewrites_the_same_items(env: AwsEnv) -> None:
    event = window_event(env, [], {"/pricing": 5}, final=True)

    env.app.handler(event, CONTEXT)
    env.app.handler(event, CONTEXT)

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

    response = env.app.handler(event, CONTEXT)

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
