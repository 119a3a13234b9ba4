"""FilterPipeline: both connectors, every default, option and bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from serverless_patterns import (
    Connector,
    FilterPipeline,
    QueueWorker,
    ServerlessFunction,
    Stage,
)
from tests.support import alarm_ids, health, user_function

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
TRANSIENT = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def fn(stack: cdk.Stack, id: str, timeout: int = 30) -> ServerlessFunction:
    return ServerlessFunction(stack, id, code=INLINE, timeout=Duration.seconds(timeout))


def two_stages(stack: cdk.Stack, **options: Any) -> list[Stage]:
    return [
        Stage(name="validate", handler=fn(stack, "Validate"), **options),
        Stage(name="enrich", handler=fn(stack, "Enrich"), **options),
    ]


def imported_function(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:legacy"
    )


def error(message: str) -> str:
    """The exact ValueError message, as a regex."""
    return "^" + re.escape(message) + "$"


def ref(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def function_env(template: Template, logical_prefix: str) -> dict[str, Any]:
    found = [
        r["Properties"]["Environment"]["Variables"]
        for key, r in template.find_resources("AWS::Lambda::Function").items()
        if key.startswith(logical_prefix)
    ]
    assert len(found) == 1
    return found[0]


def statements_of(template: Template, policy_prefix: str) -> list[dict[str, Any]]:
    found = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for key, r in template.find_resources("AWS::IAM::Policy").items()
        if key.startswith(policy_prefix)
    ]
    assert len(found) == 1
    return found[0]


def actions_on(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Action -> resources it is allowed on, over every statement."""
    allowed: dict[str, list[Any]] = {}
    for statement in statements:
        actions = statement["Action"]
        resources = statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            allowed.setdefault(action, []).extend(
                resources if isinstance(resources, list) else [resources]
            )
    return allowed


def same(left: list[Any], right: list[Any]) -> bool:
    """Equal as multisets (the order of IAM statements follows the order of grants)."""
    return sorted(json.dumps(x, sort_keys=True) for x in left) == sorted(
        json.dumps(x, sort_keys=True) for x in right
    )


def definition(template: Template) -> dict[str, Any]:
    """The state machine definition, with every token replaced by ``REF``."""
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# --- Connector.QUEUES --------------------------------------------------------------------------


def test_queues_connector_makes_every_stage_a_queue_worker(stack: cdk.Stack) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    template = Template.from_stack(stack)
    assert [s.name for s in pipeline.stages] == ["validate", "enrich"]
    assert all(isinstance(s.worker, QueueWorker) for s in pipeline.stages)
    assert all(s.task is None for s in pipeline.stages)
    assert pipeline.stages[0].queue is pipeline.stages[0].worker.queue  # type: ignore[union-attr]
    assert pipeline.state_machine is None
    assert pipeline.pipe is None
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 0)
    # 2 stage queues + 2 stage DLQs + the rejected queue
    template.resource_count_is("AWS::SQS::Queue", 5)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )


def test_queue_stage_environment_names_its_stage_next_queue_and_rejected_queue(
    stack: cdk.Stack,
) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    template = Template.from_stack(stack)
    next_queue = ref(stack, pipeline.stages[1].queue)
    rejected = ref(stack, pipeline.rejected)
    assert function_env(template, "Validate") == {
        "POWERTOOLS_SERVICE_NAME": "Validate",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
        "PIPELINE_STAGE": "validate",
        "PIPELINE_NEXT": {"Ref": next_queue},
        "PIPELINE_REJECTED": {"Ref": rejected},
    }


def test_last_queue_stage_without_output_is_the_sink(stack: cdk.Stack) -> None:
    FilterPipeline(stack, "Orders", stages=two_stages(stack))
    assert function_env(Template.from_stack(stack), "Enrich")["PIPELINE_NEXT"] == ""


def test_queue_stage_may_send_only_to_the_next_queue_and_the_rejected_queue(
    stack: cdk.Stack,
) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    template = Template.from_stack(stack)
    first = actions_on(statements_of(template, "ValidateRoleDefaultPolicy"))
    assert same(
        first["sqs:SendMessage"],
        [arn_of(ref(stack, pipeline.stages[1].queue)), arn_of(ref(stack, pipeline.rejected))],
    )
    last = actions_on(statements_of(template, "EnrichRoleDefaultPolicy"))
    assert last["sqs:SendMessage"] == [arn_of(ref(stack, pipeline.rejected))]
    assert not any(action.startswith("kms:") for action in {**first, **last})


