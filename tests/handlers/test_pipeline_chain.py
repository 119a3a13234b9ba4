"""The order pipeline end to end: validate -> enrich -> fraud_screen -> persist, in-process.

The four real stage handlers (``lambda_src/pipeline_*/app.py``) are wired as
``Connector.QUEUES`` wires them: each stage reads its own (moto) queue and is told the next
queue (the last one: the output queue) and the rejected queue through ``PIPELINE_STAGE``,
``PIPELINE_NEXT`` and ``PIPELINE_REJECTED``. The test plays Lambda's poller: it receives a
stage's messages, invokes the handler with them and deletes those not reported as failed. The
same three orders then run through the ``Connector.STATE_MACHINE`` event shape, and both
connectors must see the same outcome for each order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest

from serverless_patterns import stage as stage_helper
from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    create_queue,
    create_table,
    drain,
    failed_ids,
    load_handler,
    mocked_aws,
    to_lambda_sqs_record,
)

TABLE_NAME = "pipeline-chain-orders"
#: (stage name, handler folder under lambda_src/, the stage's queue), in pipeline order.
STAGES = [
    ("validate", "pipeline_validate", "validate-q"),
    ("enrich", "pipeline_enrich", "enrich-q"),
    ("fraud_screen", "pipeline_fraud_screen", "fraud-q"),
    ("persist", "pipeline_persist", "persist-q"),
]
OUTPUT_QUEUE = "output-q"
REJECTED_QUEUE = "rejected-q"

# --- the three orders and what must become of them ---------------------------------------------

ACCEPTED = {
    "order_id": "o-accepted",
    "customer_id": "c-1",
    "country": "DE",
    "items": [{"sku": "STICKER-003", "quantity": 6}, {"sku": "MUG-002", "quantity": 1}],
    "note": "leave at the door",
}
SUSPICIOUS = {
    "order_id": "o-suspicious",
    "customer_id": "c-2",
    "country": "FR",
    "items": [{"sku": "LAPTOP-006", "quantity": 4}],
    "new_customer": True,
}
UNPRICEABLE = {
    "order_id": "o-unpriceable",
    "customer_id": "c-3",
    "country": "DE",
    "items": [{"sku": "MUG-002", "quantity": 2}, {"sku": "GHOST-999", "quantity": 1}],
}
ORDERS = [ACCEPTED, SUSPICIOUS, UNPRICEABLE]
UNPRICEABLE_VALIDATED = {**UNPRICEABLE, "new_customer": False}

#: ACCEPTED at the end of the pipeline: 6 x 200 + 850 = 2050 cents, DE tax 19 % of it = 389.5,
#: rounded half up to 390, total 2440; the unknown field ``note`` was dropped by validate.
ACCEPTED_FINAL = {
    "order_id": "o-accepted",
    "customer_id": "c-1",
    "country": "DE",
    "items": [{"sku": "STICKER-003", "quantity": 6}, {"sku": "MUG-002", "quantity": 1}],
    "new_customer": False,
    "lines": [
        {"sku": "STICKER-003", "quantity": 6, "unit_price_cents": 200, "line_total_cents": 1200},
        {"sku": "MUG-002", "quantity": 1, "unit_price_cents": 850, "line_total_cents": 850},
    ],
    "subtotal_cents": 2050,
    "tax_cents": 390,
    "total_cents": 2440,
    "fraud_screen": "passed",
}
#: SUSPICIOUS as the fraud screen saw it: 4 x 129900 = 519600 cents, FR tax 20 % = 103920,
#: total 623520, above the new customer limit of 500000 (and below the cap of 2000000).
SUSPICIOUS_ENRICHED = {
    "order_id": "o-suspicious",
    "customer_id": "c-2",
    "country": "FR",
    "items": [{"sku": "LAPTOP-006", "quantity": 4}],
    "new_customer": True,
    "lines": [
        {"sku": "LAPTOP-006", "quantity": 4, "unit_price_cents": 129900, "line_total_cents": 519600}
    ],
    "subtotal_cents": 519600,
    "tax_cents": 103920,
    "total_cents": 623520,
}
SUSPICIOUS_REASON = "new customer order total 623520 cents is above 500000"

#: Per order: ("passed", final item) | ("filtered", stage, reason, item) | ("failed", stage).
EXPECTED_OUTCOMES = {
    "o-accepted": ("passed", ACCEPTED_FINAL),
    "o-suspicious": ("filtered", "fraud_screen", SUSPICIOUS_REASON, SUSPICIOUS_ENRICHED),
    "o-unpriceable": ("failed", "enrich"),
}

#: ACCEPTED_FINAL as DynamoDB returns it.
ACCEPTED_STORED = {
    **ACCEPTED_FINAL,
    "items": [
        {"sku": "STICKER-003", "quantity": Decimal(6)},
        {"sku": "MUG-002", "quantity": Decimal(1)},
    ],
    "lines": [
        {
            "sku": "STICKER-003",
            "quantity": Decimal(6),
            "unit_price_cents": Decimal(200),
            "line_total_cents": Decimal(1200),
        },
        {
            "sku": "MUG-002",
            "quantity": Decimal(1),
            "unit_price_cents": Decimal(850),
            "line_total_cents": Decimal(850),
        },
    ],
    "subtotal_cents": Decimal(2050),
    "tax_cents": Decimal(390),
    "total_cents": Decimal(2440),
}


# --- the pipeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    app: ModuleType
    queue_url: str
    queue_arn: str
    #: The environment ``FilterPipeline`` gives the stage's function.
    environ: dict[str, str]

    @property
    def context(self) -> FakeLambdaContext:
        return FakeLambdaContext(f"pipeline-{self.name.replace('_', '-')}")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the handler with the stage's environment (the helper reads it per call)."""
        with pytest.MonkeyPatch.context() as mp:
            for name, value in self.environ.items():
                mp.setenv(name, value)
            response: dict[str, Any] = self.app.handler(event, self.context)
        return response


