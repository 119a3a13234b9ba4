"""Tests for the pipeline stage helper (``serverless_patterns/stage.py``).

A stage function is turned into a handler with :func:`pipeline_stage` and run in-process. The
state machine tests call it with task events; the queue tests run against moto: their SQS
events are built from messages actually sent to and received from a (mocked) stage queue, and
what the stage sends on is read back from the (mocked) next, rejected and topic queues.

``serverless_patterns.stage`` caches its boto3 clients per process; every moto context here
clears that cache on entry and exit so no client of another mock is ever reused.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from serverless_patterns import stage
from serverless_patterns.stage import Filtered, pipeline_stage
from tests.handlers.support import (
    ACCOUNT,
    NAMESPACE,
    REGION,
    FakeLambdaContext,
    captured_logs,
    create_queue,
    create_service_logger,
    drain,
    emf_documents,
    failed_ids,
    mocked_aws,
    set_handler_env,
    to_lambda_sqs_record,
)

SERVICE = "pipeline-stage-helper-test"
STAGE = "screen"
CONTEXT = cast(LambdaContext, FakeLambdaContext("pipeline-stage-screen"))
MISSING_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/no-such-queue"
MISSING_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"
MAX_BATCH_BYTES = 256 * 1024


# --- stage functions -------------------------------------------------------------------------


def screen(order: dict[str, Any]) -> Any:
    """Fail poison orders, filter orders above 100, mark the others screened."""
    if order.get("poison"):
        raise ValueError(f"poison order {order['id']}")
    if order["total"] > 100:
        return Filtered("total above 100")
    return {**order, "screened": True}


def sized(item: dict[str, Any]) -> str:
    """A JSON string result whose compact JSON is ``item["bytes"]`` bytes long."""
    return "x" * (int(item["bytes"]) - 2)


def order(order_id: str, total: float, **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "total": total, **extra}


def task(item: Any, stage_name: str = STAGE) -> dict[str, Any]:
    """A state machine task event of FilterPipeline."""
    return {"pipelineStage": stage_name, "item": item}


def counts_document(
    stage_name: str, passed: int, filtered: int, failed: int, *, service: str = SERVICE
) -> dict[str, Any]:
    """The EMF document of one invocation."""
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["stage", "service"]],
                    "Metrics": [
                        {"Name": "ItemsPassed", "Unit": "Count"},
                        {"Name": "ItemsFiltered", "Unit": "Count"},
                        {"Name": "ItemsFailed", "Unit": "Count"},
                    ],
                }
            ]
        },
        "stage": stage_name,
        "service": service,
        "ItemsPassed": [float(passed)],
        "ItemsFiltered": [float(filtered)],
        "ItemsFailed": [float(failed)],
    }


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def service_logger() -> Logger:
    """The service's Powertools logger, created before any ``capsys`` capture."""
    return create_service_logger(SERVICE)


