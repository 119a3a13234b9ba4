"""``serverless-patterns redrive`` against moto: each kind of dead-lettered work goes back where
it failed, a dry run changes nothing, ``--max`` bounds a run, attributes and FIFO groups are
kept, and the bad situations (no credentials, no boto3, an unknown path) are one clear line.

The stacks are small templates of the shapes CDK synthesizes (``aws:cdk:path`` metadata,
``Fn::GetAtt`` references), created by moto's CloudFormation. moto runs no function code, so
Lambda is a recording fake: what it was asked is the assertion.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from serverless_patterns import cli, redrive
from serverless_patterns.redrive import _aws, _run, _sqs

STACK = "Shop"
ROLE_ARN = "arn:aws:iam::123456789012:role/consumer"

pytestmark = pytest.mark.filterwarnings(
    "ignore:Tried to parse .* not supported by moto:UserWarning"
)


# --- templates of the shapes CDK synthesizes ------------------------------------------------


def at(path: str, resource_type: str, **properties: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Type": resource_type,
        "Metadata": {"aws:cdk:path": f"{STACK}/{path}/Resource"},
    }
    if properties:
        body["Properties"] = properties
    return body


def arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def queue(path: str, *, dlq: str | None = None, fifo: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if fifo:  # a FIFO queue's name ends in .fifo (CloudFormation names it so; moto needs it)
        properties["QueueName"] = path.replace("/", "-") + ".fifo"
    if dlq:
        properties["RedrivePolicy"] = {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": 5}
    if fifo:
        properties["FifoQueue"] = True
    return at(path, "AWS::SQS::Queue", **properties)


ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    },
}


def function(path: str) -> dict[str, Any]:
    return at(
        path,
        "AWS::Lambda::Function",
        Runtime="python3.12",
        Handler="app.handler",
        Role=arn("Role"),
        Code={"ZipFile": "def handler(event, context):\n    return {}\n"},
    )


@dataclass
class Deployed:
    """A stack in moto: its physical ids by logical id, and clients."""

    ids: dict[str, str]

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name="us-east-1")

    def url(self, logical_id: str) -> str:
        return self.ids[logical_id]

    def arn(self, logical_id: str) -> str:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(logical_id), AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    def send(self, logical_id: str, body: Any, **options: Any) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.sqs.send_message(QueueUrl=self.url(logical_id), MessageBody=text, **options)

    def drain(self, logical_id: str) -> list[dict[str, Any]]:
        """Every message of the queue, consumed."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.url(logical_id),
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            if not messages:
                return found
            found += messages
            for message in messages:
                self.sqs.delete_message(
                    QueueUrl=self.url(logical_id), ReceiptHandle=message["ReceiptHandle"]
                )

    def depth(self, logical_id: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


def deploy(resources: dict[str, Any], name: str = STACK) -> Deployed:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    template = {"Resources": {"Role": ROLE, **resources}}
    template["Resources"]["CDKMetadata"] = {
        "Type": "AWS::CDK::Metadata",
        "Metadata": {"aws:cdk:path": f"{name}/CDKMetadata/Default"},
    }
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return Deployed(
        {
            s["LogicalResourceId"]: s["PhysicalResourceId"]
            for s in summaries
            if s.get("LogicalResourceId")
        }
    )


# --- Lambda, recorded -------------------------------------------------------------------------


@dataclass
class FakeLambda:
    """Lambda as the redrive sees it: invocations recorded, synchronous ones answered in turn
    (a dict: the function's response; an ``Exception``: the function raised it)."""

    answers: list[Any] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append({**request, "Payload": json.loads(request["Payload"])})
        if request.get("InvocationType") == "Event":
            return {"StatusCode": 202}
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            error = {"errorType": type(answer).__name__, "errorMessage": str(answer)}
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(error).encode()),
            }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803
        return {"FunctionName": FunctionName, "Role": ROLE_ARN}


@dataclass
class Result:
    status: int
    out: str
    err: str


def run(*args: str, **clients: Any) -> Result:
    out, err = io.StringIO(), io.StringIO()
    status = redrive.main(list(args), clients=clients, out=out, err=err)
    return Result(status, out.getvalue(), err.getvalue())


def redrive_construct(path: str, *options: str, **clients: Any) -> Result:
    return run("--stack", STACK, "--construct", path, *options, **clients)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Dummy credentials for moto, no endpoint, no configuration files of this machine."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(_run, "MOVE_POLL_SECONDS", 0.0)
    monkeypatch.setattr(_sqs, "RECEIVE_WAIT_SECONDS", 0)  # moto has every message at once
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


# --- SQS redrive policy: back to the source queue --------------------------------------------

WORKER = {
    "OrdersDeadLetterQueue1A2B3C4D": queue("Orders/DeadLetterQueue"),
    "OrdersQueue5E6F7A8B": queue("Orders/Queue", dlq="OrdersDeadLetterQueue1A2B3C4D"),
}
DLQ, SOURCE = "OrdersDeadLetterQueue1A2B3C4D", "OrdersQueue5E6F7A8B"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"


