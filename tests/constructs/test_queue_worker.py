"""QueueWorker: every default, every option and every bad input."""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from serverless_patterns import QueueWorker, ServerlessFunction
from tests.support import alarm_ids, health

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def function(stack: cdk.Stack, timeout: Duration | None = None) -> ServerlessFunction:
    return ServerlessFunction(stack, "Worker", code=INLINE, timeout=timeout)


def imported_function(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:legacy"
    )


def queues(template: Template) -> dict[str, dict[str, object]]:
    return template.find_resources("AWS::SQS::Queue")


def main_queue(template: Template) -> dict[str, object]:
    """Properties of the queue with a redrive policy (the main queue)."""
    found = [
        r["Properties"] for r in queues(template).values() if "RedrivePolicy" in r["Properties"]
    ]
    assert len(found) == 1
    return found[0]


def error(message: str) -> str:
    """The exact ValueError message, as a regex."""
    return "^" + re.escape(message) + "$"


# --- defaults --------------------------------------------------------------------------------


def test_creates_a_queue_and_a_dead_letter_queue(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 2)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("DeadLetter"), "Arn"]
                },
                "maxReceiveCount": 5,
            }
        },
    )


def test_dead_letter_queue_keeps_messages_14_days(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"MessageRetentionPeriod": 1209600, "RedrivePolicy": Match.absent()},
    )


def test_main_queue_keeps_messages_4_days(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    assert main_queue(Template.from_stack(stack))["MessageRetentionPeriod"] == 345600


def test_both_queues_are_encrypted_with_sse_sqs(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    for resource in queues(Template.from_stack(stack)).values():
        assert resource["Properties"]["SqsManagedSseEnabled"] is True


def test_both_queues_deny_requests_without_tls(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    template = Template.from_stack(stack)
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    protected = set()
    for policy in policies.values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        protected.add(policy["Properties"]["Queues"][0]["Ref"])
    assert protected == set(queues(template))


def test_visibility_timeout_is_six_times_the_function_timeout(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack, Duration.seconds(20)))
    assert main_queue(Template.from_stack(stack))["VisibilityTimeout"] == 120


def test_visibility_timeout_adds_the_batching_window(stack: cdk.Stack) -> None:
    QueueWorker(
        stack,
        "Orders",
        handler=function(stack, Duration.seconds(20)),
        max_batching_window=Duration.seconds(15),
    )
    assert main_queue(Template.from_stack(stack))["VisibilityTimeout"] == 135


def test_visibility_timeout_uses_lambda_default_timeout_for_plain_function(
    stack: cdk.Stack,
) -> None:
    plain = lambda_.Function(
        stack, "Plain", code=INLINE, handler="index.handler", runtime=lambda_.Runtime.PYTHON_3_13
    )
    QueueWorker(stack, "Orders", handler=plain)
    assert main_queue(Template.from_stack(stack))["VisibilityTimeout"] == 18


def test_event_source_mapping_reports_batch_item_failures(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "Enabled": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("OrdersQueue"), "Arn"]},
            "MaximumBatchingWindowInSeconds": Match.absent(),
            "ScalingConfig": Match.absent(),
        },
    )


def test_function_may_consume_only_its_queue(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": [
                                "sqs:ChangeMessageVisibility",
                                "sqs:DeleteMessage",
                                "sqs:GetQueueAttributes",
                                "sqs:GetQueueUrl",
                                "sqs:ReceiveMessage",
                            ],
                            "Effect": "Allow",
                            "Resource": {
                                "Fn::GetAtt": [Match.string_like_regexp("OrdersQueue"), "Arn"]
                            },
                        }
                    ]
                )
            }
        },
    )


def test_dead_letter_alarm_fires_on_one_message(stack: cdk.Stack) -> None:
    worker = QueueWorker(stack, "Orders", handler=function(stack))
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {
                        "Fn::GetAtt": [
                            Match.string_like_regexp("OrdersDeadLetterQueue"),
                            "QueueName",
                        ]
                    },
                }
            ],
        },
    )
    assert worker.dead_letter_alarm in worker.alarms


def test_message_age_alarm_threshold_is_receive_count_times_visibility(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack, Duration.seconds(10)))
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 5 * 60},
    )


def test_alarms_notify_nobody_by_default(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack))
    for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]