@pytest.fixture(autouse=True)
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler environment, without any of the queue connector's variables."""
    set_handler_env(monkeypatch, SERVICE)
    for name in (stage.STAGE_ENV, stage.NEXT_ENV, stage.REJECTED_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """The records the service's logger emits during the test."""
    with captured_logs(SERVICE) as records:
        yield records


@dataclass(frozen=True)
class Queues:
    """The (mocked) queues of one QUEUES stage: its own, the next one and the rejected one."""

    sqs: Any
    source_url: str
    source_arn: str
    next_url: str
    rejected_url: str

    def event(self, bodies: list[str]) -> tuple[dict[str, Any], list[str]]:
        """Send ``bodies`` to the stage's queue, receive them back and wrap them as a Lambda
        SQS event; return it and the message ids, both in the order of ``bodies``."""
        ids = [
            self.sqs.send_message(QueueUrl=self.source_url, MessageBody=body)["MessageId"]
            for body in bodies
        ]
        received = {message["MessageId"]: message for message in drain(self.sqs, self.source_url)}
        assert set(received) == set(ids)
        records = [
            to_lambda_sqs_record(received[message_id], self.source_arn) for message_id in ids
        ]
        return {"Records": records}, ids

    def items_event(self, items: list[Any]) -> tuple[dict[str, Any], list[str]]:
        """:meth:`event` of the items as JSON."""
        return self.event([json.dumps(item) for item in items])

    def bodies(self, queue_url: str) -> list[str]:
        """Every body the queue holds (received and deleted), sorted."""
        return sorted(message["Body"] for message in drain(self.sqs, queue_url))

    def items(self, queue_url: str) -> list[Any]:
        """Every body the queue holds as JSON, sorted by their compact JSON."""
        return [json.loads(body) for body in self.bodies(queue_url)]


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    """moto's mocks with the stage's queues, and the connector's variables pointing at them."""
    with mocked_aws(SERVICE):
        stage._client.cache_clear()
        try:
            sqs = boto3.client("sqs", region_name=REGION)
            source_url, source_arn = create_queue(sqs, "stage-screen")
            next_url, _ = create_queue(sqs, "stage-next")
            rejected_url, _ = create_queue(sqs, "stage-rejected")
            monkeypatch.setenv(stage.STAGE_ENV, STAGE)
            monkeypatch.setenv(stage.NEXT_ENV, next_url)
            monkeypatch.setenv(stage.REJECTED_ENV, rejected_url)
            yield Queues(sqs, source_url, source_arn, next_url, rejected_url)
        finally:
            stage._client.cache_clear()


def topic_with_raw_queue(sqs: Any) -> tuple[str, str]:
    """An SNS topic with a queue subscribed to it (raw delivery); return their ARN and URL."""
    sns = boto3.client("sns", region_name=REGION)
    topic_arn: str = sns.create_topic(Name="stage-output")["TopicArn"]
    queue_url, queue_arn = create_queue(sqs, "stage-output-subscriber")
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return topic_arn, queue_url


def spy_batches(monkeypatch: pytest.MonkeyPatch, service: str) -> list[list[str]]:
    """Record the bodies of every batch the stage's (cached) ``service`` client sends."""
    client = stage._client(service)
    method = "publish_batch" if service == "sns" else "send_message_batch"
    real = getattr(client, method)
    calls: list[list[str]] = []

    def spy(**arguments: Any) -> Any:
        if service == "sns":
            calls.append([entry["Message"] for entry in arguments["PublishBatchRequestEntries"]])
        else:
            calls.append([entry["MessageBody"] for entry in arguments["Entries"]])
        return real(**arguments)

    monkeypatch.setattr(client, method, spy)
    return calls


def recording(function: Callable[[Any], Any]) -> tuple[Callable[[Any], Any], list[Any]]:
    """``function`` and the list of the items it is called with."""
    seen: list[Any] = []

    def record(item: Any) -> Any:
        seen.append(item)
        return function(item)

    return record, seen


# --- state machine connector -----------------------------------------------------------------


def test_state_machine_task_returns_passed_envelope_with_the_result() -> None:
    handler = pipeline_stage(screen)

    response = handler(task(order("o-1", 42.5)), CONTEXT)

    assert response == {
        "outcome": "passed",
        "item": {"id": "o-1", "total": 42.5, "screened": True},
    }


def test_state_machine_task_filtered_envelope_keeps_the_input_item_and_the_reason() -> None:
    def enrich_then_filter(item: dict[str, Any]) -> Filtered:
        item = {**item, "enriched": True}
        return Filtered(f"order {item['id']} is on hold")

    handler = pipeline_stage(enrich_then_filter)

    response = handler(task({"id": "o-2", "total": 7}), CONTEXT)

    assert response == {
        "outcome": "filtered",
        "reason": "order o-2 is on hold",
        "item": {"id": "o-2", "total": 7},
    }


def test_state_machine_task_filtered_envelope_has_the_item_as_received_if_mutated() -> None:
    def strip_then_filter(item: dict[str, Any]) -> Filtered:
        item.pop("payload")
        item["total"] = 0
        return Filtered("payload stripped")

    handler = pipeline_stage(strip_then_filter)

    response = handler(task({"id": "o-2", "total": 7, "payload": [1, 2]}), CONTEXT)

    assert response == {
        "outcome": "filtered",
        "reason": "payload stripped",
        "item": {"id": "o-2", "total": 7, "payload": [1, 2]},
    }


def test_state_machine_task_passes_any_json_item_to_the_function() -> None:
    function, seen = recording(lambda item: item)
    handler = pipeline_stage(function)

    responses = [handler(task(item), CONTEXT) for item in ([1, "two"], "three", 4, False)]

    assert seen == [[1, "two"], "three", 4, False]
    assert responses == [
        {"outcome": "passed", "item": [1, "two"]},
        {"outcome": "passed", "item": "three"},
        {"outcome": "passed", "item": 4},
        {"outcome": "passed", "item": False},
    ]


def test_state_machine_task_exception_propagates_as_the_task_error() -> None:
    handler = pipeline_stage(screen)

    with pytest.raises(ValueError, match=r"^poison order o-3$"):
        handler(task(order("o-3", 1, poison=True)), CONTEXT)


def test_state_machine_task_decimal_results_become_json_numbers() -> None:
    def from_dynamodb(item: Any) -> dict[str, Any]:
        return {"count": Decimal("3"), "price": Decimal("2.5"), "nested": [Decimal("-0.125")]}

    handler = pipeline_stage(from_dynamodb)

    response = handler(task({}), CONTEXT)

    assert response == {"outcome": "passed", "item": {"count": 3, "price": 2.5, "nested": [-0.125]}}
    assert type(response["item"]["count"]) is int
    assert type(response["item"]["price"]) is float


def test_state_machine_task_result_is_a_json_copy_not_the_returned_object() -> None:
    returned = {"tags": ("a", "b")}
    handler = pipeline_stage(lambda item: returned)

    response = handler(task({}), CONTEXT)

    assert response == {"outcome": "passed", "item": {"tags": ["a", "b"]}}
    assert response["item"] is not returned


def test_state_machine_task_non_json_result_raises_type_error_naming_the_type() -> None:
    handler = pipeline_stage(lambda item: {"at": datetime.date(2026, 11, 27)})

    with pytest.raises(TypeError, match=r"^date is not JSON serializable$"):
        handler(task({}), CONTEXT)


def test_state_machine_task_nan_result_is_an_error() -> None:
    handler = pipeline_stage(lambda item: {"score": float("nan")})

    with pytest.raises(ValueError, match="not JSON compliant"):
        handler(task({}), CONTEXT)


def test_state_machine_task_needs_none_of_the_queue_variables() -> None:
    handler = pipeline_stage(screen)

    response = handler(task(order("o-4", 1)), CONTEXT)

    assert response["outcome"] == "passed"


@pytest.mark.parametrize(
    ("item", "counts"),
    [
        (order("o-5", 10), (1, 0, 0)),
        (order("o-6", 1000), (0, 1, 0)),
        (order("o-7", 10, poison=True), (0, 0, 1)),
    ],
    ids=["passed", "filtered", "failed"],
)
def test_state_machine_task_metrics_count_the_outcome_by_the_event_stage(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    item: dict[str, Any],
    counts: tuple[int, int, int],
) -> None:
    # The queue connector's variable must not win over the event's stage name.
    monkeypatch.setenv(stage.STAGE_ENV, "not-this-one")
    handler = pipeline_stage(screen)
    capsys.readouterr()

    failure = pytest.raises(ValueError, match=r"^poison order o-7$")
    with failure if counts[2] else contextlib.nullcontext():
        handler(task(item, "dedupe-orders"), CONTEXT)

    assert emf_documents(capsys.readouterr().out) == [counts_document("dedupe-orders", *counts)]


@pytest.fixture
def named_service_logger(monkeypatch: pytest.MonkeyPatch) -> Logger:
    """No service or namespace variable, and the logger of the function's name created early."""
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    return create_service_logger("screen")


@pytest.mark.usefixtures("named_service_logger")
def test_service_and_namespace_default_to_the_function_name_and_serverless_patterns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = pipeline_stage(screen)
    capsys.readouterr()

    handler(task(order("o-8", 1)), CONTEXT)

    expected = counts_document(STAGE, 1, 0, 0, service="screen")
    expected["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "ServerlessPatterns"
    assert emf_documents(capsys.readouterr().out) == [expected]


def test_handler_keeps_the_function_and_its_docstring() -> None:
    handler = pipeline_stage(screen)

    assert handler.stage_function is screen  # type: ignore[attr-defined]
    assert handler.__doc__ == screen.__doc__


def test_state_machine_task_logs_one_line_with_the_counts(
    log_records: list[logging.LogRecord],
) -> None:
    handler = pipeline_stage(screen)

    handler(task(order("o-9", 1000)), CONTEXT)

    (line,) = [record for record in log_records if record.levelno >= logging.INFO]
    assert line.getMessage() == "stage ran"
    assert (line.stage, line.passed, line.filtered, line.failed) == (  # type: ignore[attr-defined]
        STAGE,
        0,
        1,
        0,
    )


# --- queue connector: where the items go -----------------------------------------------------


def test_queue_results_are_sent_to_the_next_queue(queues: Queues) -> None:
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 10), order("o-2", 20.5)])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.bodies(queues.next_url) == [
        '{"id":"o-1","total":10,"screened":true}',
        '{"id":"o-2","total":20.5,"screened":true}',
    ]
    assert queues.bodies(queues.rejected_url) == []