def test_dead_letters_move_back_to_their_source_queue_with_their_attributes() -> None:
    stack = deploy(WORKER)
    stack.send(
        DLQ,
        "order 1",
        MessageAttributes={
            "tenant": {"DataType": "String", "StringValue": "acme"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}},
    )
    stack.send(DLQ, "order 2")

    result = redrive_construct("Orders")

    assert result.status == 0, result.out + result.err
    moved = {m["Body"]: m for m in stack.drain(SOURCE)}
    assert set(moved) == {"order 1", "order 2"}
    assert moved["order 1"]["MessageAttributes"] == {
        "tenant": {"DataType": "String", "StringValue": "acme"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "count": {"DataType": "Number", "StringValue": "3"},
    }
    assert moved["order 1"]["Attributes"]["AWSTraceHeader"] == TRACE
    assert stack.depth(DLQ) == 0
    assert f"{STACK}/Orders/DeadLetterQueue: moved 2, replayed 0, failed 0, left 0" in result.out
    assert "Total (1 queue): moved 2, replayed 0, failed 0, left 0" in result.out


def test_without_message_move_tasks_the_messages_are_moved_one_by_one_and_it_says_so() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")

    result = redrive_construct("Orders")

    assert "StartMessageMoveTask not available here" in result.out
    assert "receive, send, delete instead" in result.out
    assert [m["Body"] for m in stack.drain(SOURCE)] == ["order 1"]


@dataclass
class MoveTaskSqs:
    """moto's SQS with the message move tasks it lacks: a task moves every message of the DLQ
    to its source queue and reports RUNNING once, then COMPLETED."""

    sqs: Any
    #: What StartMessageMoveTask raises instead of starting (a service that refuses).
    refusal: Exception | None = None
    #: How the task ends (FAILED: having moved nothing).
    ending: str = "COMPLETED"
    started: list[dict[str, Any]] = field(default_factory=list)
    received_from: list[str] = field(default_factory=list)
    _polls: int = 0
    _moved: int = 0
    _to_move: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def receive_message(self, **request: Any) -> Any:
        self.received_from.append(request["QueueUrl"])
        return self.sqs.receive_message(**request)

    def start_message_move_task(self, **request: Any) -> dict[str, str]:
        self.started.append(request)
        if self.refusal is not None:
            raise self.refusal
        url = self.sqs.get_queue_url(QueueName=request["SourceArn"].rsplit(":", 1)[-1])["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        self._to_move = int(attributes["ApproximateNumberOfMessages"])
        return {"TaskHandle": "task-1"}

    def list_message_move_tasks(self, **request: Any) -> dict[str, Any]:
        self._polls += 1
        source_arn = self.started[-1]["SourceArn"]
        url = self.sqs.get_queue_url(QueueName=source_arn.rsplit(":", 1)[-1])["QueueUrl"]
        if self._polls == 2 and self.ending == "COMPLETED":
            (target,) = self.sqs.list_dead_letter_source_queues(QueueUrl=url)["queueUrls"]
            while messages := self.sqs.receive_message(QueueUrl=url).get("Messages"):
                for message in messages:
                    self.sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self._moved += 1
        status = "RUNNING" if self._polls == 1 else self.ending
        task = {
            "Status": status,
            "FailureReason": "AccessDenied on the destination" if status == "FAILED" else None,
            "SourceArn": source_arn,
            "ApproximateNumberOfMessagesMoved": self._moved,
            "ApproximateNumberOfMessagesToMove": self._to_move,
        }
        return {"Results": [task]}


def test_where_sqs_has_message_move_tasks_one_task_moves_them_and_is_watched() -> None:
    stack = deploy(WORKER)
    for i in range(3):
        stack.send(DLQ, f"order {i}")
    sqs = MoveTaskSqs(stack.sqs)

    result = redrive_construct("Orders", sqs=sqs)

    assert result.status == 0, result.out
    assert sqs.started == [{"SourceArn": stack.arn(DLQ)}]  # back to each message's source
    assert stack.url(DLQ) not in sqs.received_from
    assert "StartMessageMoveTask started (task handle task-1)" in result.out
    assert "moved 3, replayed 0, failed 0, left 0" in result.out
    assert sorted(m["Body"] for m in stack.drain(SOURCE)) == ["order 0", "order 1", "order 2"]


def client_error(code: str, status: int = 400) -> Exception:
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": "no"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "StartMessageMoveTask")


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(client_error("UnsupportedOperation"), id="unsupported"),
        pytest.param(client_error("500", 500), id="emulator-500"),
    ],
)
def test_a_service_without_move_tasks_gets_the_messages_one_by_one(refusal: Exception) -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")

    result = redrive_construct("Orders", sqs=MoveTaskSqs(stack.sqs, refusal=refusal))

    assert result.status == 0, result.out
    assert "StartMessageMoveTask not available here" in result.out
    assert [m["Body"] for m in stack.drain(SOURCE)] == ["order 1"]


def test_a_move_task_refused_for_another_reason_is_a_failure_and_moves_nothing() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")
    sqs = MoveTaskSqs(stack.sqs, refusal=client_error("InvalidParameterValue"))

    result = redrive_construct("Orders", sqs=sqs)

    assert result.status == 1
    assert "StartMessageMoveTask failed: InvalidParameterValue: no" in result.out
    assert "moved 0, replayed 0, failed 1, left 1" in result.out
    assert stack.depth(SOURCE) == 0


def test_a_move_task_that_ends_failed_is_reported_with_its_reason() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")

    result = redrive_construct("Orders", sqs=MoveTaskSqs(stack.sqs, ending="FAILED"))

    assert result.status == 1
    assert "the move task ended FAILED: AccessDenied on the destination" in result.out
    assert "moved 0, replayed 0, failed 1, left 1" in result.out
    assert stack.depth(DLQ) == 1


def test_max_moves_at_most_n_messages_one_by_one() -> None:
    stack = deploy(WORKER)
    for i in range(5):
        stack.send(DLQ, f"order {i}")
    sqs = MoveTaskSqs(stack.sqs)

    result = redrive_construct("Orders", "--max", "2", sqs=sqs)

    assert result.status == 0
    assert sqs.started == []  # a move task cannot stop after N messages
    assert len(stack.drain(SOURCE)) == 2
    assert stack.depth(DLQ) == 3
    assert "moved 2, replayed 0, failed 0, left 3" in result.out
    assert "--max reached: 3 left for another run" in result.out


