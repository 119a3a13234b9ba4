"""KinesisBatchConsumer: every default, every option and every bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from serverless_patterns import INFINITE, KinesisBatchConsumer, ServerlessFunction
from tests.support import alarm_ids, health

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
PATH = "KinesisBatchConsumer at 'TestStack/Clicks'"


def function(stack: cdk.Stack, id: str = "Aggregator") -> ServerlessFunction:
    return ServerlessFunction(stack, id, code=INLINE)


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def arn(stack: cdk.Stack, construct: Any) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def error(message: str) -> str:
    return "^" + re.escape(f"{PATH}: {message}") + "$"


# --- defaults --------------------------------------------------------------------------------


def test_stream_is_on_demand_kms_encrypted_and_keeps_a_day(stack: cdk.Stack) -> None:
    KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": 24,
            "ShardCount": Match.absent(),
        },
    )


def test_mapping_bounds_failure_and_reports_partial_batches(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": arn(stack, clicks.stream),
            "BatchSize": 100,
            "StartingPosition": "TRIM_HORIZON",
            "ParallelizationFactor": 1,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {
                "OnFailure": {"Destination": arn(stack, clicks.failure_destination)}
            },
            "TumblingWindowInSeconds": Match.absent(),
            "MaximumBatchingWindowInSeconds": Match.absent(),
        },
    )


def test_failure_destination_is_encrypted_and_tls_only(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [ref(stack, clicks.failure_destination)],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            },
        },
    )


def test_function_may_read_the_stream_and_send_to_its_failure_queue(stack: cdk.Stack) -> None:
    handler = function(stack)
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=handler)
    statements = Template.from_stack(stack).find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [ref(stack, handler.role)]}}
    )
    granted = [
        (s["Action"], s["Resource"])
        for policy in statements.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert (
        ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        arn(stack, clicks.failure_destination),
    ) in granted
    read = [actions for actions, resource in granted if resource == arn(stack, clicks.stream)]
    assert read
    assert "kinesis:GetRecords" in read[0]
    assert all(not str(action).endswith(":*") for actions, _ in granted for action in actions)


def test_alarms_iterator_age_failure_destination_and_throughput(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "IteratorAge", "Namespace": "AWS/Lambda", "Threshold": 300000},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {
                        "Fn::GetAtt": [
                            stack.get_logical_id(clicks.failure_destination.node.default_child),  # type: ignore[arg-type]
                            "QueueName",
                        ]
                    },
                }
            ],
        },
    )
    for metric in ("WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm", {"MetricName": metric, "Namespace": "AWS/Kinesis"}
        )
    assert alarm_ids(clicks) == [
        "WriteThroughputExceededAlarm",
        "ReadThroughputExceededAlarm",
        "FailureDestinationAlarm",
        "IteratorAgeAlarm",
        *health("Function"),
    ]


def test_exposes_what_it_creates(stack: cdk.Stack) -> None:
    handler = function(stack)
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=handler)
    assert isinstance(clicks.stream, kinesis.Stream)
    assert clicks.function is handler
    assert clicks.consumers["Consumer"].event_source_mapping is clicks.event_source_mapping
    assert clicks.consumers["Consumer"].stream_consumer is None
    assert clicks.ingest_api is None


# --- options ---------------------------------------------------------------------------------


def test_provisioned_stream_with_shards_and_retention(stack: cdk.Stack) -> None:
    KinesisBatchConsumer(
        stack,
        "Clicks",
        handler=function(stack),
        stream_mode="provisioned",
        shard_count=4,
        retention=Duration.days(7),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "ShardCount": 4,
            "RetentionPeriodHours": 168,
        },
    )


def test_customer_managed_key(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    KinesisBatchConsumer(stack, "Clicks", handler=function(stack), encryption_key=key)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::Stream",
        {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": arn(stack, key)}},
    )


def test_consumer_options_are_applied(stack: cdk.Stack) -> None:
    KinesisBatchConsumer(
        stack,
        "Clicks",
        handler=function(stack),
        batch_size=500,
        max_batching_window=Duration.seconds(10),
        starting_position=lambda_.StartingPosition.AT_TIMESTAMP,
        starting_position_timestamp=1_800_000_000,
        parallelization_factor=4,
        retry_attempts=INFINITE,
        max_record_age=INFINITE,
        bisect_batch_on_error=False,
        report_batch_item_failures=False,
        tumbling_window=Duration.minutes(2),
        filters=[lambda_.FilterCriteria.filter({"data": {"page": lambda_.FilterRule.exists()}})],
        iterator_age_alarm_threshold=Duration.minutes(1),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 500,
            "MaximumBatchingWindowInSeconds": 10,
            "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1_800_000_000,
            "ParallelizationFactor": 4,
            "MaximumRetryAttempts": Match.absent(),
            "MaximumRecordAgeInSeconds": Match.absent(),
            "BisectBatchOnFunctionError": False,
            "FunctionResponseTypes": Match.absent(),
            "TumblingWindowInSeconds": 120,
            "FilterCriteria": {"Filters": [{"Pattern": '{"data":{"page":[{"exists":true}]}}'}]},
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "IteratorAge", "Threshold": 60000}
    )


def test_add_consumer_gets_its_own_failure_destination_and_alarms(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    archive = clicks.add_consumer(function(stack, "Archiver"), id="Archive", batch_size=1000)
    assert archive.failure_destination is not clicks.failure_destination
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 1000,
            "DestinationConfig": {
                "OnFailure": {"Destination": arn(stack, archive.failure_destination)}
            },
        },
    )
    assert len(clicks.alarms) == 2 + 5 * 2
    assert len(clicks.consumers["Archive"].alarms) == 5
    assert set(clicks.consumers) == {"Consumer", "Archive"}


def test_enhanced_fan_out_reads_through_a_stream_consumer(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    efo = clicks.add_consumer(function(stack, "Fast"), enhanced_fan_out=True)
    assert efo.stream_consumer is not None
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Kinesis::StreamConsumer",
        {"StreamARN": arn(stack, clicks.stream), "ConsumerName": "TestStack-Fast"},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {
                "Fn::GetAtt": [
                    stack.get_logical_id(efo.stream_consumer.node.default_child),  # type: ignore[arg-type]
                    "ConsumerARN",
                ]
            }
        },
    )


def test_existing_stream_is_consumed_as_is(stack: cdk.Stack) -> None:
    existing = kinesis.Stream.from_stream_arn(
        stack, "Existing", "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    )
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack), stream=existing)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Kinesis::Stream", 0)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"},
    )
    assert clicks.stream is existing


def test_alarm_topic_is_notified_by_every_alarm(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alarms")
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack), alarm_topic=topic)
    clicks.add_consumer(function(stack, "Second"))
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert len(found) == len(clicks.alarms) == 2 + 5 * 2
    for alarm in found.values():
        assert alarm["Properties"]["AlarmActions"] == [ref(stack, topic)]
        assert alarm["Properties"]["OKActions"] == [ref(stack, topic)]


def test_grant_write_allows_putting_records(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    producer = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
    clicks.grant_write(producer)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [ref(stack, producer)],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"],
                        "Effect": "Allow",
                        "Resource": arn(stack, clicks.stream),
                    }
                ]
            },
        },
    )


# --- ingest API ------------------------------------------------------------------------------


def test_ingest_api_integrates_kinesis_directly_with_a_scoped_role(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    api = clicks.add_ingest_api()
    assert clicks.ingest_api is api
    template = Template.from_stack(stack)
    for action in ("PutRecord", "PutRecords"):
        template.has_resource_properties(
            "AWS::ApiGateway::Method",
            {
                "HttpMethod": "POST",
                "AuthorizationType": "AWS_IAM",
                "RequestValidatorId": Match.any_value(),
                "RequestModels": {"application/json": Match.any_value()},
                "Integration": Match.object_like(
                    {
                        "Type": "AWS",
                        "PassthroughBehavior": "NEVER",
                        "Credentials": arn(stack, clicks.ingest_role),
                        "Uri": {
                            "Fn::Join": [
                                "",
                                Match.array_with([f":kinesis:action/{action}"]),
                            ]
                        },
                    }
                ),
            },
        )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [ref(stack, clicks.ingest_role)],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
                        "Effect": "Allow",
                        "Resource": arn(stack, clicks.stream),
                    }
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": True, "ValidateRequestParameters": True},
    )


def test_ingest_api_stage_has_tracing_throttling_and_access_logs(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    clicks.add_ingest_api(throttle_rate=20, throttle_burst=40)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "ThrottlingRateLimit": 20,
                        "ThrottlingBurstLimit": 40,
                    }
                )
            ],
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    template.resource_count_is("AWS::ApiGateway::Account", 0)


def test_ingest_api_validates_record_bodies(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    clicks.add_ingest_api(partition_key_max_length=64)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Model",
        {
            "Schema": Match.object_like(
                {
                    "required": ["data", "partitionKey"],
                    "additionalProperties": False,
                    "properties": {
                        "data": {},
                        "partitionKey": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                }
            )
        },
    )


def test_ingest_api_without_authorization_when_asked(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    clicks.add_ingest_api(authorization_type=apigateway.AuthorizationType.NONE)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApiGateway::Method", {"AuthorizationType": "NONE"}
    )


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size=0 is not allowed (allowed: 1..10000)"),
        ({"batch_size": 10001}, "batch_size=10001 is not allowed (allowed: 1..10000)"),
        (
            {"parallelization_factor": 11},
            "parallelization_factor=11 is not allowed (allowed: 1..10)",
        ),
        ({"retry_attempts": -2}, "retry_attempts=-2 is not allowed (allowed: -1..10000)"),
        ({"retry_attempts": 10001}, "retry_attempts=10001 is not allowed (allowed: -1..10000)"),
        (
            {"max_record_age": Duration.seconds(59)},
            "max_record_age=Duration.seconds(59) is not allowed (allowed: 60..604800 seconds)",
        ),
        (
            {"max_record_age": Duration.days(8)},
            "max_record_age=Duration.seconds(691200) is not allowed (allowed: 60..604800 seconds)",
        ),
        (
            {"tumbling_window": Duration.seconds(901)},
            "tumbling_window=Duration.seconds(901) is not allowed (allowed: 0..900 seconds)",
        ),
        (
            {"max_batching_window": Duration.seconds(301)},
            "max_batching_window=Duration.seconds(301) is not allowed (allowed: 0..300 seconds)",
        ),
        (
            {"shard_count": 2},
            "shard_count=2 cannot be set for an on-demand stream (it scales its own shards) "
            "(allowed: stream_mode='provisioned', or leave it out)",
        ),
        (
            {"starting_position": lambda_.StartingPosition.AT_TIMESTAMP},
            "starting_position_timestamp=None is required with starting_position=AT_TIMESTAMP "
            "(allowed: a Unix time in seconds)",
        ),
        (
            {"starting_position_timestamp": 1_800_000_000},
            "starting_position_timestamp=1800000000 only applies with "
            "starting_position=AT_TIMESTAMP (allowed: leave it out, or "
            "starting_position=AT_TIMESTAMP)",
        ),
        (
            {"stream_mode": "burst"},
            "stream_mode='burst' is not a stream mode (allowed: 'on_demand', 'provisioned')",
        ),
        (
            {"retention": Duration.hours(12)},
            "retention=Duration.seconds(43200) is not allowed (allowed: 86400..31536000 seconds)",
        ),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    handler = function(stack)
    with pytest.raises(ValueError, match=error(message)):
        KinesisBatchConsumer(stack, "Clicks", handler=handler, **options)
    assert stack.node.try_find_child("Clicks") is None


def test_existing_stream_with_created_stream_options_is_rejected(stack: cdk.Stack) -> None:
    existing = kinesis.Stream(stack, "Existing")
    handler = function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            "shard_count=3 only shapes a stream this construct creates, but stream= was given "
            "(allowed: leave it out, or drop stream=)"
        ),
    ):
        KinesisBatchConsumer(
            stack, "Clicks", handler=handler, stream=existing, shard_count=3, stream_mode=None
        )


def test_add_consumer_validates_its_options(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    handler = function(stack, "Other")
    with pytest.raises(ValueError, match=error("batch_size=0 is not allowed (allowed: 1..10000)")):
        clicks.add_consumer(handler, batch_size=0)


def test_duplicate_consumer_id_is_rejected(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    handler = function(stack, "Other")
    with pytest.raises(ValueError, match="id='Consumer' is already used by another consumer"):
        clicks.add_consumer(handler, id="Consumer")


def test_ingest_api_twice_is_rejected(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=function(stack))
    clicks.add_ingest_api()
    with pytest.raises(
        ValueError,
        match=r"ingest_api=<TestStack/Clicks/IngestApi/Api> exists: add_ingest_api was called",
    ):
        clicks.add_ingest_api()


# --- filter criteria -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        {"data": {"kind": ["click"], "ms": [{"numeric": [">", 100]}]}},
        lambda_.FilterCriteria.filter(
            {
                "data": {
                    "kind": lambda_.FilterRule.is_equal("click"),
                    "ms": lambda_.FilterRule.between(100, 200),
                }
            }
        ),
    ],
    ids=["pattern", "FilterCriteria"],
)
def test_filters_are_taken_as_patterns_or_cdk_filter_criteria(
    stack: cdk.Stack, given: dict[str, Any]
) -> None:
    KinesisBatchConsumer(stack, "Clicks", handler=function(stack), filters=[given])
    mapping = next(
        iter(Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values())
    )
    (pattern,) = mapping["Properties"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"])["data"]["kind"] == ["click"]


def test_stream_mode_accepts_cdks_enum(stack: cdk.Stack) -> None:
    KinesisBatchConsumer(
        stack,
        "Clicks",
        handler=function(stack),
        stream_mode=kinesis.StreamMode.PROVISIONED,
        shard_count=2,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Kinesis::Stream",
        {"ShardCount": 2, "StreamModeDetails": {"StreamMode": "PROVISIONED"}},
    )