def test_queue_results_with_decimals_are_sent_as_compact_json_numbers(queues: Queues) -> None:
    handler = pipeline_stage(lambda item: {"n": Decimal("4"), "price": Decimal("0.5")})
    event, _ids = queues.items_event([{"id": "d-1"}])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.bodies(queues.next_url) == ['{"n":4,"price":0.5}']


def test_queue_results_are_published_to_the_topic_of_an_arn(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic_arn, subscriber_url = topic_with_raw_queue(queues.sqs)
    monkeypatch.setenv(stage.NEXT_ENV, topic_arn)
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 10), order("o-2", 20)])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.bodies(subscriber_url) == [
        '{"id":"o-1","total":10,"screened":true}',
        '{"id":"o-2","total":20,"screened":true}',
    ]
    assert queues.bodies(queues.next_url) == []


def test_queue_empty_next_is_a_sink_that_sends_nothing_and_counts_passed(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(stage.NEXT_ENV, "")
    sqs_calls = spy_batches(monkeypatch, "sqs")
    sns_calls = spy_batches(monkeypatch, "sns")
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 10), order("o-2", 20)])
    capsys.readouterr()

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert (sqs_calls, sns_calls) == ([], [])
    assert queues.bodies(queues.next_url) == []
    assert emf_documents(capsys.readouterr().out) == [counts_document(STAGE, 2, 0, 0)]