TWO_SOURCES = {
    **WORKER,
    "OrdersRetryQueue9C0D1E2F": queue("Orders/RetryQueue", dlq="OrdersDeadLetterQueue1A2B3C4D"),
}


@dataclass
class SourceStampingSqs:
    """SQS as AWS answers for a dead-lettered message: with the ARN of the queue it came from
    (``DeadLetterQueueSourceArn``, which moto does not set), here taken from the body."""

    sqs: Any
    sources: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def receive_message(self, **request: Any) -> Any:
        answer = self.sqs.receive_message(**request)
        for message in answer.get("Messages", []):
            origin = self.sources.get(message["Body"].split()[0])
            if origin:
                message.setdefault("Attributes", {})["DeadLetterQueueSourceArn"] = origin
        return answer


def test_a_dlq_of_two_queues_sends_each_message_back_to_the_queue_it_came_from() -> None:
    stack = deploy(TWO_SOURCES)
    stack.send(DLQ, "order 1")
    stack.send(DLQ, "retry 1")
    sources = {"order": stack.arn(SOURCE), "retry": stack.arn("OrdersRetryQueue9C0D1E2F")}

    result = redrive_construct("Orders", sqs=SourceStampingSqs(stack.sqs, sources))

    assert result.status == 0, result.out
    assert [m["Body"] for m in stack.drain(SOURCE)] == ["order 1"]
    assert [m["Body"] for m in stack.drain("OrdersRetryQueue9C0D1E2F")] == ["retry 1"]


def test_a_dlq_of_two_queues_keeps_a_message_that_does_not_say_where_it_came_from() -> None:
    stack = deploy(TWO_SOURCES)
    stack.send(DLQ, "order 1")

    result = redrive_construct("Orders")

    assert result.status == 1
    assert "it could come from 2 source queues and does not say which" in result.out
    assert stack.depth(DLQ) == 1


def test_max_counts_across_the_queues_of_the_path() -> None:
    stack = deploy(
        {
            **WORKER,
            "RefundsDeadLetterQueueAAAA1111": queue("Orders/Refunds/DeadLetterQueue"),
            "RefundsQueueBBBB2222": queue(
                "Orders/Refunds/Queue", dlq="RefundsDeadLetterQueueAAAA1111"
            ),
        }
    )
    for i in range(2):
        stack.send(DLQ, f"order {i}")
        stack.send("RefundsDeadLetterQueueAAAA1111", f"refund {i}")

    result = redrive_construct("Orders", "--max", "3")

    assert len(stack.drain(SOURCE)) + len(stack.drain("RefundsQueueBBBB2222")) == 3
    assert "Total (2 queues): moved 3, replayed 0, failed 0, left 1" in result.out


def test_fifo_dead_letters_keep_their_group_and_order_with_a_fresh_deduplication_id() -> None:
    stack = deploy(
        {
            "JobsDeadLetterQueueCCCC3333": queue("Jobs/DeadLetterQueue", fifo=True),
            "JobsQueueDDDD4444": queue("Jobs/Queue", dlq="JobsDeadLetterQueueCCCC3333", fifo=True),
        }
    )
    dlq, source = "JobsDeadLetterQueueCCCC3333", "JobsQueueDDDD4444"
    # The source queue saw deduplication id "1" a moment ago: resending with it would be dropped.
    stack.send(source, "first try", MessageGroupId="a", MessageDeduplicationId="1")
    stack.drain(source)
    for i, group in enumerate(["a", "a", "b", "a"], start=1):
        stack.send(dlq, f"job {i}", MessageGroupId=group, MessageDeduplicationId=str(i))

    result = redrive_construct("Jobs")

    assert result.status == 0, result.out
    moved = stack.drain(source)
    by_group: dict[str, list[str]] = {}
    for message in moved:
        by_group.setdefault(message["Attributes"]["MessageGroupId"], []).append(message["Body"])
    assert by_group == {"a": ["job 1", "job 2", "job 4"], "b": ["job 3"]}
    assert all(m["Attributes"]["MessageDeduplicationId"] not in "1234" for m in moved)


def test_a_dry_run_describes_and_changes_nothing() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")
    stack.send(DLQ, "order 2")

    result = redrive_construct("Orders", "--dry-run")

    assert result.status == 0
    assert f"{STACK}/Orders/DeadLetterQueue (queue): back to {STACK}/Orders/Queue" in result.out
    assert "(dry run): would move 2, would replay 0, would fail 0; in the queue 2" in result.out
    assert f"e.g. 'order 1' -> back to {STACK}/Orders/Queue" in result.out
    assert stack.depth(SOURCE) == 0
    # Peeked, not consumed: both visible again at once.
    assert sorted(m["Body"] for m in stack.drain(DLQ)) == ["order 1", "order 2"]


def test_progress_goes_to_stderr_and_the_summary_to_stdout() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order 1")

    result = redrive_construct("Orders")

    assert f"{STACK}/Orders/DeadLetterQueue [" in result.err
    assert "] 1/1" in result.err
    assert "moved 1" not in result.err
    assert "] 1/1" not in result.out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_bar_is_redrawn_in_place() -> None:
    terminal = Terminal()
    progress = _run.Progress("Shop/Orders/DeadLetterQueue", 4, terminal)
    progress.advance(1)
    progress.advance(3)
    progress.close()

    assert terminal.getvalue() == (
        "\rShop/Orders/DeadLetterQueue [..............................] 0/4"
        "\rShop/Orders/DeadLetterQueue [#######.......................] 1/4"
        "\rShop/Orders/DeadLetterQueue [##############################] 4/4\n"
    )