def test_exposes_what_it_creates(stack: cdk.Stack) -> None:
    handler = function(stack)
    worker = QueueWorker(stack, "Orders", handler=handler)
    assert isinstance(worker.queue, sqs.Queue)
    assert isinstance(worker.dead_letter_queue, sqs.Queue)
    assert worker.function is handler
    assert isinstance(worker.event_source_mapping, lambda_.EventSourceMapping)
    assert worker.alarms == [
        worker.dead_letter_alarm,
        worker.message_age_alarm,
        *worker.function_alarms,
    ]
    assert alarm_ids(worker) == ["DeadLetterQueueAlarm", "MessageAgeAlarm", *health("Function")]
    assert worker.alarm_topic is None


# --- options ---------------------------------------------------------------------------------


def test_alarm_topic_is_notified_on_alarm_and_ok(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alerts")
    QueueWorker(stack, "Orders", handler=function(stack), alarm_topic=topic)
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 5
    for alarm in alarms.values():
        topic_ref = {"Ref": stack.get_logical_id(topic.node.default_child)}  # type: ignore[arg-type]
        assert alarm["Properties"]["AlarmActions"] == [topic_ref]
        assert alarm["Properties"]["OKActions"] == [topic_ref]


def test_fifo_creates_fifo_queue_and_fifo_dead_letter_queue(stack: cdk.Stack) -> None:
    QueueWorker(
        stack, "Orders", handler=function(stack), fifo=True, content_based_deduplication=True
    )
    template = Template.from_stack(stack)
    found = queues(template).values()
    assert [q["Properties"]["FifoQueue"] for q in found] == [True, True]
    assert main_queue(template)["ContentBasedDeduplication"] is True


def test_batch_size_and_batching_window(stack: cdk.Stack) -> None:
    QueueWorker(
        stack,
        "Orders",
        handler=function(stack),
        batch_size=500,
        max_batching_window=Duration.seconds(5),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 500, "MaximumBatchingWindowInSeconds": 5},
    )


def test_max_concurrency_sets_scaling_config(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), max_concurrency=20)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 20}}
    )


def test_max_receive_count(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), max_receive_count=2)
    assert main_queue(Template.from_stack(stack))["RedrivePolicy"]["maxReceiveCount"] == 2  # type: ignore[index]


def test_explicit_visibility_timeout(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), visibility_timeout=Duration.minutes(10))
    assert main_queue(Template.from_stack(stack))["VisibilityTimeout"] == 600


def test_retention_period(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), retention_period=Duration.days(7))
    assert main_queue(Template.from_stack(stack))["MessageRetentionPeriod"] == 7 * 86400


def test_encryption_key_encrypts_both_queues(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    QueueWorker(stack, "Orders", handler=function(stack), encryption_key=key)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}  # type: ignore[arg-type]
    for resource in queues(Template.from_stack(stack)).values():
        assert resource["Properties"]["KmsMasterKeyId"] == key_arn
        assert "SqsManagedSseEnabled" not in resource["Properties"]


def test_message_age_alarm_threshold_option(stack: cdk.Stack) -> None:
    QueueWorker(
        stack,
        "Orders",
        handler=function(stack),
        message_age_alarm_threshold=Duration.minutes(2),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 120}
    )


def test_disabled_event_source_mapping(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), enabled=False)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"Enabled": False}
    )


def test_existing_queue_with_dead_letter_queue_is_consumed_as_is(stack: cdk.Stack) -> None:
    dlq = sqs.Queue(stack, "MyDlq")
    queue = sqs.Queue(
        stack,
        "MyQueue",
        visibility_timeout=Duration.seconds(300),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )
    worker = QueueWorker(stack, "Orders", handler=function(stack), queue=queue)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 2)
    assert worker.queue is queue
    assert worker.dead_letter_queue is dlq
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": {"Fn::GetAtt": [stack.get_logical_id(queue.node.default_child), "Arn"]}},  # type: ignore[arg-type]
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 3 * 300},
    )


def test_imported_queue_with_explicit_dead_letter_queue(stack: cdk.Stack) -> None:
    queue = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:123456789012:jobs")
    dlq = sqs.Queue.from_queue_arn(stack, "D", "arn:aws:sqs:us-east-1:123456789012:jobs-dlq")
    worker = QueueWorker(
        stack, "Orders", handler=function(stack), queue=queue, dead_letter_queue=dlq
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 0)
    assert worker.dead_letter_queue is dlq
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "jobs-dlq"}],
        },
    )


