"""Tests for the order pipeline's stage handlers (``lambda_src/pipeline_*/app.py``).

Each stage is exercised through both event shapes the stage helper serves: the state machine's
task event ``{"pipelineStage": ..., "item": ...}`` for the business rules, and an SQS batch built
from messages actually sent to and received from a (moto) queue, whose results land in (moto)
next and rejected queues. Everything runs in-process.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from serverless_patterns import stage as stage_helper
from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    captured_logs,
    create_queue,
    create_table,
    drain,
    empty_table,
    failed_ids,
    load_handler,
    mocked_aws,
    to_lambda_sqs_record,
)

TABLE_NAME = "pipeline-stages-orders"
#: Stage name -> the folder of its handler under lambda_src/.
FOLDERS = {
    "validate": "pipeline_validate",
    "enrich": "pipeline_enrich",
    "fraud_screen": "pipeline_fraud_screen",
    "persist": "pipeline_persist",
}


def service(stage: str) -> str:
    return f"pipeline-{stage.replace('_', '-')}"


def context(stage: str) -> FakeLambdaContext:
    return FakeLambdaContext(service(stage))


def load_stage(
    stage: str, monkeypatch: pytest.MonkeyPatch, module_name: str | None = None, **environ: str
) -> ModuleType:
    """Load the stage's handler file with its service name and ``environ`` set while it loads.

    The module is registered in ``sys.modules`` through ``monkeypatch`` (as an import would).
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_SERVICE_NAME", service(stage))
        for name, value in environ.items():
            env.setenv(name, value)
        return load_handler(
            LAMBDA_SRC / FOLDERS[stage] / "app.py",
            module_name or f"{FOLDERS[stage]}_app_under_test",
            monkeypatch=monkeypatch,
        )


@dataclass(frozen=True)
class AwsEnv:
    apps: dict[str, ModuleType]
    table: Any
    sqs: Any
    input_url: str
    input_arn: str
    next_url: str
    rejected_url: str


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws("pipeline-stages", TABLE_NAME=TABLE_NAME), pytest.MonkeyPatch.context() as mp:
        # A client cached under another mock must never be used here (nor ours later).
        stage_helper._client.cache_clear()
        try:
            table = create_table(TABLE_NAME, "order_id")
            sqs = boto3.client("sqs", region_name=REGION)
            input_url, input_arn = create_queue(sqs, "stage-input")
            next_url, _ = create_queue(sqs, "stage-next")
            rejected_url, _ = create_queue(sqs, "stage-rejected")
            # Loaded inside mock_aws: persist creates its DynamoDB table resource at import.
            apps = {stage: load_stage(stage, mp) for stage in FOLDERS}
            yield AwsEnv(
                apps=apps,
                table=table,
                sqs=sqs,
                input_url=input_url,
                input_arn=input_arn,
                next_url=next_url,
                rejected_url=rejected_url,
            )
        finally:
            stage_helper._client.cache_clear()


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide mocks with an empty table and empty queues for each test."""
    empty_table(aws.table, "order_id")
    for url in (aws.input_url, aws.next_url, aws.rejected_url):
        drain(aws.sqs, url, with_attributes=False)
    return aws


def task(env: AwsEnv, stage: str, item: Any) -> dict[str, Any]:
    """Invoke the stage as the state machine's task does."""
    result: dict[str, Any] = env.apps[stage].handler(
        {"pipelineStage": stage, "item": item}, context(stage)
    )
    return result


@dataclass(frozen=True)
class BatchRun:
    response: dict[str, Any]
    message_ids: list[str]
    passed_on: list[Any]
    rejected: list[Any]
    log_records: list[logging.LogRecord]