# --- Lambda asynchronous invocation records --------------------------------------------------

ASYNC = {
    "NotifyFunctionAAAA0001": function("NotifyFunction"),
    "NotifyFailureQueueAAAA0002": queue("Notify/FailureQueue"),
    "NotifyInvokeConfigAAAA0003": at(
        "Notify/InvokeConfig",
        "AWS::Lambda::EventInvokeConfig",
        FunctionName={"Ref": "NotifyFunctionAAAA0001"},
        Qualifier="$LATEST",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": arn("NotifyFailureQueueAAAA0002")}},
    ),
}
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:notify"


def async_record(payload: Any, function_arn: str = f"{FUNCTION_ARN}:$LATEST") -> dict[str, Any]:
    return {
        "version": "1.0",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "requestContext": {
            "requestId": "r-1",
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": "boom"},
    }


def test_async_failure_records_invoke_the_function_again_with_the_payload() -> None:
    stack = deploy(ASYNC)
    stack.send("NotifyFailureQueueAAAA0002", async_record({"user": "u-1"}))
    lambda_ = FakeLambda()

    result = redrive_construct("Notify", **{"lambda": lambda_})

    assert result.status == 0, result.out
    assert lambda_.calls == [
        {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": {"user": "u-1"}}
    ]
    assert stack.depth("NotifyFailureQueueAAAA0002") == 0
    assert "moved 0, replayed 1, failed 0, left 0" in result.out


def test_an_async_record_of_a_version_is_replayed_to_that_version() -> None:
    stack = deploy(ASYNC)
    stack.send("NotifyFailureQueueAAAA0002", async_record({}, f"{FUNCTION_ARN}:live"))
    lambda_ = FakeLambda()

    redrive_construct("Notify", **{"lambda": lambda_})

    assert lambda_.calls[0]["FunctionName"] == FUNCTION_ARN
    assert lambda_.calls[0]["Qualifier"] == "live"


def test_a_message_that_is_not_an_invocation_record_is_kept_and_the_run_fails() -> None:
    stack = deploy(ASYNC)
    stack.send("NotifyFailureQueueAAAA0002", "not a record")
    stack.send("NotifyFailureQueueAAAA0002", async_record({"user": "u-2"}))
    lambda_ = FakeLambda()

    result = redrive_construct("Notify", **{"lambda": lambda_})

    assert result.status == 1
    assert len(lambda_.calls) == 1
    assert "replayed 1, failed 1, left 1" in result.out
    assert "not an asynchronous invocation record" in result.out
    assert [m["Body"] for m in stack.drain("NotifyFailureQueueAAAA0002")] == ["not a record"]


def test_a_functions_own_dead_letter_queue_invokes_it_again_with_the_event() -> None:
    resources = {
        "AuditDlqEEEE0001": queue("Audit/DeadLetterQueue"),
        "AuditFunctionEEEE0002": function("Audit"),
    }
    resources["AuditFunctionEEEE0002"]["Properties"]["DeadLetterConfig"] = {
        "TargetArn": arn("AuditDlqEEEE0001")
    }
    stack = deploy(resources)
    stack.send("AuditDlqEEEE0001", {"detail": {"id": 7}})
    lambda_ = FakeLambda()

    result = redrive_construct("Audit", **{"lambda": lambda_})

    assert result.status == 0, result.out
    assert lambda_.calls[0]["FunctionName"] == stack.ids["AuditFunctionEEEE0002"]
    assert lambda_.calls[0]["Payload"] == {"detail": {"id": 7}}
    assert lambda_.calls[0]["InvocationType"] == "Event"


# --- Kinesis on-failure records ----------------------------------------------------------------


def kinesis_stack(**mapping: Any) -> Deployed:
    stack = deploy(
        {
            "ClicksStreamFFFF0001": at("Clicks/Stream", "AWS::Kinesis::Stream", ShardCount=1),
            "ArchiverFunctionFFFF0002": function("ArchiverFunction"),
            "ClicksArchiveFailureQueueFFFF0003": queue("Clicks/Archive/FailureQueue"),
            "ClicksArchiveMappingFFFF0004": at(
                "Clicks/Archive/EventSourceMapping",
                "AWS::Lambda::EventSourceMapping",
                FunctionName={"Ref": "ArchiverFunctionFFFF0002"},
                EventSourceArn=arn("ClicksStreamFFFF0001"),
                StartingPosition="TRIM_HORIZON",
                BatchSize=500,
                FunctionResponseTypes=["ReportBatchItemFailures"],
                DestinationConfig={
                    "OnFailure": {"Destination": arn("ClicksArchiveFailureQueueFFFF0003")}
                },
                **mapping,
            ),
        }
    )
    # moto would run the function for every record put (in Docker): the mapping is the
    # template's business here, not moto's.
    from moto.kinesis.models import kinesis_backends

    streams = kinesis_backends["123456789012"]["us-east-1"].streams
    streams[stack.ids["ClicksStreamFFFF0001"]].lambda_event_source_mappings.clear()
    return stack


FAILURES = "ClicksArchiveFailureQueueFFFF0003"


def put_clicks(stack: Deployed, count: int) -> tuple[str, list[str]]:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    name = stack.ids["ClicksStreamFFFF0001"]
    answer = kinesis.put_records(
        StreamName=name,
        Records=[
            {"Data": json.dumps({"page": f"/p{i}"}).encode(), "PartitionKey": f"k{i}"}
            for i in range(count)
        ],
    )
    stream_arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return stream_arn, [r["SequenceNumber"] for r in answer["Records"]]


def archiver_arn(stack: Deployed) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{stack.ids['ArchiverFunctionFFFF0002']}"


def on_failure_record(
    stack: Deployed,
    stream_arn: str,
    first: str,
    last: str,
    *,
    size: int,
    arrival: dt.datetime | None = None,
) -> dict[str, Any]:
    when = (arrival or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds")
    return {
        "requestContext": {
            "requestId": "r-2",
            "functionArn": archiver_arn(stack),
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": when,
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": first,
            "endSequenceNumber": last,
            "approximateArrivalOfFirstRecord": when.replace("+00:00", "Z"),
            "approximateArrivalOfLastRecord": when.replace("+00:00", "Z"),
            "batchSize": size,
            "streamArn": stream_arn,
        },
    }


def test_kinesis_failure_records_are_read_again_and_replayed_to_the_consumer() -> None:
    stack = kinesis_stack()
    stream_arn, sequences = put_clicks(stack, 5)
    stack.send(FAILURES, on_failure_record(stack, stream_arn, sequences[1], sequences[3], size=3))
    lambda_ = FakeLambda(answers=[{"batchItemFailures": []}])

    result = redrive_construct("Clicks", **{"lambda": lambda_})

    assert result.status == 0, result.out
    (call,) = lambda_.calls
    assert call["InvocationType"] == "RequestResponse"
    assert call["FunctionName"] == archiver_arn(stack)
    records = call["Payload"]["Records"]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == sequences[1:4]
    assert [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records] == [
        {"page": "/p1"},
        {"page": "/p2"},
        {"page": "/p3"},
    ]
    assert {r["eventSourceARN"] for r in records} == {stream_arn}
    assert {r["invokeIdentityArn"] for r in records} == {ROLE_ARN}
    assert records[0]["eventID"] == f"shardId-000000000000:{sequences[1]}"
    assert stack.depth(FAILURES) == 0
    assert "replayed 1, failed 0, left 0" in result.out


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            "partial", "the consumer reported 1 batch item failure(s)", id="batch-item-failure"
        ),
        pytest.param(RuntimeError("still broken"), "RuntimeError: still broken", id="error"),
    ],
)
def test_a_replay_the_consumer_fails_keeps_the_failure_record(answer: Any, reason: str) -> None:
    stack = kinesis_stack()
    stream_arn, sequences = put_clicks(stack, 2)
    stack.send(FAILURES, on_failure_record(stack, stream_arn, sequences[0], sequences[1], size=2))
    if answer == "partial":
        answer = {"batchItemFailures": [{"itemIdentifier": sequences[1]}]}
    lambda_ = FakeLambda(answers=[answer])

    result = redrive_construct("Clicks", **{"lambda": lambda_})

    assert result.status == 1
    assert reason in result.out
    assert "replayed 0, failed 1, left 1" in result.out
    assert stack.depth(FAILURES) == 1