def test_last_queue_stage_publishes_to_an_encrypted_output_topic_with_narrow_key_rights(
    stack: cdk.Stack,
) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Accepted", master_key=key)
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack), output=topic)
    template = Template.from_stack(stack)
    assert pipeline.output is topic
    assert function_env(template, "Enrich")["PIPELINE_NEXT"] == {"Ref": ref(stack, topic)}
    allowed = actions_on(statements_of(template, "EnrichRoleDefaultPolicy"))
    assert allowed["sns:Publish"] == [{"Ref": ref(stack, topic)}]
    assert allowed["kms:GenerateDataKey"] == [arn_of(ref(stack, key))]
    assert allowed["kms:Decrypt"] == [arn_of(ref(stack, key))]
    assert "kms:GenerateDataKey*" not in allowed
    assert "sns:Publish" not in actions_on(statements_of(template, "ValidateRoleDefaultPolicy"))


def test_last_queue_stage_sends_to_an_output_queue(stack: cdk.Stack) -> None:
    output = sqs.Queue(stack, "Accepted")
    FilterPipeline(stack, "Orders", stages=two_stages(stack), output=output)
    template = Template.from_stack(stack)
    assert function_env(template, "Enrich")["PIPELINE_NEXT"] == {"Ref": ref(stack, output)}
    allowed = actions_on(statements_of(template, "EnrichRoleDefaultPolicy"))
    assert arn_of(ref(stack, output)) in allowed["sqs:SendMessage"]


def test_stage_options_shape_the_stage_worker(stack: cdk.Stack) -> None:
    pipeline = FilterPipeline(
        stack,
        "Orders",
        stages=[
            Stage(
                name="validate",
                handler=fn(stack, "Validate"),
                batch_size=3,
                max_concurrency=7,
                max_receive_count=2,
            )
        ],
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 3, "ScalingConfig": {"MaximumConcurrency": 7}},
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"maxReceiveCount": 2, "deadLetterTargetArn": Match.any_value()}},
    )
    assert pipeline.input_queue is pipeline.stages[0].queue
    assert pipeline.input_dead_letter_queue is pipeline.stages[0].dead_letter_queue


def test_source_queue_is_consumed_by_the_first_stage(stack: cdk.Stack) -> None:
    dlq = sqs.Queue(stack, "SourceDlq")
    source = sqs.Queue(
        stack, "Source", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3)
    )
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack), source=source)
    assert pipeline.stages[0].queue is source
    assert pipeline.stages[0].dead_letter_queue is dlq
    assert pipeline.input_queue is source
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": arn_of(ref(stack, source))},
    )


def test_created_rejected_queue_is_encrypted_tls_only_kept_14_days_and_alarmed(
    stack: cdk.Stack,
) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    template = Template.from_stack(stack)
    rejected = ref(stack, pipeline.rejected)
    assert template.to_json()["Resources"][rejected]["Properties"] == {
        "MessageRetentionPeriod": 1209600,
        "SqsManagedSseEnabled": True,
    }
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": rejected}],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [rejected, "QueueName"]}}],
            "Threshold": 604800,
        },
    )


def test_given_rejected_queue_is_used_instead_of_creating_one(stack: cdk.Stack) -> None:
    rejected = sqs.Queue(stack, "Rejected")
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack), rejected=rejected)
    assert pipeline.rejected is rejected
    assert function_env(Template.from_stack(stack), "Validate")["PIPELINE_REJECTED"] == {
        "Ref": ref(stack, rejected)
    }
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 5)


def test_stage_functions_get_the_stage_helper_layer(stack: cdk.Stack) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::LayerVersion", 2)  # Powertools + stage helper
    (layer,) = pipeline.stage_layers
    for resource in template.find_resources("AWS::Lambda::Function").values():
        assert {"Ref": ref(stack, layer)} in resource["Properties"]["Layers"]


def test_a_stage_function_of_another_stack_gets_the_layer_of_its_own_stack(
    stack: cdk.Stack,
) -> None:
    other = cdk.Stack(stack.node.root, "FunctionsStack")
    pipeline = state_machine_pipeline(
        stack, stages=[Stage(name="remote", handler=fn(other, "Remote"))]
    )
    (layer,) = pipeline.stage_layers
    assert cdk.Stack.of(layer) is other
    Template.from_stack(stack).resource_count_is("AWS::Lambda::LayerVersion", 0)
    (function,) = Template.from_stack(other).find_resources("AWS::Lambda::Function").values()
    assert {"Ref": other.get_logical_id(layer.node.default_child)} in function["Properties"][
        "Layers"
    ]