def test_imported_function_with_visibility_timeout(stack: cdk.Stack) -> None:
    QueueWorker(
        stack,
        "Orders",
        handler=imported_function(stack),
        visibility_timeout=Duration.minutes(5),
    )
    template = Template.from_stack(stack)
    assert main_queue(template)["VisibilityTimeout"] == 300
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"FunctionName": "legacy"})


def test_grant_send_allows_sending_to_the_queue_only(stack: cdk.Stack) -> None:
    worker = QueueWorker(stack, "Orders", handler=function(stack))
    producer = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
    worker.grant_send(producer)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": stack.get_logical_id(producer.node.default_child)}],  # type: ignore[arg-type]
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": [
                            "sqs:GetQueueAttributes",
                            "sqs:GetQueueUrl",
                            "sqs:SendMessage",
                        ],
                        "Effect": "Allow",
                        "Resource": {
                            "Fn::GetAtt": [Match.string_like_regexp("OrdersQueue"), "Arn"]
                        },
                    }
                ]
            },
        },
    )


# --- bad input -------------------------------------------------------------------------------

PATH = "QueueWorker at 'TestStack/Orders'"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size=0 is not allowed (allowed: 1..10000)"),
        (
            {"batch_size": 10001, "max_batching_window": Duration.seconds(1)},
            "batch_size=10001 is not allowed (allowed: 1..10000)",
        ),
        (
            {"batch_size": 20, "fifo": True},
            "batch_size=20 is not allowed for a FIFO queue (allowed: 1..10)",
        ),
        (
            {"fifo": True, "max_batching_window": Duration.seconds(5)},
            "max_batching_window=Duration.seconds(5) is not allowed for a FIFO queue "
            "(allowed: None)",
        ),
        (
            {"max_batching_window": Duration.seconds(301)},
            "max_batching_window=Duration.seconds(301) is not allowed (allowed: 0..300 seconds)",
        ),
        (
            {"batch_size": 100},
            "max_batching_window=None must be at least 1 second when batch_size=100 is above 10 "
            "(allowed: Duration.seconds(1)..Duration.seconds(300))",
        ),
        ({"max_receive_count": 0}, "max_receive_count=0 is not allowed (allowed: 1..1000)"),
        (
            {"max_batching_window": Duration.millis(1500)},
            "max_batching_window=Duration.seconds(1.5) is not whole seconds "
            "(allowed: 0..300 seconds)",
        ),
        (
            {"visibility_timeout": Duration.millis(90500)},
            "visibility_timeout=Duration.seconds(90.5) is not whole seconds "
            "(allowed: whole seconds)",
        ),
        ({"max_concurrency": 1}, "max_concurrency=1 is not allowed (allowed: 2..1000)"),
        ({"max_concurrency": 1001}, "max_concurrency=1001 is not allowed (allowed: 2..1000)"),
        (
            {"visibility_timeout": Duration.seconds(10)},
            "visibility_timeout=Duration.seconds(10) is shorter than the function timeout (25 s): "
            "messages would be received again while still being processed "
            "(allowed: 25..43200 seconds)",
        ),
        (
            {"visibility_timeout": Duration.hours(13)},
            "visibility_timeout=Duration.seconds(46800) is not allowed (allowed: 0..43200 seconds)",
        ),
        (
            {"retention_period": Duration.days(15)},
            "retention_period=Duration.seconds(1296000) is not allowed "
            "(allowed: 60..1209600 seconds)",
        ),
        (
            {"content_based_deduplication": True},
            "content_based_deduplication=True needs a FIFO queue (allowed: fifo=True, or False)",
        ),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, object], message: str
) -> None:
    handler = function(stack)
    with pytest.raises(ValueError, match=error(f"{PATH}: {message}")):
        QueueWorker(stack, "Orders", handler=handler, **options)  # type: ignore[arg-type]


def test_imported_function_without_visibility_timeout_is_rejected(stack: cdk.Stack) -> None:
    handler = imported_function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            f"{PATH}: visibility_timeout=None cannot be derived: the handler is an imported "
            "function whose timeout is unknown (allowed: an explicit Duration >= the function's "
            "timeout)"
        ),
    ):
        QueueWorker(stack, "Orders", handler=handler)


