"""The synthesized order workflow, executed: the real definition with the real stage handlers.

The ``PipelineStateMachineExample`` template's state machine definition is taken as synthesized
(its tokens resolved to moto resources) and run by moto's Step Functions interpreter. Its Lambda
tasks invoke the real stage handlers (``lambda_src/pipeline_*/app.py``) in-process, so what is
checked is the whole orchestration as written: reading the pipe's SQS message, the payload each
task sends, the Choice on filtered items, the Catch into the dead-letter queue with the stage
name and error, and publishing accepted orders to the output topic.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.awslambda.models import LambdaFunction

from serverless_patterns import stage as stage_helper
from tests.handlers.support import (
    ACCOUNT,
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    create_table,
    drain,
    load_handler,
)

STACK = "PipelineStateMachineExample"
TABLE_NAME = "orders-state-machine-test"
#: Function logical id prefix in the example stack -> handler folder.
FUNCTIONS = {
    "ValidateFunction": "pipeline_validate",
    "EnrichFunction": "pipeline_enrich",
    "FraudScreenFunction": "pipeline_fraud_screen",
    "PersistFunction": "pipeline_persist",
}

ACCEPTED = {
    "order_id": "o-accepted",
    "customer_id": "c-1",
    "country": "DE",
    "items": [{"sku": "STICKER-003", "quantity": 6}, {"sku": "MUG-002", "quantity": 1}],
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
    "items": [{"sku": "GHOST-999", "quantity": 1}],
}
MALFORMED = {"order_id": "o-malformed", "customer_id": "c-4", "country": "Germany", "items": []}


@dataclass(frozen=True)
class Workflow:
    sfn: Any
    sqs: Any
    state_machine_arn: str
    dead_letter_url: str
    rejected_url: str
    accepted_url: str
    table: Any

    def run(self, order: dict[str, Any]) -> dict[str, Any]:
        """Start an execution with the pipe's event (a batch of one SQS message); wait for it."""
        pipe_event = [{"messageId": "m-1", "body": json.dumps(order), "attributes": {}}]
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=f"run-{uuid.uuid4()}",
            input=json.dumps(pipe_event),
        )["executionArn"]
        deadline = time.monotonic() + 30
        while True:
            execution = self.sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(execution)
            time.sleep(0.05)

    def bodies(self, url: str) -> list[Any]:
        return [json.loads(m["Body"]) for m in drain(self.sqs, url, with_attributes=False)]


def resolve(parts: list[Any], values: dict[str, str]) -> str:
    """The definition string with every ``Ref``/``Fn::GetAtt`` replaced by ``values``."""
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif "Ref" in part:
            text.append(values[part["Ref"]])
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            text.append(values[f"{logical_id}.{attribute}"])
    return "".join(text)


def invoke_in_process(handlers: dict[str, ModuleType]) -> Any:
    """Stand-in for moto's ``LambdaFunction.invoke``: run the stage handler, as Lambda would."""

    def invoke(
        function: LambdaFunction, body: str, request_headers: Any, response_headers: Any
    ) -> str:
        event = json.loads(body)
        try:
            result = handlers[function.function_name].handler(
                event, FakeLambdaContext(function.function_name)
            )
        except Exception as error:  # what Lambda reports for an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
        return json.dumps(result)

    return invoke