def test_every_alarm_notifies_the_alarm_topic(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alarms")
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack), alarm_topic=topic)
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    # the rejected queue's age alarm; per stage: DLQ, message age and the function's health
    assert alarm_ids(pipeline) == [
        "RejectedAgeAlarm",
        *["DeadLetterQueueAlarm", "MessageAgeAlarm", *health("Function")] * 2,
    ]
    assert len(alarms) == len(pipeline.alarms) == 11
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ref(stack, topic)}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": ref(stack, topic)}]


def test_grant_send_allows_producers_on_the_input_queue(stack: cdk.Stack) -> None:
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack))
    producer = fn(stack, "Producer")
    pipeline.grant_send(producer)
    allowed = actions_on(statements_of(Template.from_stack(stack), "ProducerRoleDefaultPolicy"))
    assert allowed["sqs:SendMessage"] == [arn_of(ref(stack, pipeline.input_queue))]


# --- Connector.STATE_MACHINE -------------------------------------------------------------------


def state_machine_pipeline(stack: cdk.Stack, **kwargs: Any) -> FilterPipeline:
    return FilterPipeline(
        stack,
        "Orders",
        stages=kwargs.pop("stages", None) or two_stages(stack),
        connector=Connector.STATE_MACHINE,
        **kwargs,
    )


def test_state_machine_is_express_traced_and_logs_all_without_item_data(
    stack: cdk.Stack,
) -> None:
    pipeline = state_machine_pipeline(stack)
    template = Template.from_stack(stack)
    assert pipeline.state_machine is not None
    assert all(s.worker is None and s.task is not None for s in pipeline.stages)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "EXPRESS",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": Match.any_value(),
            },
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": Match.string_like_regexp("^/aws/vendedlogs/states/"),
            "RetentionInDays": 30,
        },
    )
    assert definition(template)["TimeoutSeconds"] == 300
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 0)


def test_pipe_starts_an_express_execution_synchronously_per_input_message(
    stack: cdk.Stack,
) -> None:
    pipeline = state_machine_pipeline(stack)
    template = Template.from_stack(stack)
    assert pipeline.input_queue is not None
    assert pipeline.input_dead_letter_queue is not None
    template.has_resource_properties(
        "AWS::Pipes::Pipe",
        {
            "Source": arn_of(ref(stack, pipeline.input_queue)),
            "Target": {"Ref": ref(stack, pipeline.state_machine)},
            "SourceParameters": {"SqsQueueParameters": {"BatchSize": 1}},
            "TargetParameters": {
                "StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}
            },
            "LogConfiguration": {
                "Level": "ERROR",
                "CloudwatchLogsLogDestination": Match.any_value(),
            },
        },
    )
    allowed = actions_on(statements_of(template, "OrdersPipeRoleDefaultPolicy"))
    assert allowed["states:StartSyncExecution"] == [{"Ref": ref(stack, pipeline.state_machine)}]
    assert "states:StartExecution" not in allowed
    assert allowed["sqs:ReceiveMessage"] == [arn_of(ref(stack, pipeline.input_queue))]
    # The express execution holds the message up to 5 minutes: visibility must outlast it.
    input_queue = template.to_json()["Resources"][ref(stack, pipeline.input_queue)]
    assert input_queue["Properties"]["VisibilityTimeout"] == 360


def test_standard_state_machine_is_started_asynchronously(stack: cdk.Stack) -> None:
    pipeline = state_machine_pipeline(stack, state_machine_type=sfn.StateMachineType.STANDARD)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD"}
    )
    template.has_resource_properties(
        "AWS::Pipes::Pipe",
        {
            "TargetParameters": {
                "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}
            }
        },
    )
    allowed = actions_on(statements_of(template, "OrdersPipeRoleDefaultPolicy"))
    assert allowed["states:StartExecution"] == [{"Ref": ref(stack, pipeline.state_machine)}]
    assert "states:StartSyncExecution" not in allowed


