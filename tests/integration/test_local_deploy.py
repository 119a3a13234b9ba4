"""Deploy every example stack with the real CDK CLI into a local moto server, then check the
essential wiring with boto3.

The emulator is this module's own (a free port, a temporary state directory) and is stopped at
the end, pass or fail. Resource types that moto's CloudFormation does not implement are listed
in KNOWN_SKIPPED with what they are; a newly skipped type fails the test until it is reviewed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from examples import EXAMPLE_STACKS
from tests.integration.conftest import Deployed
from tools import deploy

pytestmark = pytest.mark.slow

#: Types moto's CloudFormation skips (it creates nothing for them), and what that means.
KNOWN_SKIPPED = {
    "AWS::CloudWatch::Alarm": "alarms exist only on AWS; their properties are asserted in tests",
    "AWS::SQS::QueuePolicy": "TLS-only queue policies are not enforced by the emulator",
    "AWS::SNS::TopicPolicy": "TLS-only topic policies are not enforced by the emulator",
    "AWS::SNS::Subscription": "subscriptions are not created by moto's CloudFormation",
    "AWS::S3::BucketPolicy": "bucket policies are not created by moto's CloudFormation",
    "AWS::Scheduler::Schedule": "schedules are not created by moto's CloudFormation",
    "AWS::Lambda::Alias": "aliases are not created by moto's CloudFormation",
    "AWS::ApiGateway::Stage": "stages are not created by moto's CloudFormation",
    "AWS::ApiGateway::Model": "request models are not created (no request validation)",
    "AWS::ApiGateway::RequestValidator": "request validators are not created",
    "AWS::Pipes::Pipe": "pipes are not created by moto's CloudFormation: locally, the state "
    "machine pipeline example is not started from its input queue",
    "AWS::Lambda::EventInvokeConfig": "async invoke configs (on-failure destinations) are not "
    "created by moto's CloudFormation",
    "AWS::ApiGateway::Account": "the account's API Gateway logging role is not set (moto's "
    "stages write no logs)",
}


def test_every_example_stack_is_deployed(deployed: Deployed) -> None:
    assert set(deployed.reports) == set(EXAMPLE_STACKS)
    assert {r.status for r in deployed.reports.values()} == {"CREATE_COMPLETE"}


def test_only_known_types_are_skipped_by_the_emulator(deployed: Deployed) -> None:
    skipped = {kind for report in deployed.reports.values() for kind in report.skipped}
    assert skipped - set(KNOWN_SKIPPED) == set()


def test_fidelity_report_names_created_and_skipped_resources(deployed: Deployed) -> None:
    report = deployed.reports["QueueWorkerExample"]
    assert report.created["AWS::CloudWatch::Alarm"] == 5
    assert report.created["AWS::CloudWatch::Dashboard"] == 1
    assert report.created["AWS::Lambda::Function"] == 1
    assert report.skipped["AWS::SQS::QueuePolicy"] == 2
    assert any("SKIPPED" in line and "AWS::SQS::QueuePolicy" in line for line in report.lines())


def test_alarms_and_the_dashboard_exist_in_the_emulator(deployed: Deployed) -> None:
    cloudwatch = deployed.client("cloudwatch")
    alarms = {
        alarm["AlarmArn"]: alarm
        for alarm in cloudwatch.describe_alarms(AlarmNamePrefix="QueueWorkerExample-")[
            "MetricAlarms"
        ]
    }
    assert len(alarms) == 5
    errors = next(a for a in alarms.values() if "ErrorsAlarm" in a["AlarmName"])
    assert errors["Metrics"][0]["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert all("First:" in a["AlarmDescription"] for a in alarms.values())
    name = deployed.physical_ids["QueueWorkerExample"]["Dashboard7A714131"]
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    markdown = [w["properties"].get("markdown") for w in body["widgets"]]
    assert "### QueueWorker `QueueWorkerExample/Orders`" in markdown
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert set(status["properties"]["alarms"]) == set(alarms)


# --- wiring checks, one per resource type -----------------------------------------------------


def _arn_of_queue(deployed: Deployed, url: str) -> str:
    attributes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


def _referenced(value: Any) -> str:
    ref = value.get("Ref") or value.get("Fn::GetAtt", [None])[0]
    assert ref, f"expected a reference, got {value!r}"
    return str(ref)


def check_function(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    config = deployed.client("lambda").get_function(FunctionName=physical)["Configuration"]
    assert config["Runtime"] == props["Runtime"]
    assert config["Handler"] == props["Handler"]
    # Not compared: deploy.KNOWN_PROPERTY_GAPS (Architectures, Layers, TracingConfig).
    assert config["Timeout"] == props.get("Timeout", 3)


def check_queue(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    attributes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=physical, AttributeNames=["All"]
    )["Attributes"]
    if "VisibilityTimeout" in props:
        assert int(attributes["VisibilityTimeout"]) == props["VisibilityTimeout"]
    if "MessageRetentionPeriod" in props:
        assert int(attributes["MessageRetentionPeriod"]) == props["MessageRetentionPeriod"]
    if "RedrivePolicy" in props:
        redrive = json.loads(attributes["RedrivePolicy"])
        dlq = deployed.physical_ids[stack][
            _referenced(props["RedrivePolicy"]["deadLetterTargetArn"])
        ]
        assert redrive["deadLetterTargetArn"] == _arn_of_queue(deployed, dlq)
        assert int(redrive["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]


def check_mapping(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    mapping = deployed.client("lambda").get_event_source_mapping(UUID=physical)
    assert mapping["BatchSize"] == props["BatchSize"]
    assert mapping.get("FunctionResponseTypes", []) == props.get("FunctionResponseTypes", [])
    function = deployed.physical_ids[stack][_referenced(props["FunctionName"])]
    assert mapping["FunctionArn"].endswith(f":function:{function}")
    source = deployed.physical_ids[stack][_referenced(props["EventSourceArn"])]
    if source.startswith("http"):  # an SQS queue's physical id is its URL
        source = _arn_of_queue(deployed, source)
    name = source.split(":")[-1].split("/")[-1]  # queue ARN, or a stream's name
    assert mapping["EventSourceArn"].split(":")[-1].split("/")[-1] == name
    if "DestinationConfig" in props:
        failure_queue = deployed.physical_ids[stack][
            _referenced(props["DestinationConfig"]["OnFailure"]["Destination"])
        ]
        assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == _arn_of_queue(
            deployed, failure_queue
        )
    for key in ("MaximumRetryAttempts", "BisectBatchOnFunctionError", "StartingPosition"):
        if key in props:
            assert mapping.get(key) == props[key], key


def check_table(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    table = deployed.client("dynamodb").describe_table(TableName=physical)["Table"]
    assert table["KeySchema"] == props["KeySchema"]


def check_topic(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    attributes = deployed.client("sns").get_topic_attributes(TopicArn=physical)["Attributes"]
    assert bool(attributes.get("KmsMasterKeyId")) == bool(props.get("KmsMasterKeyId"))


def check_log_group(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    groups = deployed.client("logs").describe_log_groups(logGroupNamePrefix=physical)["logGroups"]
    assert [g.get("retentionInDays") for g in groups if g["logGroupName"] == physical] == [
        props.get("RetentionInDays")
    ]


def check_role(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    role = deployed.client("iam").get_role(RoleName=physical)["Role"]
    assert (
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == (props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"])
    )


def check_stream(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    summary = deployed.client("kinesis").describe_stream_summary(StreamName=physical)
    # Not compared: deploy.KNOWN_PROPERTY_GAPS (StreamEncryption, StreamModeDetails).
    described = summary["StreamDescriptionSummary"]
    assert described["RetentionPeriodHours"] == props["RetentionPeriodHours"]


def check_state_machine(
    deployed: Deployed, stack: str, physical: str, props: dict[str, Any]
) -> None:
    machine = deployed.client("stepfunctions").describe_state_machine(stateMachineArn=physical)
    assert machine["status"] == "ACTIVE"


def check_rule(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    name = physical.split("|")[-1].split("/")[-1]
    rule = deployed.client("events").describe_rule(Name=name)
    assert rule["State"] == props.get("State", "ENABLED")


def check_rest_api(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    api = deployed.client("apigateway").get_rest_api(restApiId=physical)
    assert api["name"] == props.get("Name", api["name"])


def check_bucket(deployed: Deployed, stack: str, physical: str, props: dict[str, Any]) -> None:
    s3 = deployed.client("s3")
    s3.head_bucket(Bucket=physical)
    # Not compared: deploy.KNOWN_PROPERTY_GAPS (NotificationConfiguration).
    if "BucketEncryption" in props:
        rules = s3.get_bucket_encryption(Bucket=physical)["ServerSideEncryptionConfiguration"]
        expected = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert [
            r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules["Rules"]
        ] == [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in expected]


CHECKS: dict[str, Callable[[Deployed, str, str, dict[str, Any]], None]] = {
    "AWS::Lambda::Function": check_function,
    "AWS::SQS::Queue": check_queue,
    "AWS::Lambda::EventSourceMapping": check_mapping,
    "AWS::DynamoDB::Table": check_table,
    "AWS::SNS::Topic": check_topic,
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::IAM::Role": check_role,
    "AWS::Kinesis::Stream": check_stream,
    "AWS::StepFunctions::StateMachine": check_state_machine,
    "AWS::Events::Rule": check_rule,
    "AWS::ApiGateway::RestApi": check_rest_api,
    "AWS::S3::Bucket": check_bucket,
}


@pytest.mark.parametrize("stack", list(EXAMPLE_STACKS))
def test_resources_exist_with_their_wiring(deployed: Deployed, stack: str) -> None:
    """Every resource of a type in CHECKS, in the template that was deployed: created by the
    emulator, with the wiring its check compares (every failure is reported, not the first)."""
    checked, failures = 0, []
    for logical_id, resource in deployed.stacks[stack].resources.items():
        kind = resource["Type"]
        if kind not in CHECKS:
            continue
        checked += 1
        physical = deployed.physical_ids[stack].get(logical_id)
        if not physical:
            failures.append(f"{logical_id} ({kind}) was not created by the emulator")
            continue
        try:
            CHECKS[kind](deployed, stack, physical, resource.get("Properties", {}))
        except AssertionError as error:
            failures.append(f"{logical_id} ({kind}): {error}")
    assert checked, f"{stack} has no resource of a checked type"
    assert not failures, "\n".join(failures)


def test_failed_deploy_names_the_failing_resource(deployed: Deployed, tmp_path: Path) -> None:
    """A stack the emulator rejects: the error says which resource and why, no stack trace."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    # Synthesized here, deployed from its cloud assembly: the CLI runs no app of its own.
    app = cdk.App(outdir=str(tmp_path / "broken.out"))
    stack = cdk.Stack(app, "BrokenExample")
    lambda_.CfnFunction(
        stack,
        "CodeNowhere",
        runtime="python3.13",
        handler="a.b",
        role="arn:aws:iam::123456789012:role/none",
        code=lambda_.CfnFunction.CodeProperty(s3_bucket="no-such-bucket", s3_key="x.zip"),
    )
    broken = app.synth().directory
    with pytest.raises(deploy.DeployError) as failure:
        deploy.deploy_local(
            deployed.emulator,
            app=broken,
            assembly=tmp_path / "cdk.out",  # left empty: the diagnosis reads the app's folder
            bootstrap=False,
            quiet=True,
        )
    message = str(failure.value)
    assert "cdk deploy" in message
    assert "BrokenExample is CREATE_IN_PROGRESS" in message, message
    assert "not created: CodeNowhere (AWS::Lambda::Function)" in message, message
    assert "the emulator said: Error occurred while GetObject. S3 Error Code: NoSuchBucket" in (
        message
    ), message