def test_records_past_the_streams_retention_are_reported_and_the_record_kept() -> None:
    stack = kinesis_stack()
    stream_arn, sequences = put_clicks(stack, 1)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    stack.send(
        FAILURES,
        on_failure_record(stack, stream_arn, sequences[0], sequences[0], size=1, arrival=old),
    )
    lambda_ = FakeLambda()

    result = redrive_construct("Clicks", **{"lambda": lambda_})

    assert result.status == 1
    assert "past the stream's retention of 24 h" in result.out
    assert lambda_.calls == []
    assert stack.depth(FAILURES) == 1


def test_records_no_longer_in_the_stream_are_reported_and_the_record_kept() -> None:
    stack = kinesis_stack()
    stream_arn, sequences = put_clicks(stack, 2)
    trimmed = str(int(sequences[0]) - 1)  # before the oldest record the shard still has
    stack.send(FAILURES, on_failure_record(stack, stream_arn, trimmed, sequences[1], size=2))
    lambda_ = FakeLambda()

    result = redrive_construct("Clicks", **{"lambda": lambda_})

    assert result.status == 1
    assert f"record {trimmed} is no longer in" in result.out
    assert lambda_.calls == []
    assert stack.depth(FAILURES) == 1


def test_a_tumbling_window_consumer_gets_the_records_in_a_window_of_their_own() -> None:
    stack = kinesis_stack(TumblingWindowInSeconds=60)
    stream_arn, sequences = put_clicks(stack, 2)
    stack.send(FAILURES, on_failure_record(stack, stream_arn, sequences[0], sequences[1], size=2))
    lambda_ = FakeLambda(answers=[{"state": {"/p0": 1, "/p1": 1}, "batchItemFailures": []}, {}])
    before = dt.datetime.now(dt.UTC)

    result = redrive_construct("Clicks", **{"lambda": lambda_})

    assert result.status == 0, result.out
    first, final = (call["Payload"] for call in lambda_.calls)
    assert len(first["Records"]) == 2
    assert first["isFinalInvokeForWindow"] is False
    assert first["state"] == {}
    start = dt.datetime.fromisoformat(first["window"]["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(first["window"]["end"].replace("Z", "+00:00"))
    assert start >= before - dt.timedelta(seconds=1)  # not the window the records arrived in
    assert end - start == dt.timedelta(seconds=60)
    assert final["Records"] == []
    assert final["isFinalInvokeForWindow"] is True
    assert final["state"] == {"/p0": 1, "/p1": 1}
    assert final["window"] == first["window"]


# --- FilterPipeline's dead-letter queue ---------------------------------------------------------


def pipeline_definition(dlq: str, rejected: str) -> dict[str, Any]:
    """A state machine definition as CDK renders it: a Fn::Join around the queue URLs."""
    return {
        "Fn::Join": [
            "",
            [
                '{"StartAt":"validate","States":{"validate":{"Type":"Task","Resource":"arn:',
                {"Ref": "AWS::Partition"},
                ':states:::lambda:invoke","Catch":[{"ErrorEquals":["States.ALL"],'
                '"ResultPath":"$.error","Next":"validate failed"}],"Next":"validate filtered?"},'
                '"validate filtered?":{"Type":"Choice","Choices":[{"Variable":"$.outcome",'
                '"StringEquals":"filtered","Next":"validate rejected"}],"Default":"Done"},'
                '"validate failed":{"Type":"Task","ResultPath":null,"Resource":"arn:',
                {"Ref": "AWS::Partition"},
                ':states:::sqs:sendMessage","Parameters":{"QueueUrl":"',
                {"Ref": dlq},
                '","MessageBody":{"stage":"validate","item.$":"$.item","error.$":"$.error"}},'
                '"Next":"Done"},"validate rejected":{"Type":"Task","ResultPath":null,'
                '"Resource":"arn:',
                {"Ref": "AWS::Partition"},
                ':states:::sqs:sendMessage","Parameters":{"QueueUrl":"',
                {"Ref": rejected},
                '","MessageBody":{"stage":"validate","reason.$":"$.reason","item.$":"$.item"}},'
                '"Next":"Done"},"Done":{"Type":"Succeed"}}}',
            ],
        ]
    }


def pipeline_stack(*, with_input_queue: bool) -> Deployed:
    resources: dict[str, Any] = {
        "OrdersRejectedQueue11110001": queue("Orders/RejectedQueue"),
        "OrdersDeadLetterQueue11110002": queue("Orders/DeadLetterQueue"),
        "OrdersStateMachine11110003": at(
            "Orders/StateMachine",
            "AWS::StepFunctions::StateMachine",
            RoleArn=arn("Role"),
            DefinitionString=pipeline_definition(
                "OrdersDeadLetterQueue11110002", "OrdersRejectedQueue11110001"
            ),
        ),
    }
    if with_input_queue:
        resources |= {
            "OrdersInputDeadLetterQueue11110004": queue("Orders/Input/DeadLetterQueue"),
            "OrdersInputQueue11110005": queue(
                "Orders/Input/Queue", dlq="OrdersInputDeadLetterQueue11110004"
            ),
            "OrdersPipe11110006": at(
                "Orders/Pipe",
                "AWS::Pipes::Pipe",
                RoleArn=arn("Role"),
                Source=arn("OrdersInputQueue11110005"),
                Target={"Ref": "OrdersStateMachine11110003"},
            ),
        }
    return deploy(resources)


PIPELINE_DLQ = "OrdersDeadLetterQueue11110002"
DEAD_ITEM = {
    "stage": "persist",
    "item": {"order_id": "o-1", "total_cents": 2023},
    "error": {"Error": "ResourceNotFoundException", "Cause": "..."},
}


def test_a_pipeline_dead_letter_puts_its_item_back_on_the_input_queue() -> None:
    stack = pipeline_stack(with_input_queue=True)
    stack.send(PIPELINE_DLQ, DEAD_ITEM)

    result = redrive_construct("Orders")

    assert result.status == 0, result.out
    assert [json.loads(m["Body"]) for m in stack.drain("OrdersInputQueue11110005")] == [
        {"order_id": "o-1", "total_cents": 2023}
    ]
    assert stack.depth(PIPELINE_DLQ) == 0
    assert (
        f"{STACK}/Orders/DeadLetterQueue (pipeline): item onto {STACK}/Orders/Input/Queue"
        in result.out
    )
    # Its input queue's own DLQ is redriven too; the rejected queue is not a dead-letter queue.
    assert f"{STACK}/Orders/Input/DeadLetterQueue (queue)" in result.out
    assert "RejectedQueue" not in result.out


def test_a_pipeline_without_an_input_queue_gets_a_new_execution_with_the_item() -> None:
    stack = pipeline_stack(with_input_queue=False)
    stack.send(PIPELINE_DLQ, DEAD_ITEM)

    result = redrive_construct("Orders")

    assert result.status == 0, result.out
    states = boto3.client("stepfunctions", region_name="us-east-1")
    machine = stack.ids["OrdersStateMachine11110003"]
    (execution,) = states.list_executions(stateMachineArn=machine)["executions"]
    described = states.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"item": {"order_id": "o-1", "total_cents": 2023}}


def test_the_rejected_queue_is_not_a_dead_letter_queue() -> None:
    pipeline_stack(with_input_queue=True)

    result = redrive_construct("Orders/RejectedQueue")

    assert result.status == 2
    assert result.err.strip() == (
        f"serverless-patterns redrive: {STACK} has nothing under 'Orders/RejectedQueue' that is "
        "a dead-letter or failure queue. Construct paths with one: Orders/DeadLetterQueue, "
        "Orders/Input/DeadLetterQueue"
    )


# --- SNS subscription DLQs ----------------------------------------------------------------------


def subscription_stack(protocol: str, *, raw: bool = False) -> Deployed:
    endpoint = {
        "sqs": arn("UploadsMetadataQueue22220003"),
        "lambda": arn("AuditFunction22220004"),
        "email": "ops@example.com",
    }[protocol]
    properties: dict[str, Any] = {
        "TopicArn": {"Ref": "UploadsTopic22220001"},
        "Protocol": protocol,
        "Endpoint": endpoint,
        "RedrivePolicy": {"deadLetterTargetArn": arn("UploadsSubscriptionDlq22220002")},
    }
    if raw:
        properties["RawMessageDelivery"] = "true"
    return deploy(
        {
            "UploadsTopic22220001": at("Uploads/Topic", "AWS::SNS::Topic"),
            "UploadsSubscriptionDlq22220002": queue("Uploads/Metadata/SubscriptionDeadLetterQueue"),
            "UploadsMetadataQueue22220003": queue("Uploads/Metadata/Queue"),
            "AuditFunction22220004": function("AuditFunction"),
            "UploadsSubscription22220005": at(
                "Uploads/Metadata/Subscription", "AWS::SNS::Subscription", **properties
            ),
        }
    )


def envelope(topic_arn: str) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": topic_arn,
        "Message": '{"key": "uploads/cat.png"}',
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {"kind": {"Type": "String", "Value": "image"}},
    }