def test_each_stage_retries_transient_errors_catches_into_the_dlq_and_routes_filtered_items(
    stack: cdk.Stack,
) -> None:
    state_machine_pipeline(stack)
    states = definition(Template.from_stack(stack))["States"]
    assert states["Read message"]["InputPath"] == "$[0]"
    assert states["Read message"]["Parameters"] == {"item.$": "States.StringToJson($.body)"}
    assert states["Read message"]["Next"] == "validate"
    validate = states["validate"]
    assert validate["Parameters"]["Payload"] == {"pipelineStage": "validate", "item.$": "$.item"}
    assert validate["OutputPath"] == "$.Payload"
    assert validate["Retry"] == [
        {
            "ErrorEquals": TRANSIENT,
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]
    assert validate["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "validate failed"}
    ]
    assert states["validate failed"]["Parameters"]["MessageBody"] == {
        "stage": "validate",
        "item.$": "$.item",
        "error.$": "$.error",
    }
    assert states["validate failed"]["Next"] == "Dead-lettered"
    assert states["validate filtered?"]["Choices"] == [
        {"Variable": "$.outcome", "StringEquals": "filtered", "Next": "validate rejected"}
    ]
    assert states["validate filtered?"]["Default"] == "enrich"
    assert states["validate rejected"]["Parameters"]["MessageBody"] == {
        "stage": "validate",
        "reason.$": "$.reason",
        "item.$": "$.item",
    }
    assert states["validate rejected"]["Next"] == "Filtered out"
    assert states["enrich filtered?"]["Default"] == "Accepted"
    assert states["Accepted"] == {"Type": "Succeed", "OutputPath": "$.item"}


def test_retry_attempts_per_stage(stack: cdk.Stack) -> None:
    state_machine_pipeline(
        stack,
        stages=[
            Stage(name="validate", handler=fn(stack, "Validate"), retry_attempts=0),
            Stage(name="enrich", handler=fn(stack, "Enrich"), retry_attempts=6),
        ],
    )
    states = definition(Template.from_stack(stack))["States"]
    assert "Retry" not in states["validate"]
    assert states["enrich"]["Retry"][0]["MaxAttempts"] == 6


def test_state_machine_publishes_accepted_items_to_the_output_topic(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Accepted", master_key=key)
    state_machine_pipeline(stack, output=topic)
    template = Template.from_stack(stack)
    states = definition(template)["States"]
    assert states["enrich filtered?"]["Default"] == "Publish to output"
    assert states["Publish to output"]["Parameters"]["Message.$"] == "States.JsonToString($.item)"
    allowed = actions_on(statements_of(template, "OrdersStateMachineRoleDefaultPolicy"))
    assert allowed["sns:Publish"] == [{"Ref": ref(stack, topic)}]
    assert allowed["kms:GenerateDataKey"] == [arn_of(ref(stack, key))]


def test_state_machine_sends_accepted_items_to_the_output_queue(stack: cdk.Stack) -> None:
    output = sqs.Queue(stack, "Accepted")
    state_machine_pipeline(stack, output=output)
    states = definition(Template.from_stack(stack))["States"]
    assert states["Send to output"]["Parameters"]["MessageBody.$"] == (
        "States.JsonToString($.item)"
    )
    assert states["Send to output"]["Next"] == "Accepted"


def test_state_machine_may_invoke_only_its_stage_functions_and_send_to_its_queues(
    stack: cdk.Stack,
) -> None:
    pipeline = state_machine_pipeline(stack)
    allowed = actions_on(
        statements_of(Template.from_stack(stack), "OrdersStateMachineRoleDefaultPolicy")
    )
    functions = [ref(stack, s.function) for s in pipeline.stages]
    assert {json.dumps(r, sort_keys=True) for r in allowed["lambda:InvokeFunction"]} == {
        json.dumps(r, sort_keys=True)
        for logical_id in functions
        for r in (arn_of(logical_id), {"Fn::Join": ["", [arn_of(logical_id), ":*"]]})
    }
    assert pipeline.dead_letter_queue is not None
    assert same(
        allowed["sqs:SendMessage"],
        [arn_of(ref(stack, pipeline.dead_letter_queue)), arn_of(ref(stack, pipeline.rejected))],
    )


def test_state_machine_alarms_on_failed_and_timed_out_executions_and_its_queues(
    stack: cdk.Stack,
) -> None:
    topic = sns.Topic(stack, "Alarms")
    pipeline = state_machine_pipeline(stack, alarm_topic=topic)
    template = Template.from_stack(stack)
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/States",
                "MetricName": metric,
                "Threshold": 1,
                "AlarmActions": [{"Ref": ref(stack, topic)}],
            },
        )
    assert alarm_ids(pipeline) == [
        "RejectedAgeAlarm",
        "DeadLetterQueueAlarm",
        *health("validateFunction"),
        *health("enrichFunction"),
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "InputDeadLetterQueueAlarm",
        "InputMessageAgeAlarm",
    ]
    template.resource_count_is("AWS::CloudWatch::Alarm", 12)
    assert all(s.dead_letter_queue is pipeline.dead_letter_queue for s in pipeline.stages)