@pytest.fixture(scope="module")
def workflow(example_templates: dict[str, dict[str, Any]]) -> Iterator[Workflow]:
    from moto import mock_aws

    template = example_templates[STACK]
    resources = template["Resources"]
    (machine_id,) = [
        key for key, r in resources.items() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    parts = resources[machine_id]["Properties"]["DefinitionString"]["Fn::Join"][1]

    with (
        pytest.MonkeyPatch.context() as mp,
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
    ):
        for name, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_SERVICE_NAME": "orders-workflow-test",
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatternsTests",
            "TABLE_NAME": TABLE_NAME,
        }.items():
            mp.setenv(name, value)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        stage_helper._client.cache_clear()

        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="stage", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        values = {"AWS::Partition": "aws"}
        handlers: dict[str, ModuleType] = {}
        for logical_id, resource in resources.items():
            kind = resource["Type"]
            if kind == "AWS::SQS::Queue":
                url = sqs.create_queue(QueueName=logical_id)["QueueUrl"]
                values[logical_id] = url
            elif kind == "AWS::SNS::Topic":
                values[logical_id] = sns.create_topic(Name=logical_id)["TopicArn"]
            elif kind == "AWS::Lambda::Function":
                (prefix,) = [p for p in FUNCTIONS if logical_id.startswith(p)]
                lam.create_function(
                    FunctionName=logical_id,
                    Runtime="python3.12",
                    Role=role,
                    Handler="app.handler",
                    Code={"ZipFile": b"stand-in: the test runs the handler in-process"},
                )
                values[f"{logical_id}.Arn"] = (
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
                )
                handlers[logical_id] = load_handler(
                    LAMBDA_SRC / FUNCTIONS[prefix] / "app.py",
                    f"{FUNCTIONS[prefix]}_workflow_under_test",
                    monkeypatch=mp,
                )
        assert len(handlers) == 4
        mp.setattr(LambdaFunction, "invoke", invoke_in_process(handlers))

        accepted_url = sqs.create_queue(QueueName="accepted-observer")["QueueUrl"]
        accepted_arn = sqs.get_queue_attributes(QueueUrl=accepted_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        (topic_id,) = [
            k
            for k, r in resources.items()
            if r["Type"] == "AWS::SNS::Topic" and k.startswith("AcceptedOrdersTopic")
        ]
        sns.subscribe(
            TopicArn=values[topic_id],
            Protocol="sqs",
            Endpoint=accepted_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        queues = [k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
        (dlq_id,) = [k for k in queues if k.startswith("OrdersDeadLetterQueue")]
        (rejected_id,) = [k for k in queues if k.startswith("OrdersRejectedQueue")]

        machine = boto3.client("stepfunctions", region_name=REGION)
        arn = machine.create_state_machine(
            name="orders",
            definition=resolve(parts, values),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/workflow",
        )["stateMachineArn"]
        yield Workflow(
            sfn=machine,
            sqs=sqs,
            state_machine_arn=arn,
            dead_letter_url=values[dlq_id],
            rejected_url=values[rejected_id],
            accepted_url=accepted_url,
            table=create_table(TABLE_NAME, "order_id"),
        )
        stage_helper._client.cache_clear()


def test_an_accepted_order_is_stored_published_and_is_the_execution_output(
    workflow: Workflow,
) -> None:
    execution = workflow.run(ACCEPTED)

    assert execution["status"] == "SUCCEEDED"
    final = json.loads(execution["output"])
    assert final["order_id"] == "o-accepted"
    assert (final["subtotal_cents"], final["tax_cents"], final["total_cents"]) == (2050, 390, 2440)
    assert final["fraud_screen"] == "passed"
    assert workflow.bodies(workflow.accepted_url) == [final]
    stored = workflow.table.get_item(Key={"order_id": "o-accepted"})["Item"]
    assert stored["total_cents"] == 2440
    assert workflow.bodies(workflow.rejected_url) == []
    assert workflow.bodies(workflow.dead_letter_url) == []


def test_a_suspicious_order_goes_to_the_rejected_queue_with_its_stage_and_reason(
    workflow: Workflow,
) -> None:
    execution = workflow.run(SUSPICIOUS)

    assert execution["status"] == "SUCCEEDED"
    (rejected,) = workflow.bodies(workflow.rejected_url)
    assert rejected["stage"] == "fraud_screen"
    assert rejected["reason"] == "new customer order total 623520 cents is above 500000"
    assert rejected["item"]["order_id"] == "o-suspicious"
    assert rejected["item"]["total_cents"] == 623520
    assert workflow.bodies(workflow.accepted_url) == []
    assert "Item" not in workflow.table.get_item(Key={"order_id": "o-suspicious"})


def test_a_malformed_order_is_rejected_by_the_first_stage(workflow: Workflow) -> None:
    execution = workflow.run(MALFORMED)

    assert execution["status"] == "SUCCEEDED"
    (rejected,) = workflow.bodies(workflow.rejected_url)
    assert rejected["stage"] == "validate"
    assert rejected["reason"].startswith("invalid order: ")
    assert rejected["item"] == MALFORMED


def test_a_failing_order_goes_to_the_dead_letter_queue_with_its_stage_and_error(
    workflow: Workflow,
) -> None:
    execution = workflow.run(UNPRICEABLE)

    assert execution["status"] == "SUCCEEDED"  # handled: parked in the DLQ, which alarms
    (failed,) = workflow.bodies(workflow.dead_letter_url)
    assert failed["stage"] == "enrich"
    assert failed["item"] == {**UNPRICEABLE, "new_customer": False}
    assert failed["error"]["Error"] == "PricingError"
    assert "GHOST-999" in failed["error"]["Cause"]
    assert workflow.bodies(workflow.accepted_url) == []
    assert workflow.bodies(workflow.rejected_url) == []


def test_a_message_body_that_is_not_json_fails_the_execution(workflow: Workflow) -> None:
    arn = workflow.sfn.start_execution(
        stateMachineArn=workflow.state_machine_arn,
        name="not-json",
        input=json.dumps([{"messageId": "m-2", "body": "{not json", "attributes": {}}]),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (status := workflow.sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert status == "FAILED"  # the pipe retries it, then the input queue's DLQ keeps it
    assert workflow.bodies(workflow.dead_letter_url) == []