def test_examples_destroy_cleanly_and_deploy_again(deployed: Deployed) -> None:
    """Last in this module: it deletes what the other tests look at.

    Objects in the examples' (versioned) buckets do not stop the destroy: they are emptied
    first; every stateful resource is deleted, so nothing is left behind; and the media bucket's
    name is new for each creation of its stack, so the same stack deploys again at once.
    """

    env = deployed.emulator.env()
    session = deploy._EndpointSession(
        boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=deploy.REGION,
        ),
        env["AWS_ENDPOINT_URL"],
    )
    s3 = deployed.client("s3")
    buckets = {
        physical
        for name in deployed.stacks
        for logical, physical in deployed.physical_ids[name].items()
        if deployed.stacks[name].resources[logical]["Type"] == "AWS::S3::Bucket"
    }
    assert len(buckets) >= 4
    for bucket in buckets:
        s3.put_object(Bucket=bucket, Key="uploads/IMG_0001.JPG", Body=b"\xff\xd8")
        s3.put_object(Bucket=bucket, Key="uploads/IMG_0001.JPG", Body=b"\xff\xd8\xff")
    names = list(reversed(EXAMPLE_STACKS))
    emptied = deploy.destroy(env, session, names, local=True, assembly=deployed.assembly)
    assert set(emptied) == buckets
    cloudformation = deployed.client("cloudformation")
    remaining = {
        stack["StackName"]
        for stack in cloudformation.list_stacks()["StackSummaries"]
        if stack["StackStatus"] != "DELETE_COMPLETE"
    }
    assert not remaining & set(names), remaining
    left = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    assert not left & buckets, left & buckets

    old_media = {b for b in buckets if b.startswith("sp-media-")}
    # The template that was deployed before, not a new synth (the name is made at deploy time).
    reports = deploy.deploy_local(
        deployed.emulator,
        app=str(deployed.assembly),
        assembly=deployed.assembly,
        bootstrap=False,
        quiet=True,
        stacks=["FanOutExample"],
    )
    assert [(r.stack_name, r.status) for r in reports] == [("FanOutExample", "CREATE_COMPLETE")]
    media = {b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("sp-media-")}
    assert len(media) == 1
    assert not media & old_media