def test_queue_filtered_items_reach_the_rejected_queue_with_stage_reason_and_item(
    queues: Queues,
) -> None:
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("big", 500, lines=[1, 2]), order("small", 5)])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.items(queues.rejected_url) == [
        {"stage": STAGE, "reason": "total above 100", "item": order("big", 500, lines=[1, 2])}
    ]
    assert queues.items(queues.next_url) == [{"id": "small", "total": 5, "screened": True}]


def test_queue_filtered_item_is_logged_at_debug_level_only(
    queues: Queues, service_logger: Logger, log_records: list[logging.LogRecord]
) -> None:
    handler = pipeline_stage(screen)
    event, ids = queues.items_event([order("big", 500), order("small", 5)])

    handler(event, CONTEXT)
    service_logger.setLevel(logging.DEBUG)
    try:
        handler(event, CONTEXT)
    finally:
        service_logger.setLevel(logging.INFO)

    assert [
        (record.getMessage(), record.message_id, record.reason)  # type: ignore[attr-defined]
        for record in log_records
        if record.levelno == logging.DEBUG and record.getMessage() == "item filtered"
    ] == [("item filtered", ids[0], "total above 100")]


def test_queue_rejected_message_has_the_item_as_received_if_mutated(
    queues: Queues,
) -> None:
    def strip_then_filter(item: dict[str, Any]) -> Filtered:
        item.pop("payload")
        return Filtered("payload stripped")

    handler = pipeline_stage(strip_then_filter)
    event, _ids = queues.items_event([{"id": "o-1", "payload": {"a": 1}}])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.items(queues.rejected_url) == [
        {"stage": STAGE, "reason": "payload stripped", "item": {"id": "o-1", "payload": {"a": 1}}}
    ]