def test_a_function_serving_two_state_machine_stages_gets_the_layer_once(
    stack: cdk.Stack,
) -> None:
    shared = fn(stack, "Shared")
    state_machine_pipeline(
        stack,
        stages=[Stage(name="first", handler=shared), Stage(name="second", handler=shared)],
    )
    (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    assert len(function["Properties"]["Layers"]) == 2


def test_imported_functions_can_serve_state_machine_stages(stack: cdk.Stack) -> None:
    pipeline = state_machine_pipeline(
        stack, stages=[Stage(name="legacy", handler=imported_function(stack))]
    )
    assert pipeline.stages[0].function.function_arn.endswith(":function:legacy")


# --- bucket source -----------------------------------------------------------------------------


def test_bucket_source_starts_the_state_machine_through_eventbridge(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Uploads")
    pipeline = state_machine_pipeline(stack, source=bucket)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Pipes::Pipe", 0)
    assert pipeline.input_queue is None
    assert pipeline.pipe is None
    assert pipeline.source_rule is not None
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}},
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [{"Ref": ref(stack, bucket)}]}},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": ref(stack, pipeline.state_machine)},
                        "DeadLetterConfig": {
                            "Arn": arn_of(ref(stack, pipeline.source_rule_dead_letter_queue))
                        },
                        "InputTransformer": {
                            "InputPathsMap": {
                                "detail-bucket-name": "$.detail.bucket.name",
                                "detail-object-key": "$.detail.object.key",
                                "detail-object-size": "$.detail.object.size",
                                "detail-object-etag": "$.detail.object.etag",
                            },
                            "InputTemplate": '{"item":{"bucket":<detail-bucket-name>,'
                            '"key":<detail-object-key>,"size":<detail-object-size>,'
                            '"etag":<detail-object-etag>}}',
                        },
                    }
                )
            ],
        },
    )
    assert "Read message" not in definition(template)["States"]
    with pytest.raises(ValueError, match="grant_send needs an input queue"):
        pipeline.grant_send(fn(stack, "Producer"))


def test_bucket_source_feeds_the_first_stage_queue(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Uploads")
    pipeline = FilterPipeline(stack, "Orders", stages=two_stages(stack), source=bucket)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Targets": [
                Match.object_like(
                    {
                        "Arn": arn_of(ref(stack, pipeline.stages[0].queue)),
                        "DeadLetterConfig": Match.any_value(),
                        "InputTransformer": Match.object_like(
                            {
                                "InputTemplate": '{"bucket":<detail-bucket-name>,'
                                '"key":<detail-object-key>,"size":<detail-object-size>,'
                                '"etag":<detail-object-etag>}'
                            }
                        ),
                    }
                )
            ]
        },
    )
    assert pipeline.input_queue is None
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible", "Dimensions": Match.any_value()},
    )


def test_imported_bucket_source_warns_to_turn_on_eventbridge(stack: cdk.Stack) -> None:
    bucket = s3.Bucket.from_bucket_name(stack, "Imported", "uploads")
    state_machine_pipeline(stack, source=bucket)
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Orders",
        Match.string_like_regexp("The source bucket is imported: turn on its EventBridge"),
    )


# --- bad input ---------------------------------------------------------------------------------


def test_no_stages_is_an_error(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': stages=[] is empty (allowed: one or more Stage)"
        ),
    ):
        FilterPipeline(stack, "Orders", stages=[])


@pytest.mark.parametrize("name", ["9lives", "has space", "x" * 33, "", "dot.ted"])
def test_a_stage_name_unusable_in_resource_names_is_an_error(stack: cdk.Stack, name: str) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            f"FilterPipeline at 'TestStack/Orders': Stage.name={name!r} cannot name resources, "
            "states and metrics (allowed: a letter, then letters, digits, '_' or '-'; 1..32 "
            "characters)"
        ),
    ):
        FilterPipeline(stack, "Orders", stages=[Stage(name=name, handler=fn(stack, "F"))])