@dataclass(frozen=True)
class Pipeline:
    stages: list[Stage]
    sqs: Any
    table: Any
    output_url: str
    rejected_url: str


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """Fresh mocks: the table, the stages' queues, the output and rejected queues, and every
    stage's handler loaded under its own environment."""
    with mocked_aws("order-pipeline"):
        # A client cached under another mock must never be used here (nor ours later).
        stage_helper._client.cache_clear()
        try:
            table = create_table(TABLE_NAME, "order_id")
            sqs = boto3.client("sqs", region_name=REGION)
            queues = [create_queue(sqs, queue) for _, _, queue in STAGES]
            output_url, _ = create_queue(sqs, OUTPUT_QUEUE)
            rejected_url, _ = create_queue(sqs, REJECTED_QUEUE)
            next_urls = [url for url, _ in queues[1:]] + [output_url]
            stages = []
            for (name, folder, _), (url, arn), next_url in zip(
                STAGES, queues, next_urls, strict=True
            ):
                environ = {
                    stage_helper.STAGE_ENV: name,
                    stage_helper.NEXT_ENV: next_url,
                    stage_helper.REJECTED_ENV: rejected_url,
                    "POWERTOOLS_SERVICE_NAME": f"pipeline-{name.replace('_', '-')}",
                }
                if name == "persist":
                    environ["TABLE_NAME"] = TABLE_NAME
                with pytest.MonkeyPatch.context() as mp:
                    for variable, value in environ.items():
                        mp.setenv(variable, value)
                    # In sys.modules as an import would put it, through the test's monkeypatch.
                    app = load_handler(
                        LAMBDA_SRC / folder / "app.py",
                        f"{folder}_chain_under_test",
                        monkeypatch=monkeypatch,
                    )
                stages.append(Stage(name, app, url, arn, environ))
            yield Pipeline(stages, sqs, table, output_url, rejected_url)
        finally:
            stage_helper._client.cache_clear()


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive every visible message of the queue (they stay in it, invisible for now)."""
    received: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        received.extend(messages)
    return received


@dataclass(frozen=True)
class StageRun:
    order_ids: list[str]
    failed_order_ids: list[str]
    #: Of the failed messages, which stay in the stage's queue.
    failed_receipt_handles: list[str] = field(default_factory=list, compare=False)


def poll_once(pipeline: Pipeline, stage: Stage) -> StageRun:
    """What Lambda's poller does for one batch: receive, invoke, delete the successes."""
    messages = receive_all(pipeline.sqs, stage.queue_url)
    assert 0 < len(messages) <= 10
    response = stage.invoke(
        {"Records": [to_lambda_sqs_record(m, stage.queue_arn) for m in messages]}
    )
    failed = set(failed_ids(response))
    assert len(failed) == len(failed_ids(response))
    for message in messages:
        if message["MessageId"] not in failed:
            pipeline.sqs.delete_message(
                QueueUrl=stage.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    assert failed <= {m["MessageId"] for m in messages}
    return StageRun(
        order_ids=sorted(json.loads(m["Body"])["order_id"] for m in messages),
        failed_order_ids=sorted(
            json.loads(m["Body"])["order_id"] for m in messages if m["MessageId"] in failed
        ),
        failed_receipt_handles=[m["ReceiptHandle"] for m in messages if m["MessageId"] in failed],
    )


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def stored(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    return {item["order_id"]: item for item in pipeline.table.scan(ConsistentRead=True)["Items"]}


# --- tests -------------------------------------------------------------------------------------


def test_queue_connector_chain_accepts_rejects_and_fails_each_order_once(
    pipeline: Pipeline,
) -> None:
    first = pipeline.stages[0]
    for order in ORDERS:
        pipeline.sqs.send_message(QueueUrl=first.queue_url, MessageBody=json.dumps(order))

    runs = {stage.name: poll_once(pipeline, stage) for stage in pipeline.stages}

    assert runs == {
        "validate": StageRun(
            order_ids=["o-accepted", "o-suspicious", "o-unpriceable"], failed_order_ids=[]
        ),
        "enrich": StageRun(
            order_ids=["o-accepted", "o-suspicious", "o-unpriceable"],
            failed_order_ids=["o-unpriceable"],
        ),
        # The unpriceable order never reaches a later stage.
        "fraud_screen": StageRun(order_ids=["o-accepted", "o-suspicious"], failed_order_ids=[]),
        "persist": StageRun(order_ids=["o-accepted"], failed_order_ids=[]),
    }
    output = [json.loads(m["Body"]) for m in drain(pipeline.sqs, pipeline.output_url)]
    rejected = [json.loads(m["Body"]) for m in drain(pipeline.sqs, pipeline.rejected_url)]
    assert output == [ACCEPTED_FINAL]
    assert rejected == [
        {"stage": "fraud_screen", "reason": SUSPICIOUS_REASON, "item": SUSPICIOUS_ENRICHED}
    ]
    assert stored(pipeline) == {"o-accepted": ACCEPTED_STORED}
    # Every stage queue is empty but enrich's, which keeps the failed message for its retry.
    assert {
        stage.name: queue_counts(pipeline.sqs, stage.queue_url) for stage in pipeline.stages
    } == {
        "validate": (0, 0),
        "enrich": (0, 1),
        "fraud_screen": (0, 0),
        "persist": (0, 0),
    }
    # Once its visibility timeout is over, SQS delivers exactly that order to enrich again.
    enrich = pipeline.stages[1]
    for receipt_handle in runs["enrich"].failed_receipt_handles:
        pipeline.sqs.change_message_visibility(
            QueueUrl=enrich.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
        )
    assert [json.loads(m["Body"]) for m in receive_all(pipeline.sqs, enrich.queue_url)] == [
        UNPRICEABLE_VALIDATED
    ]

    outcomes = {
        **{item["order_id"]: ("passed", item) for item in output},
        **{
            entry["item"]["order_id"]: ("filtered", entry["stage"], entry["reason"], entry["item"])
            for entry in rejected
        },
        **{
            order_id: ("failed", name)
            for name, run in runs.items()
            for order_id in run.failed_order_ids
        },
    }
    assert outcomes == EXPECTED_OUTCOMES


def run_as_state_machine(pipeline: Pipeline, order: dict[str, Any]) -> tuple[Any, ...]:
    """Run one order through the stages as the state machine does: each task gets the previous
    task's ``item``; a filtered outcome ends the run, and so does an error (which the state
    machine would retry, then send to its dead-letter queue)."""
    item: Any = order
    for stage in pipeline.stages:
        try:
            envelope = stage.app.handler({"pipelineStage": stage.name, "item": item}, stage.context)
        except Exception as error:
            return ("failed", stage.name, type(error).__name__, str(error))
        if envelope["outcome"] == "filtered":
            return ("filtered", stage.name, envelope["reason"], envelope["item"])
        assert envelope["outcome"] == "passed"
        item = envelope["item"]
    return ("passed", item)


def test_state_machine_connector_sees_the_same_outcomes(pipeline: Pipeline) -> None:
    outcomes = {order["order_id"]: run_as_state_machine(pipeline, order) for order in ORDERS}

    assert outcomes == {
        "o-accepted": ("passed", ACCEPTED_FINAL),
        "o-suspicious": ("filtered", "fraud_screen", SUSPICIOUS_REASON, SUSPICIOUS_ENRICHED),
        "o-unpriceable": (
            "failed",
            "enrich",
            "PricingError",
            "SKU 'GHOST-999' is not in the catalog",
        ),
    }
    assert {order_id: outcome[:2] for order_id, outcome in outcomes.items()} == {
        order_id: expected[:2] for order_id, expected in EXPECTED_OUTCOMES.items()
    }
    assert stored(pipeline) == {"o-accepted": ACCEPTED_STORED}
    # The state machine connector sends nothing to the queues.
    assert [
        queue_counts(pipeline.sqs, url)
        for url in [s.queue_url for s in pipeline.stages]
        + [pipeline.output_url, pipeline.rejected_url]
    ] == [(0, 0)] * 6