def run_batch(
    env: AwsEnv, stage: str, bodies: list[str], *, app: ModuleType | None = None
) -> BatchRun:
    """Send ``bodies`` to the input queue, receive them back and deliver them to the stage as
    one Lambda SQS event with the queue connector's environment; collect what the stage sent
    on to the next and the rejected queue. ``message_ids`` are in the order of ``bodies``."""
    sent_ids = [
        env.sqs.send_message(QueueUrl=env.input_url, MessageBody=body)["MessageId"]
        for body in bodies
    ]
    received = {message["MessageId"]: message for message in drain(env.sqs, env.input_url)}
    assert set(received) == set(sent_ids)
    event = {"Records": [to_lambda_sqs_record(received[i], env.input_arn) for i in sent_ids]}
    with pytest.MonkeyPatch.context() as mp, captured_logs(service(stage)) as records:
        mp.setenv(stage_helper.STAGE_ENV, stage)
        mp.setenv(stage_helper.NEXT_ENV, env.next_url)
        mp.setenv(stage_helper.REJECTED_ENV, env.rejected_url)
        response = (app or env.apps[stage]).handler(event, context(stage))
    return BatchRun(
        response=response,
        message_ids=sent_ids,
        passed_on=[json.loads(m["Body"]) for m in drain(env.sqs, env.next_url)],
        rejected=[json.loads(m["Body"]) for m in drain(env.sqs, env.rejected_url)],
        log_records=list(records),
    )


def assert_one_log_line(run: BatchRun, stage: str, passed: int, filtered: int, failed: int) -> None:
    """The invocation logged exactly one line (the helper's summary), nothing per record."""
    assert [
        (r.levelname, r.getMessage(), r.stage, r.passed, r.filtered, r.failed)  # type: ignore[attr-defined]
        for r in run.log_records
    ] == [("INFO", "stage ran", stage, passed, filtered, failed)]


def by_order_id(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["order_id"]: item for item in items}


# --- orders ------------------------------------------------------------------------------------