@pytest.mark.parametrize("second", ["validate", "Validate", "vali-date"])
def test_duplicate_stage_names_are_an_error(stack: cdk.Stack, second: str) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            f"FilterPipeline at 'TestStack/Orders': Stage.name={second!r} duplicates the stage "
            "'validate' (names are compared ignoring case, '_' and '-') (allowed: a name unique "
            "in the pipeline)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=[
                Stage(name="validate", handler=fn(stack, "A")),
                Stage(name=second, handler=fn(stack, "B")),
            ],
            connector=Connector.STATE_MACHINE,
        )


def test_express_stages_that_cannot_fit_in_five_minutes_are_an_error(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': state_machine_type='EXPRESS' cannot fit the "
            "stages in an Express execution: their function timeouts add up to 320 s "
            "(a=200 s, b=120 s), more than the 300 s an Express execution may run (allowed: "
            "function timeouts adding up to at most 300 s, or "
            "state_machine_type=StateMachineType.STANDARD)"
        ),
    ):
        state_machine_pipeline(
            stack,
            stages=[
                Stage(name="a", handler=fn(stack, "A", timeout=200)),
                Stage(name="b", handler=fn(stack, "B", timeout=120)),
            ],
        )


def test_standard_state_machine_takes_long_stages(stack: cdk.Stack) -> None:
    state_machine_pipeline(
        stack,
        stages=[Stage(name="a", handler=fn(stack, "A", timeout=900))],
        state_machine_type=sfn.StateMachineType.STANDARD,
    )
    assert definition(Template.from_stack(stack))["TimeoutSeconds"] == 86400


@pytest.mark.parametrize("connector", list(Connector))
def test_a_fifo_source_is_an_error(stack: cdk.Stack, connector: Connector) -> None:
    dlq = sqs.Queue(stack, "Dlq", fifo=True)
    source = sqs.Queue(
        stack,
        "Source",
        fifo=True,
        visibility_timeout=Duration.seconds(360),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': source=<TestStack/Source> is a FIFO queue: "
            "the pipeline does not carry message-group order across stages, so the order the "
            "FIFO queue promises would be lost (allowed: a standard queue)"
        ),
    ):
        FilterPipeline(
            stack, "Orders", stages=two_stages(stack), source=source, connector=connector
        )


def test_a_source_queue_that_cannot_outlast_an_express_execution_is_an_error(
    stack: cdk.Stack,
) -> None:
    dlq = sqs.Queue(stack, "Dlq")
    dead_letter = sqs.DeadLetterQueue(queue=dlq, max_receive_count=3)
    short = sqs.Queue(stack, "Source", dead_letter_queue=dead_letter)
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': source=<TestStack/Source> has a visibility "
            "timeout of 30 s, shorter than an Express execution may run: a message would be "
            "received and started again while its execution runs (allowed: a visibility "
            "timeout of at least 300 s (360 s leaves room for the pipe), or "
            "state_machine_type=StateMachineType.STANDARD)"
        ),
    ):
        state_machine_pipeline(stack, source=short)


def test_a_source_queue_that_outlasts_an_express_execution_is_consumed_by_the_pipe(
    stack: cdk.Stack,
) -> None:
    dlq = sqs.Queue(stack, "Dlq")
    source = sqs.Queue(
        stack,
        "Source",
        visibility_timeout=Duration.seconds(360),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )
    pipeline = state_machine_pipeline(stack, source=source)
    assert pipeline.input_queue is source
    assert pipeline.input_dead_letter_queue is dlq
    Template.from_stack(stack).has_resource_properties(
        "AWS::Pipes::Pipe", {"Source": arn_of(ref(stack, source))}
    )


def test_a_short_visibility_source_queue_may_start_a_standard_workflow(stack: cdk.Stack) -> None:
    dlq = sqs.Queue(stack, "Dlq")
    source = sqs.Queue(
        stack, "Source", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3)
    )
    pipeline = state_machine_pipeline(
        stack, source=source, state_machine_type=sfn.StateMachineType.STANDARD
    )
    assert pipeline.input_queue is source


def test_a_source_queue_without_a_known_dlq_is_an_error(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': source=<TestStack/Source> has no known "
            "dead-letter queue: an item that keeps failing would be retried until it expires "
            "(allowed: a Queue created with dead_letter_queue=, or pass its DLQ as "
            "source_dead_letter_queue=)"
        ),
    ):
        state_machine_pipeline(
            stack, source=sqs.Queue(stack, "Source", visibility_timeout=Duration.seconds(360))
        )