def test_queue_filtered_item_goes_to_rejected_even_when_next_is_a_sink(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stage.NEXT_ENV, "")
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("big", 500)])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert queues.items(queues.rejected_url) == [
        {"stage": STAGE, "reason": "total above 100", "item": order("big", 500)}
    ]


def test_queue_passes_any_json_body_to_the_function(queues: Queues) -> None:
    function, seen = recording(lambda item: item)
    handler = pipeline_stage(function)
    event, _ids = queues.event(['"text"', "12", "[1, 2]", "false"])

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert seen == ["text", 12, [1, 2], False]
    assert queues.bodies(queues.next_url) == ['"text"', "12", "[1,2]", "false"]


# --- queue connector: failures ---------------------------------------------------------------


def test_queue_body_that_is_not_json_is_the_only_batch_item_failure(queues: Queues) -> None:
    handler = pipeline_stage(screen)
    event, ids = queues.event(
        [json.dumps(order("o-1", 1)), '{"id": "broken", "total": ', json.dumps(order("o-2", 2))]
    )

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert [item["id"] for item in queues.items(queues.next_url)] == ["o-1", "o-2"]


def test_queue_raising_function_is_the_only_batch_item_failure(queues: Queues) -> None:
    handler = pipeline_stage(screen)
    event, ids = queues.items_event(
        [order("o-1", 1), order("o-2", 2, poison=True), order("o-3", 300)]
    )

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert [item["id"] for item in queues.items(queues.next_url)] == ["o-1"]
    assert [body["item"]["id"] for body in queues.items(queues.rejected_url)] == ["o-3"]


def test_queue_result_that_is_not_json_serializable_is_a_batch_item_failure(
    queues: Queues,
) -> None:
    def stamp(item: dict[str, Any]) -> Any:
        return {**item, "at": datetime.date(2026, 11, 27)} if item["id"] == "bad" else item

    handler = pipeline_stage(stamp)
    event, ids = queues.items_event([{"id": "ok"}, {"id": "bad"}])

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert queues.items(queues.next_url) == [{"id": "ok"}]


def test_queue_batch_where_every_record_fails_reports_each_instead_of_raising(
    queues: Queues,
) -> None:
    handler = pipeline_stage(screen)
    event, ids = queues.event(["not json", json.dumps(order("p", 1, poison=True))])

    response = handler(event, CONTEXT)

    assert failed_ids(response) == ids
    assert queues.bodies(queues.next_url) == []


def test_queue_send_to_a_missing_queue_fails_exactly_the_records_sent_there(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stage.NEXT_ENV, MISSING_QUEUE_URL)
    handler = pipeline_stage(screen)
    event, ids = queues.items_event([order("o-1", 1), order("big", 500), order("o-2", 2)])

    response = handler(event, CONTEXT)

    assert sorted(failed_ids(response)) == sorted([ids[0], ids[2]])
    assert [body["item"]["id"] for body in queues.items(queues.rejected_url)] == ["big"]


def test_queue_send_to_a_missing_rejected_queue_fails_only_the_filtered_records(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stage.REJECTED_ENV, MISSING_QUEUE_URL)
    handler = pipeline_stage(screen)
    event, ids = queues.items_event([order("o-1", 1), order("big", 500)])

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert [item["id"] for item in queues.items(queues.next_url)] == ["o-1"]


def test_queue_publish_to_a_missing_topic_fails_the_records_published_there(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stage.NEXT_ENV, MISSING_TOPIC_ARN)
    handler = pipeline_stage(screen)
    event, ids = queues.items_event([order("o-1", 1), order("o-2", 2)])

    response = handler(event, CONTEXT)

    assert sorted(failed_ids(response)) == sorted(ids)