def test_existing_queue_without_dead_letter_queue_is_rejected(stack: cdk.Stack) -> None:
    queue = sqs.Queue(stack, "Bare")
    handler = function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            f"{PATH}: queue=<TestStack/Bare> has no known dead-letter queue: failing messages "
            "would be retried until they expire (allowed: a Queue created with "
            "dead_letter_queue=, or pass its DLQ as dead_letter_queue=)"
        ),
    ):
        QueueWorker(stack, "Orders", handler=handler, queue=queue)


def test_existing_queue_with_created_queue_options_is_rejected(stack: cdk.Stack) -> None:
    queue = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:123456789012:jobs")
    dlq = sqs.Queue.from_queue_arn(stack, "D", "arn:aws:sqs:us-east-1:123456789012:jobs-dlq")
    handler = function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            f"{PATH}: 2 problems:\n"
            "  - fifo=True only shapes a queue this construct creates, but queue= was given "
            "(allowed: leave it out, or drop queue=)\n"
            "  - max_receive_count=3 only shapes a queue this construct creates, but queue= was "
            "given (allowed: leave it out, or drop queue=)"
        ),
    ):
        QueueWorker(
            stack,
            "Orders",
            handler=handler,
            queue=queue,
            dead_letter_queue=dlq,
            fifo=True,
            max_receive_count=3,
        )


def test_dead_letter_queue_without_existing_queue_is_rejected(stack: cdk.Stack) -> None:
    dlq = sqs.Queue(stack, "Dlq")
    handler = function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            f"{PATH}: dead_letter_queue=<TestStack/Dlq> only applies to an existing queue "
            "(allowed: leave it out: the created queue gets its own DLQ)"
        ),
    ):
        QueueWorker(stack, "Orders", handler=handler, dead_letter_queue=dlq)


def test_all_problems_are_reported_together(stack: cdk.Stack) -> None:
    handler = function(stack)
    with pytest.raises(ValueError, match=r"^QueueWorker at 'TestStack/Orders': 3 problems:\n") as e:
        QueueWorker(
            stack, "Orders", handler=handler, batch_size=0, max_receive_count=0, max_concurrency=0
        )
    assert "batch_size=0" in str(e.value)
    assert "max_receive_count=0" in str(e.value)
    assert "max_concurrency=0" in str(e.value)


def test_rejected_construct_adds_nothing_to_the_tree(stack: cdk.Stack) -> None:
    handler = function(stack)
    with pytest.raises(ValueError, match="batch_size=0"):
        QueueWorker(stack, "Orders", handler=handler, batch_size=0)
    assert stack.node.try_find_child("Orders") is None


def test_imported_function_without_role_gets_a_warning_instead_of_a_grant(
    stack: cdk.Stack,
) -> None:
    QueueWorker(
        stack, "Orders", handler=imported_function(stack), visibility_timeout=Duration.minutes(5)
    )
    Template.from_stack(stack).resource_count_is("AWS::IAM::Policy", 0)
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Orders",
        Match.string_like_regexp("imported function without a role: grant it sqs:ReceiveMessage"),
    )


def test_imported_function_with_role_is_granted_consumption(stack: cdk.Stack) -> None:
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/legacy")
    handler = lambda_.Function.from_function_attributes(
        stack,
        "Imported",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:legacy",
        role=role,
    )
    QueueWorker(stack, "Orders", handler=handler, visibility_timeout=Duration.minutes(5))
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": ["legacy"],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like({"Action": Match.array_with(["sqs:ReceiveMessage"])})
                ]
            },
        },
    )


# --- filter criteria -----------------------------------------------------------------------------


def test_filters_on_the_body_reach_the_mapping(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=function(stack), filters=[{"body": {"type": ["order"]}}])
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FilterCriteria": {"Filters": [{"Pattern": '{"body":{"type":["order"]}}'}]}},
    )


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            [{"type": ["order"]}],
            "filters[0]={'type': ['order']} filters on 'type', which this event source does not "
            "offer (allowed: patterns on 'body', 'attributes', 'messageAttributes', 'messageId', "
            "'md5OfBody', 'eventSource', e.g. {'body': {'type': ['click']}})",
        ),
        (
            [{"body": {"type": "order"}}],
            "filters[0]={'body.type': 'order'} has a value that is not a list: Lambda matches "
            "against lists of values (allowed: {'type': ['order']})",
        ),
    ],
)
def test_filters_lambda_would_refuse_are_refused(
    stack: cdk.Stack, filters: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=error(f"{PATH}: {message}")):
        QueueWorker(stack, "Orders", handler=function(stack), filters=filters)