def test_an_imported_source_queue_with_its_dlq_is_consumed_by_the_pipe(stack: cdk.Stack) -> None:
    source = sqs.Queue.from_queue_arn(stack, "Source", "arn:aws:sqs:us-east-1:123456789012:in")
    dlq = sqs.Queue.from_queue_arn(stack, "SourceDlq", "arn:aws:sqs:us-east-1:123456789012:dlq")
    pipeline = state_machine_pipeline(stack, source=source, source_dead_letter_queue=dlq)
    assert pipeline.input_queue is source
    assert pipeline.input_dead_letter_queue is dlq
    Template.from_stack(stack).has_resource_properties(
        "AWS::Pipes::Pipe", {"Source": "arn:aws:sqs:us-east-1:123456789012:in"}
    )


def test_source_dead_letter_queue_without_a_source_queue_is_an_error(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': source_dead_letter_queue=<TestStack/Dlq> only "
            "applies to a source queue (allowed: leave it out: a created input queue gets its "
            "own DLQ)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=two_stages(stack),
            source_dead_letter_queue=sqs.Queue(stack, "Dlq"),
        )


def test_an_imported_function_cannot_serve_a_queue_stage(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': Stage('legacy').handler=<TestStack/Imported> "
            "is an imported function: Connector.QUEUES sets the stage's environment (next "
            "queue, rejected queue), which only a Function of this app can receive (allowed: a "
            "Function defined in this app, or connector=Connector.STATE_MACHINE)"
        ),
    ):
        FilterPipeline(
            stack, "Orders", stages=[Stage(name="legacy", handler=imported_function(stack))]
        )


def test_one_function_cannot_serve_two_queue_stages(stack: cdk.Stack) -> None:
    shared = fn(stack, "Shared")
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': Stage('second').handler=<TestStack/Shared> "
            "already serves the stage 'first': with Connector.QUEUES a function's environment "
            "names its one next queue (allowed: one function per stage)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=[Stage(name="first", handler=shared), Stage(name="second", handler=shared)],
        )


def test_queue_options_on_a_state_machine_stage_are_errors(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': 3 problems:\n"
            "  - Stage('a').batch_size=5 only applies to Connector.QUEUES (the state machine "
            "invokes a stage once per item) (allowed: leave it out, or "
            "connector=Connector.QUEUES)\n"
            "  - Stage('a').max_concurrency=5 only applies to Connector.QUEUES (the state "
            "machine invokes a stage once per item) (allowed: leave it out, or "
            "connector=Connector.QUEUES)\n"
            "  - Stage('a').max_receive_count=5 only applies to Connector.QUEUES (the state "
            "machine invokes a stage once per item) (allowed: leave it out, or "
            "connector=Connector.QUEUES)"
        ),
    ):
        state_machine_pipeline(
            stack,
            stages=[
                Stage(
                    name="a",
                    handler=fn(stack, "A"),
                    batch_size=5,
                    max_concurrency=5,
                    max_receive_count=5,
                )
            ],
        )


def test_state_machine_options_with_the_queue_connector_are_errors(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': 2 problems:\n"
            "  - Stage('a').retry_attempts=2 only applies to Connector.STATE_MACHINE (a queue "
            "stage retries through its queue) (allowed: leave it out, or use "
            "max_receive_count)\n"
            "  - state_machine_type=<StateMachineType.STANDARD: 'STANDARD'> only applies to "
            "Connector.STATE_MACHINE (allowed: leave it out, or "
            "connector=Connector.STATE_MACHINE)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=[Stage(name="a", handler=fn(stack, "A"), retry_attempts=2)],
            state_machine_type=sfn.StateMachineType.STANDARD,
        )


def test_out_of_range_stage_options_are_errors(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': 3 problems:\n"
            "  - Stage('a').batch_size=11 is not allowed (allowed: 1..10)\n"
            "  - Stage('a').max_concurrency=1 is not allowed (allowed: 2..1000)\n"
            "  - Stage('a').max_receive_count=0 is not allowed (allowed: 1..1000)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=[
                Stage(
                    name="a",
                    handler=fn(stack, "A"),
                    batch_size=11,
                    max_concurrency=1,
                    max_receive_count=0,
                )
            ],
        )


def test_retry_attempts_out_of_range_is_an_error(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': Stage('a').retry_attempts=11 is not allowed "
            "(allowed: 0..10)"
        ),
    ):
        state_machine_pipeline(
            stack, stages=[Stage(name="a", handler=fn(stack, "A"), retry_attempts=11)]
        )


