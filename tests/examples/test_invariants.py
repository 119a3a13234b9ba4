"""Every invariant over every example stack, and proof that each invariant can fail."""

from __future__ import annotations

from typing import Any

import pytest

from examples import EXAMPLE_STACKS
from serverless_patterns.testing import invariants as inv


@pytest.mark.parametrize("check", inv.ALL_INVARIANTS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", list(EXAMPLE_STACKS))
def test_example_holds_invariant(
    name: str, check: inv.InvariantCheck, example_templates: dict[str, dict[str, Any]]
) -> None:
    assert check(example_templates[name]) == []


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def res(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


ARN = {"Fn::GetAtt": ["Queue", "Arn"]}
DLQ_ARN = {"Fn::GetAtt": ["Dlq", "Arn"]}
ENCRYPTED = {"SqsManagedSseEnabled": True}

VIOLATIONS = [
    (
        inv.consumed_queues_have_redrive,
        template(
            Queue=res("AWS::SQS::Queue", **ENCRYPTED),
            Esm=res("AWS::Lambda::EventSourceMapping", EventSourceArn=ARN),
        ),
        ["Queue is consumed by Esm but has no redrive policy"],
    ),
    (
        inv.stream_mappings_have_failure_destination_and_bounded_retries,
        template(
            Stream=res("AWS::Kinesis::Stream", StreamEncryption={"EncryptionType": "KMS"}),
            Esm=res(
                "AWS::Lambda::EventSourceMapping",
                EventSourceArn={"Fn::GetAtt": ["Stream", "Arn"]},
                MaximumRetryAttempts=-1,
            ),
        ),
        [
            "Esm reads a stream without an on-failure destination",
            "Esm retries a failing batch until the records expire",
        ],
    ),
    (
        inv.subscriptions_have_redrive,
        template(Sub=res("AWS::SNS::Subscription", Protocol="sqs")),
        ["Sub has no redrive policy (DLQ)"],
    ),
    (
        inv.async_functions_have_failure_destination,
        template(
            Fn=res("AWS::Lambda::Function"),
            Perm=res(
                "AWS::Lambda::Permission",
                Principal="sns.amazonaws.com",
                FunctionName={"Fn::GetAtt": ["Fn", "Arn"]},
            ),
        ),
        ["Fn is invoked asynchronously without an on-failure destination or DLQ"],
    ),
    (
        inv.data_stores_are_encrypted,
        template(
            Queue=res("AWS::SQS::Queue"),
            Topic=res("AWS::SNS::Topic"),
            Table=res("AWS::DynamoDB::Table"),
        ),
        [
            "Queue (AWS::SQS::Queue) is not encrypted at rest",
            "Topic (AWS::SNS::Topic) is not encrypted at rest",
            "Table (AWS::DynamoDB::Table) is not encrypted at rest",
        ],
    ),
    (
        inv.no_statement_grants_every_action,
        template(
            Policy=res(
                "AWS::IAM::Policy",
                PolicyDocument={
                    "Statement": [
                        {"Effect": "Allow", "Action": "sqs:*", "Resource": "x"},
                        {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": "x"},
                        {"Effect": "Deny", "Action": "sqs:*", "Resource": "x"},
                    ]
                },
            )
        ),
        ["Policy allows sqs:*", "Policy allows *"],
    ),
    (
        inv.dead_letter_queues_are_alarmed,
        template(
            Dlq=res("AWS::SQS::Queue", **ENCRYPTED),
            Queue=res(
                "AWS::SQS::Queue", RedrivePolicy={"deadLetterTargetArn": DLQ_ARN}, **ENCRYPTED
            ),
        ),
        ["Dlq receives failures but has no alarm"],
    ),
    (
        inv.dead_letter_queues_are_alarmed,
        template(
            Dlq=res("AWS::SQS::Queue", **ENCRYPTED),
            Rule=res(
                "AWS::Events::Rule",
                Targets=[{"Arn": "x", "Id": "t", "DeadLetterConfig": {"Arn": DLQ_ARN}}],
            ),
        ),
        ["Dlq receives failures but has no alarm"],
    ),
    (
        inv.state_machines_are_traced_and_log_every_event,
        template(
            Machine=res(
                "AWS::StepFunctions::StateMachine", LoggingConfiguration={"Level": "ERROR"}
            ),
            Pipe=res("AWS::Pipes::Pipe", LogConfiguration={"Level": "OFF"}),
        ),
        [
            "Machine has no X-Ray tracing",
            "Machine does not log every execution event",
            "Pipe does not log",
        ],
    ),
    (
        inv.alarms_notify_each_action_once,
        template(
            Alarm=res(
                "AWS::CloudWatch::Alarm",
                AlarmActions=[{"Ref": "Topic"}, {"Ref": "Topic"}],
                OKActions=[{"Ref": "Topic"}],
            )
        ),
        ["Alarm repeats an action in AlarmActions"],
    ),
    (
        inv.invoked_functions_have_health_alarms,
        template(
            Fn=res("AWS::Lambda::Function"),
            Esm=res("AWS::Lambda::EventSourceMapping", FunctionName={"Ref": "Fn"}),
            Errors=res(
                "AWS::CloudWatch::Alarm",
                Metrics=[
                    {
                        "Id": "errors",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Lambda",
                                "MetricName": "Errors",
                                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Fn"}}],
                            }
                        },
                    }
                ],
            ),
        ),
        ["Fn is invoked but no alarm watches its Throttles"],
    ),
    (
        inv.functions_are_traced_with_bounded_logs,
        template(Fn=res("AWS::Lambda::Function"), Logs=res("AWS::Logs::LogGroup")),
        [
            "Fn has no active X-Ray tracing",
            "Fn logs into a log group of unbounded retention",
            "Logs keeps logs forever",
        ],
    ),
]


@pytest.mark.parametrize(
    ("check", "bad_template", "expected"), VIOLATIONS, ids=lambda v: getattr(v, "__name__", "")
)
def test_invariant_reports_its_violation(
    check: inv.InvariantCheck, bad_template: dict[str, Any], expected: list[str]
) -> None:
    assert check(bad_template) == expected


def test_every_invariant_has_a_violation_case() -> None:
    assert {check for check, _, _ in VIOLATIONS} == set(inv.ALL_INVARIANTS)


def test_alarmed_dead_letter_queue_satisfies_the_alarm_invariant() -> None:
    ok = template(
        Dlq=res("AWS::SQS::Queue", **ENCRYPTED),
        Queue=res("AWS::SQS::Queue", RedrivePolicy={"deadLetterTargetArn": DLQ_ARN}, **ENCRYPTED),
        Alarm=res(
            "AWS::CloudWatch::Alarm",
            Dimensions=[{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Dlq", "QueueName"]}}],
        ),
    )
    assert inv.dead_letter_queues_are_alarmed(ok) == []


@pytest.mark.parametrize(
    ("check", "bad_template", "expected"), VIOLATIONS, ids=lambda v: getattr(v, "__name__", "")
)
def test_every_violation_starts_with_the_logical_id_at_fault(
    check: inv.InvariantCheck, bad_template: dict[str, Any], expected: list[str]
) -> None:
    """check_invariants names the resource at fault by the first word of the message."""
    for message in check(bad_template):
        assert message.split(" ", 1)[0] in bad_template["Resources"], message
