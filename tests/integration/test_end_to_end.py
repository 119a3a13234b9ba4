"""Every example running end to end on the local runtime: accepted, rejected and poison events
each end where the docs say, and faults (poison records, timeouts, crashes, a missing IAM
grant) behave as on AWS.

The scenarios are tools/demo.py's (``make demo`` prints the same table). Fault tests replace a
deployed function's code or policy for their duration and put it back, pass or fail. Their
sizes default to what keeps ``make test`` fast; ``E2E_ORDERS`` and ``E2E_CLICKS`` raise them
(the closing note's figures: 2,000 and 1,000).
"""

from __future__ import annotations

import io
import json
import os
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Deployed
from tools import demo

pytestmark = pytest.mark.slow

ORDERS = int(os.environ.get("E2E_ORDERS", "300"))
CLICKS = int(os.environ.get("E2E_CLICKS", "300"))


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", textwrap.dedent(source))
    return buffer.getvalue()


@contextmanager
def replaced_code(local: demo.Local, function: str, source: str, **config: Any) -> Iterator[None]:
    """``function`` runs ``source`` (as app.handler) for the block, then its deployed code
    (the CDK asset its template points at) and configuration again, pass or fail."""
    lambda_ = local.client("lambda")
    saved = lambda_.get_function_configuration(FunctionName=function)
    deployed_code = _asset_of(local, function)
    lambda_.update_function_code(FunctionName=function, ZipFile=_zip(source))
    if config:
        lambda_.update_function_configuration(FunctionName=function, **config)
    time.sleep(1.5)  # pollers already waiting on their source keep the code they started with
    try:
        yield
    finally:
        lambda_.update_function_code(FunctionName=function, **deployed_code)
        lambda_.update_function_configuration(
            FunctionName=function,
            Timeout=saved["Timeout"],
            Environment=saved.get("Environment", {"Variables": {}}),
        )


def _asset_of(local: demo.Local, function: str) -> dict[str, str]:
    cloudformation = local.client("cloudformation")
    for stack in cloudformation.describe_stacks()["Stacks"]:
        resources = local.resources(stack["StackName"])
        for logical_id, physical in resources.items():
            if physical == function:
                template = cloudformation.get_template(StackName=stack["StackName"])["TemplateBody"]
                template = template if isinstance(template, dict) else json.loads(template)
                code = template["Resources"][logical_id]["Properties"]["Code"]
                bucket = code["S3Bucket"]
                if isinstance(bucket, dict):  # the bootstrap bucket, as a Fn::Sub
                    bucket = bucket["Fn::Sub"].replace("${AWS::AccountId}", "123456789012")
                    bucket = bucket.replace("${AWS::Region}", "us-east-1")
                return {"S3Bucket": bucket, "S3Key": code["S3Key"]}
    raise LookupError(function)


# --- every example, as make demo runs it ---------------------------------------------------


def test_queue_worker_stores_orders_and_dead_letters_poison(local: demo.Local) -> None:
    counts = demo.queue_worker(local, good=ORDERS - ORDERS // 100, poison=ORDERS // 100)
    assert counts["processed"] + counts["dead_lettered"] == counts["sent"] == ORDERS
    assert counts["dead_lettered"] == ORDERS // 100
    assert counts["queued"] == 0


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(demo.fan_out, id="fan-out"),
        pytest.param(
            lambda local: demo.pipeline(local, "PipelineQueuesExample"), id="pipeline-queues"
        ),
        pytest.param(
            lambda local: demo.pipeline(local, "PipelineStateMachineExample"),
            id="pipeline-state-machine",
        ),
        pytest.param(demo.probe, id="probe"),
        pytest.param(demo.command_router, id="command-router"),
    ],
)
def test_events_end_where_the_readme_says(
    local: demo.Local, scenario: Callable[[demo.Local], list[demo.Row]]
) -> None:
    rows = scenario(local)
    wrong = [f"{r.event}: ended {r.ended}, expected {r.expected}" for r in rows if not r.ok]
    assert not wrong, "\n".join(wrong)