def test_fifo_output_and_rejected_queues_are_errors(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': 2 problems:\n"
            "  - output=<TestStack/Out> is FIFO: accepted items carry no message group "
            "(allowed: a standard topic or queue)\n"
            "  - rejected=<TestStack/Rejected> is a FIFO queue: rejected items carry no message "
            "group (allowed: a standard queue)"
        ),
    ):
        FilterPipeline(
            stack,
            "Orders",
            stages=two_stages(stack),
            output=sns.Topic(stack, "Out", fifo=True),
            rejected=sqs.Queue(stack, "Rejected", fifo=True),
        )


def test_a_source_that_is_neither_queue_nor_bucket_is_a_type_error(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "NotASource")
    with pytest.raises(
        TypeError,
        match=error(
            "FilterPipeline at 'TestStack/Orders': source must be aws_sqs.IQueue, aws_s3.IBucket "
            "or None, got aws_sns.Topic <TestStack/NotASource>"
        ),
    ):
        FilterPipeline(stack, "Orders", stages=two_stages(stack), source=topic)  # type: ignore[arg-type]


def test_state_machine_sending_to_kms_encrypted_queues_has_no_unacknowledged_findings(
    stack: cdk.Stack,
) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    encrypted = {"encryption": sqs.QueueEncryption.KMS, "encryption_master_key": key}
    state_machine_pipeline(
        stack,
        output=sqs.Queue(stack, "Accepted", enforce_ssl=True, **encrypted),  # type: ignore[arg-type]
        rejected=sqs.Queue(stack, "Rejected", enforce_ssl=True, **encrypted),  # type: ignore[arg-type]
    )
    report = AwsSolutionsChecks().validate_scope(stack.node.root)
    found = [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
        if resource.construct_path.startswith("TestStack/Orders/")
    ]
    assert found == []
    allowed = actions_on(statements_of(Template.from_stack(stack), "OrdersStateMachineRole"))
    assert allowed["kms:GenerateDataKey*"] == [arn_of(ref(stack, key))]


# --- a user's own stage functions ----------------------------------------------------------------


def layer_refs(stack: cdk.Stack, function: lambda_.Function) -> list[Any]:
    resource = Template.from_stack(stack).find_resources("AWS::Lambda::Function")[
        stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]
    ]
    return list(resource["Properties"].get("Layers", []))


@pytest.mark.parametrize("connector", [Connector.QUEUES, Connector.STATE_MACHINE])
@pytest.mark.parametrize("runtime", [lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13])
def test_a_plain_stage_function_gets_powertools_and_the_stage_helper(
    stack: cdk.Stack, connector: Connector, runtime: lambda_.Runtime
) -> None:
    function = user_function(stack, "Stage", runtime=runtime)
    FilterPipeline(stack, "Orders", connector=connector, stages=[Stage(name="a", handler=function)])
    # In the order CDK renders them (sorted, with @aws-cdk/aws-lambda:recognizeLayerVersion).
    refs = sorted(ref["Ref"].rstrip("0123456789ABCDEF") for ref in layer_refs(stack, function))
    assert refs == ["PipelineStageLayer", "PowertoolsLayer"]


def test_a_stage_function_with_the_public_powertools_layer_gets_no_second_one(
    stack: cdk.Stack,
) -> None:
    public = lambda_.LayerVersion.from_layer_version_arn(
        stack,
        "Powertools",
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:7",
    )
    function = user_function(stack, "Stage", layers=[public])
    FilterPipeline(stack, "Orders", stages=[Stage(name="a", handler=function)])
    layers = layer_refs(stack, function)
    assert public.layer_version_arn in layers
    refs = [layer["Ref"].rstrip("0123456789ABCDEF") for layer in layers if isinstance(layer, dict)]
    assert refs == ["PipelineStageLayer"]
    Template.from_stack(stack).resource_count_is("AWS::Lambda::LayerVersion", 1)


def test_a_serverless_function_stage_keeps_its_one_powertools_layer(stack: cdk.Stack) -> None:
    stages = two_stages(stack)
    FilterPipeline(stack, "Orders", stages=stages)
    Template.from_stack(stack).resource_count_is("AWS::Lambda::LayerVersion", 2)
    for stage in stages:
        refs = [ref["Ref"] for ref in layer_refs(stack, stage.handler)]  # type: ignore[arg-type]
        assert sorted(ref.rstrip("0123456789ABCDEF") for ref in refs) == [
            "PipelineStageLayer",
            "PowertoolsLayer",
        ]