SUBSCRIPTION_DLQ = "UploadsSubscriptionDlq22220002"


def test_a_subscription_dlq_sends_the_notification_to_its_sqs_subscriber() -> None:
    stack = subscription_stack("sqs")
    topic = stack.ids["UploadsTopic22220001"]
    stack.send(SUBSCRIPTION_DLQ, envelope(topic))

    result = redrive_construct("Uploads/Metadata")

    assert result.status == 0, result.out
    (delivered,) = stack.drain("UploadsMetadataQueue22220003")
    assert json.loads(delivered["Body"]) == envelope(topic)
    assert "moved 1, replayed 0, failed 0, left 0" in result.out


def test_a_raw_delivery_subscriber_gets_the_raw_message_with_its_attributes() -> None:
    stack = subscription_stack("sqs", raw=True)
    stack.send(SUBSCRIPTION_DLQ, envelope(stack.ids["UploadsTopic22220001"]))

    redrive_construct("Uploads/Metadata")

    (delivered,) = stack.drain("UploadsMetadataQueue22220003")
    assert delivered["Body"] == '{"key": "uploads/cat.png"}'
    assert delivered["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "image"}
    }


def test_a_subscription_dlq_invokes_its_lambda_subscriber_with_the_sns_event() -> None:
    stack = subscription_stack("lambda")
    topic = stack.ids["UploadsTopic22220001"]
    kept = envelope(topic)  # as the local runtime keeps it: Lambda's spelling of the URLs
    kept["SigningCertUrl"] = kept.pop("SigningCertURL")
    kept["UnsubscribeUrl"] = kept.pop("UnsubscribeURL")
    stack.send(SUBSCRIPTION_DLQ, kept)
    lambda_ = FakeLambda()

    result = redrive_construct("Uploads", **{"lambda": lambda_})

    assert result.status == 0, result.out
    (call,) = lambda_.calls
    assert call["InvocationType"] == "Event"
    assert call["FunctionName"] == stack.ids["AuditFunction22220004"]
    (record,) = call["Payload"]["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == '{"key": "uploads/cat.png"}'
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "image"}}
    assert record["Sns"]["SigningCertUrl"] == "https://sns.us-east-1.amazonaws.com/cert.pem"