def test_queue_entry_the_queue_did_not_accept_fails_only_its_record(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, log_records: list[logging.LogRecord]
) -> None:
    client = stage._client("sqs")
    real = client.send_message_batch

    def send_refusing_o2(**arguments: Any) -> Any:
        entries = arguments["Entries"]
        refused = [e for e in entries if json.loads(e["MessageBody"])["id"] == "o-2"]
        accepted = [e for e in entries if e not in refused]
        response = real(QueueUrl=arguments["QueueUrl"], Entries=accepted)
        response.setdefault("Failed", []).extend(
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in refused
        )
        return response

    monkeypatch.setattr(client, "send_message_batch", send_refusing_o2)
    handler = pipeline_stage(screen)
    event, ids = queues.items_event([order("o-1", 1), order("o-2", 2), order("o-3", 3)])

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert [item["id"] for item in queues.items(queues.next_url)] == ["o-1", "o-3"]
    (refusal,) = [record for record in log_records if record.getMessage() == "message not accepted"]
    assert refusal.levelname == "ERROR"
    assert (refusal.message_id, refusal.code) == (ids[1], "InternalError")  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("variable", [stage.STAGE_ENV, stage.REJECTED_ENV])
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_queue_batch_without_stage_or_rejected_variable_raises_runtime_error(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    function, seen = recording(screen)
    handler = pipeline_stage(function)
    event, _ids = queues.items_event([order("o-1", 1)])

    with pytest.raises(RuntimeError, match="PIPELINE_STAGE and PIPELINE_REJECTED must be set"):
        handler(event, CONTEXT)

    assert seen == []
    assert queues.bodies(queues.next_url) == []


# --- queue connector: batching ---------------------------------------------------------------


def test_queue_more_than_ten_results_are_sent_in_batches_of_ten(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_batches(monkeypatch, "sqs")
    handler = pipeline_stage(screen)
    items = [order(f"o-{index:02d}", index) for index in range(23)]
    event, _ids = queues.items_event(items)

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert [len(call) for call in calls] == [10, 10, 3]
    assert [item["id"] for item in queues.items(queues.next_url)] == [item["id"] for item in items]


def test_queue_more_than_ten_results_are_published_in_batches_of_ten(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic_arn, subscriber_url = topic_with_raw_queue(queues.sqs)
    monkeypatch.setenv(stage.NEXT_ENV, topic_arn)
    calls = spy_batches(monkeypatch, "sns")
    handler = pipeline_stage(screen)
    items = [order(f"o-{index:02d}", index) for index in range(12)]
    event, _ids = queues.items_event(items)

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert [len(call) for call in calls] == [10, 2]
    assert [item["id"] for item in queues.items(subscriber_url)] == [item["id"] for item in items]


def test_queue_results_and_rejections_are_batched_per_destination(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_batches(monkeypatch, "sqs")
    handler = pipeline_stage(screen)
    # Interleaved: 6 pass, 6 are filtered.
    items = [order(f"o-{index:02d}", 10 if index % 2 else 1000) for index in range(12)]
    event, _ids = queues.items_event(items)

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert sorted(len(call) for call in calls) == [6, 6]
    assert len(queues.items(queues.next_url)) == 6
    assert len(queues.items(queues.rejected_url)) == 6


@pytest.mark.parametrize(
    ("result_bytes", "batch_sizes"),
    [
        (MAX_BATCH_BYTES // 2, [2, 2, 1]),  # two fill a request exactly
        (MAX_BATCH_BYTES // 2 + 1, [1, 1, 1, 1, 1]),
        (100 * 1024, [2, 2, 1]),
    ],
    ids=["half", "over-half", "100KiB"],
)
def test_queue_results_larger_than_256_kib_together_are_sent_in_several_batches(
    queues: Queues,
    monkeypatch: pytest.MonkeyPatch,
    result_bytes: int,
    batch_sizes: list[int],
) -> None:
    calls = spy_batches(monkeypatch, "sqs")
    handler = pipeline_stage(sized)
    event, _ids = queues.items_event([{"bytes": result_bytes}] * 5)

    response = handler(event, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert [len(call) for call in calls] == batch_sizes
    assert all(sum(len(body.encode()) for body in call) <= MAX_BATCH_BYTES for call in calls)
    assert [len(body) for body in queues.bodies(queues.next_url)] == [result_bytes] * 5


# --- queue connector: metrics and logs -------------------------------------------------------


def test_queue_metrics_are_published_once_per_batch_with_its_counts(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = pipeline_stage(screen)
    first, _ids = queues.event(
        [
            json.dumps(order("o-1", 1)),
            json.dumps(order("o-2", 2)),
            json.dumps(order("big", 500)),
            "not json",
            json.dumps(order("p", 1, poison=True)),
        ]
    )
    second, _ids = queues.items_event([order("big-1", 200), order("big-2", 300)])
    capsys.readouterr()

    handler(first, CONTEXT)
    handler(second, CONTEXT)

    assert emf_documents(capsys.readouterr().out) == [
        counts_document(STAGE, 2, 1, 2),
        counts_document(STAGE, 0, 2, 0),
    ]


def test_queue_metrics_count_records_whose_send_failed_as_failed(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(stage.REJECTED_ENV, MISSING_QUEUE_URL)
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 1), order("big", 500), order("big-2", 600)])
    capsys.readouterr()

    handler(event, CONTEXT)

    assert emf_documents(capsys.readouterr().out) == [counts_document(STAGE, 1, 0, 2)]


def test_queue_metrics_use_the_stage_variable_as_dimension(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(stage.STAGE_ENV, "enrich-orders")
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 1)])
    capsys.readouterr()

    handler(event, CONTEXT)

    assert emf_documents(capsys.readouterr().out) == [counts_document("enrich-orders", 1, 0, 0)]


def test_queue_batch_logs_one_line_with_the_counts(
    queues: Queues, log_records: list[logging.LogRecord]
) -> None:
    handler = pipeline_stage(screen)
    event, _ids = queues.items_event([order("o-1", 1), order("big", 500), order("o-2", 2)])

    handler(event, CONTEXT)

    (line,) = [record for record in log_records if record.levelno >= logging.INFO]
    assert line.getMessage() == "stage ran"
    assert (line.stage, line.passed, line.filtered, line.failed) == (  # type: ignore[attr-defined]
        STAGE,
        2,
        1,
        0,
    )


# --- events and Filtered ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"item": {"id": "o-1"}},
        {"Records": []},
        {"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}, {"eventSource": "aws:sns"}]},
        {"Records": "not a list"},
    ],
    ids=["empty", "item-without-stage", "no-records", "kinesis", "mixed-records", "bad-records"],
)
def test_event_of_neither_shape_raises_value_error(queues: Queues, event: dict[str, Any]) -> None:
    function, seen = recording(screen)
    handler = pipeline_stage(function)

    with pytest.raises(ValueError, match="not a FilterPipeline stage event"):
        handler(event, CONTEXT)

    assert seen == []


@pytest.mark.parametrize("reason", ["", "   ", None, 7], ids=["empty", "blank", "none", "int"])
def test_filtered_without_a_non_empty_reason_raises_value_error(reason: Any) -> None:
    with pytest.raises(ValueError, match="Filtered needs a non-empty reason"):
        Filtered(reason)


def test_filtered_keeps_its_reason() -> None:
    assert Filtered("duplicate").reason == "duplicate"


# --- a stage function that returns nothing, and what reaches X-Ray -------------------------------


def test_state_machine_result_none_is_a_type_error() -> None:
    handler = pipeline_stage(lambda item: None)

    with pytest.raises(
        TypeError,
        match=r"^the stage function returned None: return the item, or Filtered\(reason\)$",
    ):
        handler(task({"id": "o-1"}), CONTEXT)


def test_queue_result_none_is_a_batch_item_failure(queues: Queues) -> None:
    handler = pipeline_stage(lambda item: None if item["id"] == "forgot" else item)
    event, ids = queues.items_event([{"id": "ok"}, {"id": "forgot"}])

    response = handler(event, CONTEXT)

    assert failed_ids(response) == [ids[1]]
    assert queues.items(queues.next_url) == [{"id": "ok"}]


def test_handler_response_is_not_captured_in_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: list[dict[str, Any]] = []
    original = stage.Tracer.capture_lambda_handler

    def spy(self: Any, lambda_handler: Any = None, **options: Any) -> Any:
        captured.append(options)
        return original(self, lambda_handler, **options)

    monkeypatch.setattr(stage.Tracer, "capture_lambda_handler", spy)
    pipeline_stage(screen)

    assert captured[0] == {"capture_response": False}
    assert all(options["capture_response"] is False for options in captured)
