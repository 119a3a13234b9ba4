"""CloudWatch alarms as CloudFormation creates them in the emulator (moto has the API only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from serverless_patterns.local import moto_patches

RATE = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "AlarmDescription": "error rate. First: the logs",
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 5,
        "TreatMissingData": "notBreaching",
        "Metrics": [
            {"Id": "expr_1", "Expression": "100 * errors / MAX([errors, invocations])"},
            {
                "Id": "errors",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
            },
        ],
    },
}
DEPTH = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "AlarmDescription": "dead letters. First: read one",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "orders-dlq"}],
        "Period": 60,
        "Statistic": "Maximum",
    },
}


@pytest.fixture
def aws() -> Iterator[Any]:
    moto_patches._cloudwatch_alarms()
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def deploy(aws: Any, **resources: Any) -> None:
    template = {
        "Resources": resources,
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Depth", "Arn"]}}},
    }
    aws.client("cloudformation").create_stack(StackName="Ops", TemplateBody=json.dumps(template))


def test_a_stacks_alarms_are_created_with_their_metrics(aws: Any) -> None:
    deploy(aws, Rate=RATE, Depth=DEPTH)
    alarms = {a["AlarmName"]: a for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert len(alarms) == 2
    rate = next(a for name, a in alarms.items() if "-Rate-" in name)
    assert rate["Metrics"][0]["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert rate["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "orders"}
    ]
    assert (rate["EvaluationPeriods"], rate["DatapointsToAlarm"], rate["Threshold"]) == (3, 2, 5)
    depth = next(a for name, a in alarms.items() if "-Depth-" in name)
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": "orders-dlq"}]


def test_get_att_arn_resolves_and_delete_removes_them(aws: Any) -> None:
    deploy(aws, Depth=DEPTH)
    cloudformation = aws.client("cloudformation")
    (output,) = cloudformation.describe_stacks(StackName="Ops")["Stacks"][0]["Outputs"]
    (alarm,) = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert output["OutputValue"] == alarm["AlarmArn"]
    cloudformation.delete_stack(StackName="Ops")
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