def raw_order(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """A valid order as a client sends it (``fields`` override or add fields)."""
    order: dict[str, Any] = {
        "order_id": order_id,
        "customer_id": "c-1",
        "country": "DE",
        "items": [{"sku": "STICKER-003", "quantity": 6}, {"sku": "MUG-002", "quantity": 1}],
    }
    order.update(fields)
    return order


def validated(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """A valid order as the validate stage returns it."""
    return {**raw_order(order_id), "new_customer": False, **fields}


#: ``validated("o-1")`` as the enrich stage returns it: 6 x 200 + 1 x 850 = 2050 cents, DE tax
#: 19 % = 389.5 -> 390 (half up), total 2440.
ENRICHED_LINES = [
    {"sku": "STICKER-003", "quantity": 6, "unit_price_cents": 200, "line_total_cents": 1200},
    {"sku": "MUG-002", "quantity": 1, "unit_price_cents": 850, "line_total_cents": 850},
]


def enriched(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    return {
        **validated(order_id),
        "lines": ENRICHED_LINES,
        "subtotal_cents": 2050,
        "tax_cents": 390,
        "total_cents": 2440,
        **fields,
    }


def screened(order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    return {**enriched(order_id), "fraud_screen": "passed", **fields}


# --- validate ----------------------------------------------------------------------------------


def test_validate_returns_the_normalized_order(env: AwsEnv) -> None:
    order = raw_order(
        note="leave at the door",
        items=[
            {"sku": "STICKER-003", "quantity": 6, "gift": True},
            {"sku": "MUG-002", "quantity": 1},
        ],
    )

    assert task(env, "validate", order) == {
        "outcome": "passed",
        "item": {
            "order_id": "o-1",
            "customer_id": "c-1",
            "country": "DE",
            "items": [{"sku": "STICKER-003", "quantity": 6}, {"sku": "MUG-002", "quantity": 1}],
            "new_customer": False,
        },
    }


@pytest.mark.parametrize("new_customer", [True, False])
def test_validate_keeps_a_given_new_customer_flag(env: AwsEnv, new_customer: bool) -> None:
    result = task(env, "validate", raw_order(new_customer=new_customer))

    assert result == {"outcome": "passed", "item": validated(new_customer=new_customer)}


def test_validate_accepts_the_limits(env: AwsEnv) -> None:
    order = raw_order(
        "o" * 64,
        customer_id="c",
        country="US",
        items=[{"sku": "MUG-002", "quantity": 1000}] + [{"sku": "S", "quantity": 1}] * 99,
    )

    result = task(env, "validate", order)

    assert result["outcome"] == "passed"
    assert result["item"]["order_id"] == "o" * 64
    assert len(result["item"]["items"]) == 100
    assert result["item"]["items"][0] == {"sku": "MUG-002", "quantity": 1000}


LINE_QUANTITY = "invalid order: items[0].quantity must be an integer in 1..1000"


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ([raw_order()], "invalid order: order must be a JSON object"),
        ("o-1", "invalid order: order must be a JSON object"),
        (None, "invalid order: order must be a JSON object"),
        (
            {k: v for k, v in raw_order().items() if k != "order_id"},
            "invalid order: order_id must be a non-empty string of at most 64 characters",
        ),
        (
            raw_order(""),
            "invalid order: order_id must be a non-empty string of at most 64 characters",
        ),
        (
            raw_order("   "),
            "invalid order: order_id must be a non-empty string of at most 64 characters",
        ),
        (
            raw_order("o" * 65),
            "invalid order: order_id must be a non-empty string of at most 64 characters",
        ),
        (
            raw_order(17),
            "invalid order: order_id must be a non-empty string of at most 64 characters",
        ),
        (raw_order(customer_id=""), "invalid order: customer_id must be a non-empty string"),
        (raw_order(customer_id=42), "invalid order: customer_id must be a non-empty string"),
        (
            {k: v for k, v in raw_order().items() if k != "customer_id"},
            "invalid order: customer_id must be a non-empty string",
        ),
        (raw_order(country="de"), "invalid order: country must be two upper-case letters"),
        (raw_order(country="DEU"), "invalid order: country must be two upper-case letters"),
        (raw_order(country="D1"), "invalid order: country must be two upper-case letters"),
        (raw_order(country="ÄÖ"), "invalid order: country must be two upper-case letters"),
        (raw_order(country="DE\n"), "invalid order: country must be two upper-case letters"),
        (raw_order(country=None), "invalid order: country must be two upper-case letters"),
        (
            {k: v for k, v in raw_order().items() if k != "items"},
            "invalid order: items must be a list of 1 to 100 lines",
        ),
        (raw_order(items=[]), "invalid order: items must be a list of 1 to 100 lines"),
        (
            raw_order(items={"sku": "MUG-002", "quantity": 1}),
            "invalid order: items must be a list of 1 to 100 lines",
        ),
        (
            raw_order(items=[{"sku": "MUG-002", "quantity": 1}] * 101),
            "invalid order: items must be a list of 1 to 100 lines",
        ),
        (
            raw_order(items=[{"sku": "MUG-002", "quantity": 1}, "MUG-002"]),
            "invalid order: items[1] must be an object",
        ),
        (
            raw_order(items=[{"quantity": 1}]),
            "invalid order: items[0].sku must be a non-empty string",
        ),
        (
            raw_order(items=[{"sku": "", "quantity": 1}]),
            "invalid order: items[0].sku must be a non-empty string",
        ),
        (
            raw_order(items=[{"sku": 7, "quantity": 1}]),
            "invalid order: items[0].sku must be a non-empty string",
        ),
        (raw_order(items=[{"sku": "MUG-002", "quantity": 0}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002", "quantity": 1001}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002", "quantity": -1}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002", "quantity": True}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002", "quantity": 2.0}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002", "quantity": "2"}]), LINE_QUANTITY),
        (raw_order(items=[{"sku": "MUG-002"}]), LINE_QUANTITY),
        (raw_order(new_customer="yes"), "invalid order: new_customer must be true or false"),
        (raw_order(new_customer=1), "invalid order: new_customer must be true or false"),
        (raw_order(new_customer=None), "invalid order: new_customer must be true or false"),
    ],
)
def test_validate_filters_an_invalid_order_with_the_problem_as_reason(
    env: AwsEnv, order: Any, reason: str
) -> None:
    assert task(env, "validate", order) == {"outcome": "filtered", "reason": reason, "item": order}


def test_validate_batch_passes_valid_rejects_invalid_and_fails_non_json(env: AwsEnv) -> None:
    invalid = raw_order("o-2", country="Germany")
    run = run_batch(
        env,
        "validate",
        [json.dumps(raw_order("o-1", extra=1)), json.dumps(invalid), '{"order_id": "o-3", '],
    )

    assert failed_ids(run.response) == [run.message_ids[2]]
    assert run.passed_on == [validated("o-1")]
    assert run.rejected == [
        {
            "stage": "validate",
            "reason": "invalid order: country must be two upper-case letters",
            "item": invalid,
        }
    ]
    assert_one_log_line(run, "validate", passed=1, filtered=1, failed=1)


# --- enrich ------------------------------------------------------------------------------------


def test_enrich_prices_every_line_and_adds_tax_half_up(env: AwsEnv) -> None:
    assert task(env, "enrich", validated("o-1")) == {"outcome": "passed", "item": enriched("o-1")}


def test_enrich_prices_a_multi_line_order_exactly(env: AwsEnv) -> None:
    order = validated(
        "o-fr",
        country="FR",
        items=[
            {"sku": "BOOK-001", "quantity": 3},
            {"sku": "HEADPHONES-005", "quantity": 1},
            {"sku": "BOOK-001", "quantity": 1},
        ],
    )

    assert task(env, "enrich", order) == {
        "outcome": "passed",
        "item": {
            **order,
            "lines": [
                {
                    "sku": "BOOK-001",
                    "quantity": 3,
                    "unit_price_cents": 1299,
                    "line_total_cents": 3897,
                },
                {
                    "sku": "HEADPHONES-005",
                    "quantity": 1,
                    "unit_price_cents": 8999,
                    "line_total_cents": 8999,
                },
                {
                    "sku": "BOOK-001",
                    "quantity": 1,
                    "unit_price_cents": 1299,
                    "line_total_cents": 1299,
                },
            ],
            # 3897 + 8999 + 1299 = 14195; 20 % = 2839.0
            "subtotal_cents": 14195,
            "tax_cents": 2839,
            "total_cents": 17034,
        },
    }


@pytest.mark.parametrize(
    ("subtotal", "country", "tax"),
    [
        (2050, "DE", 390),  # 389.5: half up
        (1050, "DE", 200),  # 199.5
        (1049, "DE", 199),  # 199.31
        (1150, "DE", 219),  # 218.5
        (3, "DE", 1),  # 0.57
        (2, "DE", 0),  # 0.38
        (7, "CH", 1),  # 0.567
        (5, "CH", 0),  # 0.405
        (14195, "FR", 2839),
        (999_999, "US", 0),
        (0, "GB", 0),
        (129_900, "IE", 29_877),
    ],
)
def test_tax_is_rounded_half_up_to_whole_cents(
    aws: AwsEnv, subtotal: int, country: str, tax: int
) -> None:
    result = aws.apps["enrich"].tax_cents(subtotal, country)

    assert result == tax
    assert type(result) is int


def test_enrich_raises_pricing_error_for_an_unknown_sku(env: AwsEnv) -> None:
    app = env.apps["enrich"]
    order = validated(
        items=[{"sku": "MUG-002", "quantity": 1}, {"sku": "GHOST-999", "quantity": 1}]
    )

    with pytest.raises(app.PricingError, match=r"^SKU 'GHOST-999' is not in the catalog$"):
        task(env, "enrich", order)


def test_enrich_raises_pricing_error_for_a_country_without_tax_rate(env: AwsEnv) -> None:
    app = env.apps["enrich"]

    with pytest.raises(app.PricingError, match=r"^no tax rate for country 'XX'$"):
        task(env, "enrich", validated(country="XX"))


def test_enrich_batch_fails_only_the_orders_it_cannot_price(env: AwsEnv) -> None:
    run = run_batch(
        env,
        "enrich",
        [
            json.dumps(validated("o-1")),
            json.dumps(validated("o-2", items=[{"sku": "GHOST-999", "quantity": 1}])),
            json.dumps(validated("o-3", country="XX")),
            json.dumps(validated("o-4", country="US")),
        ],
    )

    assert failed_ids(run.response) == run.message_ids[1:3]
    assert run.passed_on == [
        enriched("o-1"),
        enriched("o-4", country="US", tax_cents=0, total_cents=2050),
    ]
    assert run.rejected == []
    assert_one_log_line(run, "enrich", passed=2, filtered=0, failed=2)


# --- fraud screen ------------------------------------------------------------------------------


def priced(total: int, *, new_customer: bool = False, quantity: int = 1) -> dict[str, Any]:
    """An enriched order with the given total, customer flag and one line of ``quantity``."""
    return enriched(
        "o-f",
        new_customer=new_customer,
        lines=[
            {
                "sku": "STICKER-003",
                "quantity": quantity,
                "unit_price_cents": 200,
                "line_total_cents": 200 * quantity,
            }
        ],
        total_cents=total,
    )


@pytest.mark.parametrize(
    "order",
    [
        priced(2440),
        priced(500_000, new_customer=True),
        priced(500_001, new_customer=False),
        priced(2_000_000),
        priced(2440, quantity=50),
        priced(2440, new_customer=True, quantity=50),
    ],
)
def test_fraud_screen_passes_an_unsuspicious_order_marked(env: AwsEnv, order: Any) -> None:
    assert task(env, "fraud_screen", order) == {
        "outcome": "passed",
        "item": {**order, "fraud_screen": "passed"},
    }


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (priced(2_000_001), "order total 2000001 cents is above the cap of 2000000"),
        (
            # The cap is checked first.
            priced(2_000_001, new_customer=True, quantity=51),
            "order total 2000001 cents is above the cap of 2000000",
        ),
        (
            priced(500_001, new_customer=True),
            "new customer order total 500001 cents is above 500000",
        ),
        (
            priced(623_520, new_customer=True, quantity=51),
            "new customer order total 623520 cents is above 500000",
        ),
        (priced(2440, quantity=51), "quantity 51 of STICKER-003 is above 50"),
        (
            enriched(
                lines=[
                    ENRICHED_LINES[0],
                    {"sku": "MUG-002", "quantity": 900, "unit_price_cents": 850},
                ]
            ),
            "quantity 900 of MUG-002 is above 50",
        ),
    ],
)
def test_fraud_screen_filters_a_suspicious_order_with_its_reason(
    env: AwsEnv, order: Any, reason: str
) -> None:
    assert task(env, "fraud_screen", order) == {
        "outcome": "filtered",
        "reason": reason,
        "item": order,
    }


@pytest.mark.parametrize(
    "order",
    [
        validated(),
        enriched(total_cents="2440"),
        enriched(total_cents=True),
        enriched(total_cents=2440.0),
        {k: v for k, v in enriched().items() if k != "lines"},
    ],
)
def test_fraud_screen_raises_for_an_order_that_was_not_priced(env: AwsEnv, order: Any) -> None:
    with pytest.raises(
        env.apps["fraud_screen"].UnpricedOrderError,
        match=r"^order has no integer total_cents and lines: was it enriched\?$",
    ):
        task(env, "fraud_screen", order)


def test_fraud_screen_thresholds_have_their_defaults(aws: AwsEnv) -> None:
    app = aws.apps["fraud_screen"]

    assert (app.MAX_TOTAL_CENTS, app.NEW_CUSTOMER_LIMIT_CENTS, app.MAX_LINE_QUANTITY) == (
        2_000_000,
        500_000,
        50,
    )


def test_fraud_screen_thresholds_are_overridden_by_the_environment(
    env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_stage(
        "fraud_screen",
        monkeypatch,
        "pipeline_fraud_screen_overridden",
        FRAUD_MAX_TOTAL_CENTS=" 10000 ",
        FRAUD_NEW_CUSTOMER_LIMIT_CENTS="3000",
        FRAUD_MAX_LINE_QUANTITY="5",
    )

    assert (app.MAX_TOTAL_CENTS, app.NEW_CUSTOMER_LIMIT_CENTS, app.MAX_LINE_QUANTITY) == (
        10_000,
        3_000,
        5,
    )
    assert app.fraud_screen(priced(10_001)) == stage_helper.Filtered(
        "order total 10001 cents is above the cap of 10000"
    )
    assert app.fraud_screen(priced(3_001, new_customer=True)) == stage_helper.Filtered(
        "new customer order total 3001 cents is above 3000"
    )
    assert app.fraud_screen(priced(2440, quantity=6)) == stage_helper.Filtered(
        "quantity 6 of STICKER-003 is above 5"
    )
    assert app.fraud_screen(priced(3_000, new_customer=True, quantity=5)) == {
        **priced(3_000, new_customer=True, quantity=5),
        "fraud_screen": "passed",
    }


def test_fraud_screen_blank_override_keeps_the_default(
    env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_stage(
        "fraud_screen", monkeypatch, "pipeline_fraud_screen_blank", FRAUD_MAX_LINE_QUANTITY="  "
    )

    assert app.MAX_LINE_QUANTITY == 50


@pytest.mark.parametrize("value", ["abc", "-5", "0", "000", "1.5", "1e6", "+5", "٣", "5 0"])
def test_fraud_screen_refuses_to_load_with_an_invalid_override(
    env: AwsEnv, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = f"FRAUD_NEW_CUSTOMER_LIMIT_CENTS must be a positive whole number, got {value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_stage(
            "fraud_screen",
            monkeypatch,
            "pipeline_fraud_screen_invalid",
            FRAUD_NEW_CUSTOMER_LIMIT_CENTS=value,
        )


def test_fraud_screen_batch_passes_rejects_and_fails_per_record(env: AwsEnv) -> None:
    suspicious = priced(600_000, new_customer=True)
    run = run_batch(
        env,
        "fraud_screen",
        [json.dumps(enriched("o-1")), json.dumps(suspicious), json.dumps(validated("o-3"))],
    )

    assert failed_ids(run.response) == [run.message_ids[2]]
    assert run.passed_on == [screened("o-1")]
    assert run.rejected == [
        {
            "stage": "fraud_screen",
            "reason": "new customer order total 600000 cents is above 500000",
            "item": suspicious,
        }
    ]
    assert_one_log_line(run, "fraud_screen", passed=1, filtered=1, failed=1)


# --- persist -----------------------------------------------------------------------------------

#: ``screened("o-1")`` as DynamoDB returns it: every number a Decimal.
STORED_O1 = {
    "order_id": "o-1",
    "customer_id": "c-1",
    "country": "DE",
    "items": [
        {"sku": "STICKER-003", "quantity": Decimal(6)},
        {"sku": "MUG-002", "quantity": Decimal(1)},
    ],
    "new_customer": False,
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
    "fraud_screen": "passed",
}


def stored(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return by_order_id(env.table.scan(ConsistentRead=True)["Items"])


def test_persist_stores_the_order_with_exact_attributes(env: AwsEnv) -> None:
    result = task(env, "persist", screened("o-1"))

    assert result == {"outcome": "passed", "item": screened("o-1")}
    assert stored(env) == {"o-1": STORED_O1}
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    raw = dynamodb.get_item(TableName=TABLE_NAME, Key={"order_id": {"S": "o-1"}})
    assert raw["Item"]["total_cents"] == {"N": "2440"}
    assert raw["Item"]["new_customer"] == {"BOOL": False}
    assert raw["Item"]["lines"]["L"][0]["M"]["unit_price_cents"] == {"N": "200"}


def test_persist_redelivery_passes_and_does_not_overwrite(env: AwsEnv) -> None:
    task(env, "persist", screened("o-1"))
    redelivered = screened("o-1", customer_id="c-other", total_cents=1)

    result = task(env, "persist", redelivered)

    assert result == {"outcome": "passed", "item": redelivered}
    assert stored(env) == {"o-1": STORED_O1}


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (screened(tax_cents=389.5), r"^order\.tax_cents is a float \(389\.5\): amounts must be "),
        (
            screened(lines=[{"sku": "MUG-002", "unit_price_cents": 8.5}]),
            r"^order\.lines\[0\]\.unit_price_cents is a float \(8\.5\)",
        ),
        ({k: v for k, v in screened().items() if k != "order_id"}, r"^order has no order_id$"),
        (screened(""), r"^order has no order_id$"),
        (screened(order_id=12), r"^order has no order_id$"),
    ],
)
def test_persist_raises_for_an_order_it_cannot_store_and_stores_nothing(
    env: AwsEnv, order: Any, message: str
) -> None:
    with pytest.raises(env.apps["persist"].UnstorableOrderError, match=message):
        task(env, "persist", order)

    assert stored(env) == {}


def test_persist_raises_other_dynamodb_errors(env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_stage("persist", monkeypatch, "pipeline_persist_no_table", TABLE_NAME="no-such")

    with pytest.raises(ClientError) as raised:
        app.handler({"pipelineStage": "persist", "item": screened("o-1")}, context("persist"))

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert stored(env) == {}


def test_persist_batch_stores_new_passes_redelivered_and_fails_unstorable(env: AwsEnv) -> None:
    task(env, "persist", screened("o-1"))
    redelivered = screened("o-1", customer_id="c-other")
    run = run_batch(
        env,
        "persist",
        [
            json.dumps(screened("o-2")),
            json.dumps(redelivered),
            json.dumps(screened("o-3", total_cents=2440.5)),
        ],
    )

    assert failed_ids(run.response) == [run.message_ids[2]]
    assert run.passed_on == [screened("o-2"), redelivered]
    assert run.rejected == []
    assert stored(env) == {"o-1": STORED_O1, "o-2": {**STORED_O1, "order_id": "o-2"}}
    assert_one_log_line(run, "persist", passed=2, filtered=0, failed=1)