def test_clicks_are_counted_and_archived_malformed_ones_dropped(local: demo.Local) -> None:
    counts = demo.clicks(local, good=CLICKS, malformed=CLICKS // 100 or 1)
    assert counts["counted"] == CLICKS
    assert counts["archived"] == CLICKS


# --- faults ------------------------------------------------------------------------------------

POISON_CONSUMER = """
import base64, os
import boto3
s3 = boto3.client("s3")

def handler(event, context):
    failures = []
    for record in event["Records"]:
        data = base64.b64decode(record["kinesis"]["data"])
        sequence = record["kinesis"]["sequenceNumber"]
        if data.startswith(b"POISON"):
            failures.append({"itemIdentifier": sequence})
            continue
        key = f"clicks/fault/{data.decode()}"
        s3.put_object(Bucket=os.environ["BUCKET_NAME"], Key=key, Body=b"")
    return {"batchItemFailures": failures}
"""


def test_kinesis_poison_records_reach_the_on_failure_destination_and_nothing_else(
    local: demo.Local,
) -> None:
    """Bisect on error, bounded retries and partial batch responses isolate each poison record:
    every good record is processed, exactly the poison records are reported on failure."""
    archiver = local.physical("KinesisExample", "ArchiverFunction")
    bucket = local.physical("KinesisExample", "ArchiveBucket")
    failures = local.physical("KinesisExample", "ClicksArchiveFailureQueue")
    stream = local.outputs("KinesisExample")["StreamName"]
    run = uuid.uuid4().hex[:6]
    poison = max(1, CLICKS // 100)
    with replaced_code(local, archiver, POISON_CONSUMER):
        data = [f"{run}-{i}".encode() for i in range(CLICKS)] + [
            f"POISON-{run}-{i}".encode() for i in range(poison)
        ]
        data = data[::2] + data[1::2]
        sequences: dict[str, bytes] = {}
        kinesis = local.client("kinesis")
        for start in range(0, len(data), 500):
            chunk = data[start : start + 500]
            answer = kinesis.put_records(
                StreamName=stream, Records=[{"Data": d, "PartitionKey": "p"} for d in chunk]
            )
            sequences.update(
                {r["SequenceNumber"]: d for r, d in zip(answer["Records"], chunk, strict=True)}
            )

        def archived() -> int:
            listed = (
                local.client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket=bucket, Prefix=f"clicks/fault/{run}-")
            )
            return sum(len(page.get("Contents", [])) for page in listed)

        def reported() -> list[dict[str, Any]]:
            return [json.loads(m["Body"]) for m in local.messages(failures)]

        def poison_reported() -> set[bytes]:
            starts = [r["KinesisBatchInfo"]["startSequenceNumber"] for r in reported()]
            return {sequences[s] for s in starts if s in sequences}

        assert local.settle(
            until=lambda: archived() >= CLICKS and len(poison_reported()) >= poison, timeout=240
        )
    assert archived() == CLICKS
    reports = [r for r in reported() if r["KinesisBatchInfo"]["startSequenceNumber"] in sequences]
    assert all(r["KinesisBatchInfo"]["batchSize"] == 1 for r in reports)
    assert all(r["requestContext"]["condition"] == "RetryAttemptsExhausted" for r in reports)
    assert {sequences[r["KinesisBatchInfo"]["startSequenceNumber"]] for r in reports} == {
        f"POISON-{run}-{i}".encode() for i in range(poison)
    }


FLAKY_WORKER = """
import json, os, time
import boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        marker = order.get("marker")
        if marker and not os.path.exists(marker):  # faults once, then works
            open(marker, "w").close()
            if order["fault"] == "timeout":
                time.sleep(30)
            os._exit(3)
        table.put_item(Item={"order_id": order["order_id"], "message_id": record["messageId"]})
    return {"batchItemFailures": []}
"""


@pytest.mark.parametrize("fault", ["timeout", "crash"])
def test_a_handler_that_times_out_or_crashes_mid_batch_loses_nothing(
    local: demo.Local, fault: str, tmp_path: Path
) -> None:
    out = local.outputs("QueueWorkerExample")
    worker = local.physical("QueueWorkerExample", "OrdersWorkerFunction")
    run = uuid.uuid4().hex[:6]
    orders = [{"order_id": f"{run}-{i}"} for i in range(20)]
    orders[7].update(fault=fault, marker=str(tmp_path / "faulted"))
    with replaced_code(local, worker, FLAKY_WORKER, Timeout=3):
        sqs = local.client("sqs")
        for start in range(0, len(orders), 10):
            sqs.send_message_batch(
                QueueUrl=local.queue_url(out["QueueUrl"]),
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(o)}
                    for i, o in enumerate(orders[start : start + 10])
                ],
            )

        def stored() -> set[str]:
            return {
                str(i["order_id"])
                for i in local.items(out["TableName"])
                if str(i["order_id"]).startswith(run)
            }

        assert local.settle(until=lambda: len(stored()) == len(orders), timeout=120), (
            f"stored {len(stored())} of {len(orders)}"
        )
    assert (tmp_path / "faulted").exists()  # the fault did happen, and nothing was lost


def test_a_missing_grant_fails_as_on_aws(local: demo.Local, deployed: Deployed) -> None:
    """The worker's role loses dynamodb:PutItem: its orders end in the DLQ and the emulator's
    log shows the refused call; with the grant back, orders are stored again."""
    emulator_log = deployed.emulator.log
    iam = local.client("iam")
    function = local.client("lambda").get_function_configuration(
        FunctionName=local.physical("QueueWorkerExample", "OrdersWorkerFunction")
    )
    role = function["Role"].rsplit("/", 1)[-1]
    (name,) = [
        n for n in iam.list_role_policies(RoleName=role)["PolicyNames"] if "DefaultPolicy" in n
    ]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        kept = [a for a in actions if a != "dynamodb:PutItem"]
        if kept:
            statements.append({**statement, "Action": kept})
    reduced = {**document, "Statement": statements}
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(reduced))
    try:
        with local.retries_faster():  # every order fails now: received until dead-lettered
            counts = demo.queue_worker(local, good=3, poison=0)
        assert counts["processed"] == 0
        assert counts["dead_lettered"] == 3
        # The emulator refused the function's call (its log names the call refused).
        assert "refused dynamodb:PutItem" in emulator_log.read_text()
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert demo.queue_worker(local, good=3, poison=0)["processed"] == 3
