"""CloudWatch alarms as CloudFormation creates them in the emulator (moto has the API only).

The patch registers a CloudFormation model for good, as the emulator's process does: each
scenario runs in a Python process of its own, so other tests' moto keeps its own behaviour.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from tests.support import REPO_ROOT

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

SCENARIO = textwrap.dedent(
    """
    import json, sys
    import boto3
    from moto import mock_aws
    from serverless_patterns.local import moto_patches

    moto_patches._cloudwatch_alarms()
    template = json.loads(sys.stdin.read())
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(StackName="Ops", TemplateBody=json.dumps(template))
        stack = cloudformation.describe_stacks(StackName="Ops")["Stacks"][0]
        alarms = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
        cloudformation.delete_stack(StackName="Ops")
        after = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    print(json.dumps({"outputs": stack.get("Outputs", []), "alarms": alarms, "after": after},
                     default=str))
    """
)


def deploy(**resources: Any) -> dict[str, Any]:
    template = {
        "Resources": resources,
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Depth", "Arn"]}}},
    }
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        input=json.dumps(template),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_a_stacks_alarms_are_created_with_their_metrics() -> None:
    alarms = {a["AlarmName"]: a for a in deploy(Rate=RATE, Depth=DEPTH)["alarms"]}
    assert len(alarms) == 2
    rate = next(a for name, a in alarms.items() if "-Rate-" in name)
    assert rate["Metrics"][0]["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert rate["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "orders"}
    ]
    assert (rate["EvaluationPeriods"], rate["DatapointsToAlarm"], rate["Threshold"]) == (3, 2, 5)
    depth = next(a for name, a in alarms.items() if "-Depth-" in name)
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": "orders-dlq"}]


def test_get_att_arn_resolves_and_delete_removes_them() -> None:
    found = deploy(Depth=DEPTH)
    (output,) = found["outputs"]
    (alarm,) = found["alarms"]
    assert output["OutputValue"] == alarm["AlarmArn"]
    assert found["after"] == []