def test_a_subscription_dlq_of_an_email_subscriber_is_refused_with_the_reason() -> None:
    stack = subscription_stack("email")
    stack.send(SUBSCRIPTION_DLQ, envelope(stack.ids["UploadsTopic22220001"]))

    result = redrive_construct("Uploads")

    assert result.status == 1
    assert (
        "refused: its subscriber is an email endpoint, which only SNS can deliver to" in result.out
    )
    assert stack.depth(SUBSCRIPTION_DLQ) == 1


# --- paths, stacks and URLs --------------------------------------------------------------------


def test_every_dead_letter_queue_under_the_path_gets_its_own_summary_line() -> None:
    stack = deploy(
        {
            **WORKER,
            "RefundsDeadLetterQueueAAAA1111": queue("Orders/Refunds/DeadLetterQueue"),
            "RefundsQueueBBBB2222": queue(
                "Orders/Refunds/Queue", dlq="RefundsDeadLetterQueueAAAA1111"
            ),
        }
    )
    stack.send(DLQ, "order")

    result = redrive_construct("Orders")

    assert f"{STACK}/Orders/DeadLetterQueue: moved 1, replayed 0, failed 0, left 0" in result.out
    assert f"{STACK}/Orders/Refunds/DeadLetterQueue: empty, nothing to do" in result.out
    assert "Total (2 queues): moved 1, replayed 0, failed 0, left 0" in result.out


def test_the_construct_path_may_carry_the_stack_name() -> None:
    stack = deploy(WORKER)
    stack.send(DLQ, "order")

    result = redrive_construct(f"{STACK}/Orders")

    assert result.status == 0
    assert [m["Body"] for m in stack.drain(SOURCE)] == ["order"]


def test_an_unknown_construct_path_is_refused_naming_the_paths_that_have_one() -> None:
    deploy(WORKER)

    result = redrive_construct("Shipments")

    assert result.status == 2
    assert result.err.strip() == (
        f"serverless-patterns redrive: {STACK} has no construct at 'Shipments'. Construct paths "
        "with one: Orders/DeadLetterQueue"
    )


def test_a_path_without_dead_letter_queues_is_refused_naming_the_paths_that_have_one() -> None:
    deploy({**WORKER, "NotifyFunctionAAAA0001": function("NotifyFunction")})

    result = redrive_construct("NotifyFunction")

    assert result.status == 2
    assert "nothing under 'NotifyFunction' that is a dead-letter or failure queue" in result.err
    assert result.err.strip().endswith("Construct paths with one: Orders/DeadLetterQueue")


def test_without_path_metadata_paths_are_matched_against_logical_ids() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    bare = {
        logical_id: {
            "Type": body["Type"],
            **({"Properties": body["Properties"]} if "Properties" in body else {}),
        }
        for logical_id, body in WORKER.items()
    }
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps({"Resources": bare}))
    stack = Deployed(
        {
            s["LogicalResourceId"]: s["PhysicalResourceId"]
            for s in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        }
    )
    stack.send(DLQ, "order")

    result = redrive_construct("Orders")

    assert result.status == 0, result.out + result.err
    assert "has no aws:cdk:path metadata" in result.err
    assert f"{STACK}/{DLQ}: moved 1, replayed 0, failed 0, left 0" in result.out


def test_a_schedules_dead_letter_queue_is_refused_with_the_reason() -> None:
    stack = deploy(
        {
            "ProbeFunction33330001": function("ProbeFunction"),
            "ProbeScheduleDlq33330002": queue("Probe/ScheduleDeadLetterQueue"),
            "ProbeSchedule33330003": at(
                "Probe/Schedule",
                "AWS::Scheduler::Schedule",
                ScheduleExpression="rate(5 minutes)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": arn("ProbeFunction33330001"),
                    "RoleArn": arn("Role"),
                    "DeadLetterConfig": {"Arn": arn("ProbeScheduleDlq33330002")},
                },
            ),
        }
    )
    stack.send("ProbeScheduleDlq33330002", "{}")

    result = redrive_construct("Probe")

    assert result.status == 1
    assert "(schedule): refused: invocations a Scheduler schedule could not deliver" in result.out
    assert stack.depth("ProbeScheduleDlq33330002") == 1


def test_an_unknown_stack_is_refused() -> None:
    result = redrive_construct("Orders")

    assert result.status == 2
    assert (
        result.err.strip()
        == f"serverless-patterns redrive: no stack named '{STACK}' at AWS (us-east-1)"
    )


def test_a_dlq_url_of_no_queue_is_a_one_line_error() -> None:
    result = run("--dlq-url", "https://sqs.us-east-1.amazonaws.com/123456789012/nowhere")

    assert result.status == 2
    assert result.err.startswith("serverless-patterns redrive: AWS (us-east-1): An error occurred")
    assert "NonExistentQueue" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_dlq_url_with_a_target_url_moves_its_messages_there() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="orphans")["QueueUrl"]
    target = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="lost")

    result = run("--dlq-url", dlq, "--target-url", target)

    assert result.status == 0, result.out
    assert sqs.receive_message(QueueUrl=target)["Messages"][0]["Body"] == "lost"


def test_a_dlq_url_of_a_stacks_queue_is_redriven_as_in_its_stack() -> None:
    stack = deploy(ASYNC)
    stack.send("NotifyFailureQueueAAAA0002", async_record({"user": "u-3"}))
    lambda_ = FakeLambda()

    result = run("--dlq-url", stack.url("NotifyFailureQueueAAAA0002"), **{"lambda": lambda_})

    assert result.status == 0, result.out
    assert f"{STACK}/Notify/FailureQueue (lambda-async)" in result.out
    assert lambda_.calls[0]["Payload"] == {"user": "u-3"}


def test_a_dlq_url_outside_any_stack_goes_back_to_its_redrive_source() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="plain-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName="plain",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="again")

    result = run("--dlq-url", dlq)

    assert result.status == 0, result.out
    assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "again"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "give --stack and --construct (or --dlq-url)", id="nothing"),
        pytest.param(["--stack", STACK], "give --stack and --construct", id="stack-only"),
        pytest.param(
            ["--stack", STACK, "--construct", "A", "--dlq-url", "u"],
            "give either --stack and --construct, or --dlq-url",
            id="both",
        ),
        pytest.param(
            ["--stack", STACK, "--construct", "A", "--target-url", "u"],
            "--target-url goes with --dlq-url",
            id="target-without-dlq",
        ),
        pytest.param(
            ["--stack", STACK, "--construct", "A", "--max", "0"],
            "--max must be at least 1, got 0",
            id="max-zero",
        ),
    ],
)
def test_wrong_arguments_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = redrive.main(args)

    assert status == 2
    assert message in capsys.readouterr().err


# --- credentials and boto3 ---------------------------------------------------------------------


def test_without_credentials_or_an_endpoint_it_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    status = cli.main(["redrive", "--stack", STACK, "--construct", "Orders"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == _aws.NO_CREDENTIALS + "\n"
    assert "--endpoint-url http://localhost:5000 (use localhost, not 127.0.0.1)" in captured.err
    assert captured.out == ""


def test_with_an_endpoint_and_no_credentials_dummy_ones_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    aws = _aws.connect(endpoint_url="http://localhost:5000", region=None)

    credentials = aws.session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("testing", "testing")
    assert aws.region == "us-east-1"
    assert aws.endpoint_url == "http://localhost:5000"


def test_aws_endpoint_url_counts_as_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")

    aws = _aws.connect(endpoint_url=None, region=None)

    assert aws.endpoint_url == "http://localhost:4566"
    assert aws.session.get_credentials().access_key == "testing"


def test_without_boto3_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 raises ImportError

    status = cli.main(["redrive", "--stack", STACK, "--construct", "Orders"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == (
        "serverless-patterns redrive needs boto3: pip install 'serverless-patterns[ops]'\n"
    )


def test_the_console_script_without_a_command_shows_its_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = cli.main([])

    assert status == 2
    assert "redrive" in capsys.readouterr().err
