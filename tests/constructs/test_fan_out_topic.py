"""FanOutTopic: every default, every option and every bad input."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from serverless_patterns import FanOutTopic, QueueWorker, ServerlessFunction
from tests.support import alarm_ids, health

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
PATH = "FanOutTopic at 'TestStack/Fan'"


def function(stack: cdk.Stack, id: str = "Subscriber") -> ServerlessFunction:
    return ServerlessFunction(stack, id, code=INLINE)


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def arn(stack: cdk.Stack, construct: Any) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def error(message: str) -> str:
    return "^" + re.escape(f"{PATH}: {message}") + "$"


def attribute_filter(*values: str) -> dict[str, sns.SubscriptionFilter]:
    return {"kind": sns.SubscriptionFilter.string_filter(allowlist=list(values))}


# --- defaults --------------------------------------------------------------------------------


def test_topic_is_encrypted_with_a_rotating_customer_managed_key(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "KmsMasterKeyId": arn(stack, fan.encryption_key),
            "SignatureVersion": "2",
            "TracingConfig": "Active",
            "FifoTopic": Match.absent(),
        },
    )


def test_topic_denies_publishing_without_tls(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [ref(stack, fan.topic)],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "sns:Publish",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            },
        },
    )


def test_topic_alarms_on_failed_notifications_and_failed_redrives(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    template = Template.from_stack(stack)
    for metric in ("NumberOfNotificationsFailed", "NumberOfNotificationsFailedToRedriveToDlq"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Namespace": "AWS/SNS",
                "Statistic": "Sum",
                "Threshold": 1,
                "Dimensions": [
                    {"Name": "TopicName", "Value": {"Fn::GetAtt": [Match.any_value(), "TopicName"]}}
                ],
            },
        )
    assert len(fan.alarms) == 2


def test_exposes_what_it_creates(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    assert isinstance(fan.topic, sns.Topic)
    assert isinstance(fan.encryption_key, kms.Key)
    assert fan.subscriptions == []
    assert fan.dead_letter_queues == {}
    assert fan.fifo is False


# --- lambda subscribers ----------------------------------------------------------------------


def test_lambda_subscriber_gets_its_own_dead_letter_queue(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    handler = function(stack)
    subscription = fan.add_lambda_subscriber(handler)
    dlq = fan.dead_letter_queues["Subscriber"]
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "lambda",
            "Endpoint": arn(stack, handler),
            "TopicArn": ref(stack, fan.topic),
            "RedrivePolicy": {"deadLetterTargetArn": arn(stack, dlq)},
        },
    )
    assert fan.subscriptions == [subscription]


def test_lambda_subscriber_may_be_invoked_by_this_topic_only(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    handler = function(stack)
    fan.add_lambda_subscriber(handler)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(stack, handler),
            "Principal": "sns.amazonaws.com",
            "SourceArn": ref(stack, fan.topic),
        },
    )


def test_lambda_subscriber_gets_an_on_failure_destination(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    handler = function(stack)
    fan.add_lambda_subscriber(handler)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": ref(stack, handler),
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {
                        "Fn::GetAtt": [
                            Match.string_like_regexp("SubscriberInvokeFailureQueue"),
                            "Arn",
                        ]
                    }
                }
            },
        },
    )


def test_lambda_subscriber_queues_are_alarmed(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_lambda_subscriber(function(stack))
    alarmed = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
    }
    assert len(alarmed) == 2
    assert all(
        "SubscriberSubscriptionDeadLetterQueue" in q or "SubscriberInvokeFailureQueue" in q
        for q in alarmed
    )
    assert alarm_ids(fan) == [
        "NotificationsFailedAlarm",
        "RedriveFailedAlarm",
        "SubscriberSubscriptionDeadLetterAlarm",
        "SubscriberInvokeFailureAlarm",
        *health("Subscriber"),
    ]


def test_lambda_subscriber_options(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_lambda_subscriber(
        function(stack),
        id="Audit",
        filter_policy=attribute_filter("image", "video"),
        max_event_age=Duration.minutes(30),
        retry_attempts=0,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"FilterPolicy": {"kind": ["image", "video"]}, "FilterPolicyScope": Match.absent()},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 1800},
    )
    assert "Audit" in fan.dead_letter_queues


def test_message_body_filter_policy_may_nest(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_lambda_subscriber(
        function(stack),
        filter_policy={
            "order": sns.FilterOrPolicy.policy(
                {
                    "total": sns.FilterOrPolicy.filter(
                        sns.SubscriptionFilter.numeric_filter(greater_than=100)
                    )
                }
            )
        },
        filter_policy_scope="MessageBody",
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "FilterPolicy": {"order": {"total": [{"numeric": [">", 100]}]}},
            "FilterPolicyScope": "MessageBody",
        },
    )


# --- queue subscribers and workers -----------------------------------------------------------


def test_queue_subscriber_creates_an_encrypted_queue_with_dlq(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    queue = fan.add_queue_subscriber()
    template = Template.from_stack(stack)
    # subscriber queue + its DLQ + the subscription's DLQ
    template.resource_count_is("AWS::SQS::Queue", 3)
    for resource in template.find_resources("AWS::SQS::Queue").values():
        assert resource["Properties"]["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "Endpoint": arn(stack, queue),
            "RawMessageDelivery": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": arn(stack, fan.dead_letter_queues["QueueSubscriber1"])
            },
        },
    )


def test_queue_subscriber_queue_allows_only_this_topic(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    queue = fan.add_queue_subscriber()
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [ref(stack, queue)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "sqs:SendMessage",
                            "Condition": {"ArnEquals": {"aws:SourceArn": ref(stack, fan.topic)}},
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Resource": arn(stack, queue),
                        }
                    ]
                )
            },
        },
    )


def test_existing_queue_subscriber_and_raw_delivery_off(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    mine = sqs.Queue(stack, "Mine")
    assert fan.add_queue_subscriber(mine, raw_message_delivery=False) is mine
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Endpoint": arn(stack, mine), "RawMessageDelivery": False},
    )
    assert "Mine" in fan.dead_letter_queues


def test_add_worker_returns_a_queue_worker_subscribed_to_the_topic(stack: cdk.Stack) -> None:
    topic_for_alarms = sns.Topic(stack, "Alarms")
    fan = FanOutTopic(stack, "Fan", alarm_topic=topic_for_alarms)
    handler = function(stack, "Thumbs")
    worker = fan.add_worker(handler, batch_size=5, filter_policy=attribute_filter("image"))
    assert isinstance(worker, QueueWorker)
    assert fan.workers == {"ThumbsWorker": worker}
    assert worker.alarm_topic is topic_for_alarms
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Endpoint": arn(stack, worker.queue), "FilterPolicy": {"kind": ["image"]}},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 5, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    assert all(alarm in fan.alarms for alarm in worker.alarms)


def test_fifo_topic_gets_fifo_worker_and_fifo_dead_letter_queues(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan", fifo=True, content_based_deduplication=True)
    fan.add_worker(function(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Topic", {"FifoTopic": True, "ContentBasedDeduplication": True}
    )
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 3
    assert all(q["Properties"]["FifoQueue"] is True for q in queues.values())


# --- S3 source -------------------------------------------------------------------------------


def named_bucket(stack: cdk.Stack) -> s3.Bucket:
    return s3.Bucket(stack, "Uploads", bucket_name=f"uploads-{Aws.ACCOUNT_ID}-{Aws.REGION}")


def bucket_arn() -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":s3:::uploads-",
                {"Ref": "AWS::AccountId"},
                "-",
                {"Ref": "AWS::Region"},
            ],
        ]
    }


def test_s3_source_is_a_property_of_a_named_bucket(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    bucket = named_bucket(stack)
    fan.add_s3_source(
        bucket,
        s3.EventType.OBJECT_CREATED,
        s3.EventType.OBJECT_REMOVED,
        prefix="in/",
        suffix=".png",
    )
    template = Template.from_stack(stack)
    key_filter = {
        "S3Key": {
            "Rules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".png"}]
        }
    }
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "NotificationConfiguration": {
                    "TopicConfigurations": [
                        {
                            "Event": "s3:ObjectCreated:*",
                            "Filter": key_filter,
                            "Topic": ref(stack, fan.topic),
                        },
                        {
                            "Event": "s3:ObjectRemoved:*",
                            "Filter": key_filter,
                            "Topic": ref(stack, fan.topic),
                        },
                    ]
                }
            },
            "DependsOn": [Match.string_like_regexp("FanTopicPolicy")],
        },
    )
    template.resource_count_is("Custom::S3BucketNotifications", 0)


def test_s3_source_is_allowed_to_publish_for_that_bucket_and_account_only(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_s3_source(named_bucket(stack), s3.EventType.OBJECT_CREATED)
    conditions = {
        "ArnLike": {"aws:SourceArn": bucket_arn()},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Effect": "Allow",
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Condition": conditions,
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Resource": "*",
                            "Condition": conditions,
                        }
                    ]
                )
            }
        },
    )


def test_s3_source_of_an_unnamed_bucket_uses_cdk_notifications(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_s3_source(s3.Bucket(stack, "Unnamed"), s3.EventType.OBJECT_CREATED)
    Template.from_stack(stack).resource_count_is("Custom::S3BucketNotifications", 1)


def test_existing_topic_is_used_as_is(stack: cdk.Stack) -> None:
    existing = sns.Topic.from_topic_arn(
        stack, "Existing", "arn:aws:sns:us-east-1:123456789012:events"
    )
    fan = FanOutTopic(stack, "Fan", topic=existing)
    fan.add_queue_subscriber()
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:events"}
    )
    assert fan.topic is existing


def test_given_key_encrypts_the_topic(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    fan = FanOutTopic(stack, "Fan", encryption_key=key)
    assert fan.encryption_key is key
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": arn(stack, key)}
    )


def test_imported_key_with_s3_source_warns_about_its_key_policy(stack: cdk.Stack) -> None:
    key = kms.Key.from_key_arn(stack, "Imported", "arn:aws:kms:us-east-1:123456789012:key/abc")
    fan = FanOutTopic(stack, "Fan", encryption_key=key)
    fan.add_s3_source(named_bucket(stack), s3.EventType.OBJECT_CREATED)
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Fan", Match.string_like_regexp("allow s3.amazonaws.com kms:GenerateDataKey")
    )


def test_grant_publish_allows_publish_and_the_key(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.AccountRootPrincipal())
    fan.grant_publish(publisher)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "sns:Publish",
                            "Effect": "Allow",
                            "Resource": ref(stack, fan.topic),
                        },
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Resource": arn(stack, fan.encryption_key),
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_alarm_topic_is_notified_by_every_alarm(stack: cdk.Stack) -> None:
    alarms = sns.Topic(stack, "Alarms")
    fan = FanOutTopic(stack, "Fan", alarm_topic=alarms)
    fan.add_lambda_subscriber(function(stack, "A"))
    fan.add_queue_subscriber()
    fan.add_worker(function(stack, "W"))
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    # topic 2; Lambda subscriber: DLQ, failures, health 3; queue subscriber: its DLQ and the
    # subscription's; worker: subscription DLQ, DLQ, age, health 3
    assert len(found) == len(fan.alarms) == 2 + 5 + 2 + 6
    for alarm in found.values():
        assert alarm["Properties"]["AlarmActions"] == [ref(stack, alarms)]
        assert alarm["Properties"]["OKActions"] == [ref(stack, alarms)]


# --- bad input -------------------------------------------------------------------------------


def test_fifo_topic_rejects_a_lambda_subscriber(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan", fifo=True)
    handler = function(stack)
    with pytest.raises(
        ValueError,
        match=error(
            "function=<TestStack/Subscriber> cannot subscribe to a FIFO topic: SNS FIFO topics "
            "deliver only to SQS queues (allowed: add_queue_subscriber/add_worker with a FIFO "
            "queue, or a standard topic)"
        ),
    ):
        fan.add_lambda_subscriber(handler)


def test_fifo_topic_rejects_a_standard_queue(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan", fifo=True)
    queue = sqs.Queue(stack, "Standard")
    with pytest.raises(
        ValueError,
        match=error(
            "queue=<TestStack/Standard> is a standard queue but the topic is FIFO "
            "(allowed: a FIFO queue, or leave it out)"
        ),
    ):
        fan.add_queue_subscriber(queue)


def test_standard_topic_rejects_a_fifo_queue(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    queue = sqs.Queue(stack, "Ordered", fifo=True)
    with pytest.raises(ValueError, match="is a FIFO queue but the topic is standard"):
        fan.add_queue_subscriber(queue)


def test_filter_policy_with_more_than_five_keys_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    policy = {k: sns.SubscriptionFilter.string_filter(allowlist=["x"]) for k in "abcdef"}
    with pytest.raises(
        ValueError,
        match=error(
            "filter_policy=['a', 'b', 'c', 'd', 'e', 'f'] has 6 keys (allowed: at most 5 keys)"
        ),
    ):
        fan.add_queue_subscriber(filter_policy=policy)


def test_filter_policy_with_more_than_150_combinations_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    policy = {
        "a": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(10)]),
        "b": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(16)]),
    }
    with pytest.raises(
        ValueError,
        match=error(
            "filter_policy={'a': 10, 'b': 16} has 160 combinations of values (the product of the "
            "value counts, each times its key's nesting depth) (allowed: at most 150)"
        ),
    ):
        fan.add_queue_subscriber(filter_policy=policy)


def test_filter_policy_at_150_combinations_is_accepted(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    policy = {
        "a": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(10)]),
        "b": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(15)]),
    }
    fan.add_queue_subscriber(filter_policy=policy)
    assert len(fan.subscriptions) == 1


def test_nested_filter_policy_under_message_attributes_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    nested = {
        "order": sns.FilterOrPolicy.policy(
            {
                "kind": sns.FilterOrPolicy.filter(
                    sns.SubscriptionFilter.string_filter(allowlist=["a"])
                )
            }
        )
    }
    with pytest.raises(
        ValueError,
        match=error(
            "filter_policy=['order'] nests a policy under the MessageAttributes scope (attributes "
            "are flat) (allowed: SubscriptionFilter values or lists of values, or "
            "filter_policy_scope='MessageBody')"
        ),
    ):
        fan.add_queue_subscriber(filter_policy=nested)


def test_filter_policy_with_an_empty_value_list_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    with pytest.raises(
        ValueError,
        match=error(
            "filter_policy=['kind'] has an empty value list (it would match nothing) "
            "(allowed: at least one value per key)"
        ),
    ):
        fan.add_queue_subscriber(filter_policy={"kind": sns.SubscriptionFilter(conditions=[])})


def test_s3_source_without_event_types_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    bucket = named_bucket(stack)
    with pytest.raises(
        ValueError,
        match=error(
            "event_types=() is empty: the bucket would publish nothing (allowed: one or more "
            "s3.EventType, e.g. s3.EventType.OBJECT_CREATED)"
        ),
    ):
        fan.add_s3_source(bucket)


def test_s3_source_on_a_fifo_topic_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan", fifo=True)
    with pytest.raises(ValueError, match="cannot publish to a FIFO topic"):
        fan.add_s3_source(named_bucket(stack), s3.EventType.OBJECT_CREATED)


def test_existing_topic_with_created_topic_options_is_rejected(stack: cdk.Stack) -> None:
    existing = sns.Topic(stack, "Existing")
    with pytest.raises(
        ValueError,
        match=error(
            "fifo=True only shapes a topic this construct creates, but topic= was given "
            "(allowed: leave it out, or drop topic=)"
        ),
    ):
        FanOutTopic(stack, "Fan", topic=existing, fifo=True)


def test_content_based_deduplication_needs_fifo(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError,
        match=error(
            "content_based_deduplication=True needs a FIFO topic (allowed: fifo=True, or False)"
        ),
    ):
        FanOutTopic(stack, "Fan", content_based_deduplication=True)


def test_duplicate_subscriber_id_is_rejected(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    fan.add_queue_subscriber(id="Audit")
    with pytest.raises(
        ValueError,
        match=error(
            "id='Audit' is already used by another subscriber of this topic "
            "(allowed: a unique id per subscriber (pass id=...))"
        ),
    ):
        fan.add_queue_subscriber(id="Audit")


def test_worker_rejects_options_the_topic_decides(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    handler = function(stack)
    with pytest.raises(ValueError, match=r"fifo=True is decided by the topic for a worker"):
        fan.add_worker(handler, fifo=True)


def test_lambda_subscriber_rejects_bad_retry_and_age(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    handler = function(stack)
    with pytest.raises(ValueError, match=r"2 problems:") as failure:
        fan.add_lambda_subscriber(handler, retry_attempts=3, max_event_age=Duration.hours(7))
    assert "retry_attempts=3 is not allowed (allowed: 0..2)" in str(failure.value)
    assert (
        "max_event_age=Duration.seconds(25200) is not allowed (allowed: 60..21600 seconds)"
        in str(failure.value)
    )


def test_imported_function_without_role_is_rejected_as_lambda_subscriber(stack: cdk.Stack) -> None:
    fan = FanOutTopic(stack, "Fan")
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:legacy"
    )
    with pytest.raises(ValueError, match="is imported without a role"):
        fan.add_lambda_subscriber(imported)


# --- SNS's own JSON form of filter policies --------------------------------------------------


def synthesized_policy(stack: cdk.Stack) -> tuple[dict[str, Any], str]:
    subscriptions = Template.from_stack(stack).find_resources("AWS::SNS::Subscription")
    (properties,) = [s["Properties"] for s in subscriptions.values()]
    return properties["FilterPolicy"], properties.get("FilterPolicyScope", "MessageAttributes")


def test_json_filter_policy_is_taken_as_sns_documents_it(stack: cdk.Stack) -> None:
    policy = {"type": ["OrderPlaced", {"prefix": "Refund"}], "total": [{"numeric": [">", 100]}]}
    FanOutTopic(stack, "Fan").add_queue_subscriber(filter_policy=policy)
    assert synthesized_policy(stack) == (policy, "MessageAttributes")


def test_json_filter_policy_on_the_body_may_nest(stack: cdk.Stack) -> None:
    policy = {"order": {"type": ["OrderPlaced"], "store": [{"exists": False}]}}
    FanOutTopic(stack, "Fan").add_queue_subscriber(
        filter_policy=policy, filter_policy_scope="MessageBody"
    )
    assert synthesized_policy(stack) == (policy, "MessageBody")


@pytest.mark.parametrize(
    ("attributes", "delivered"),
    [
        ({"type": "OrderPlaced", "total": 150}, True),
        ({"type": "RefundIssued", "total": 101}, True),
        ({"type": "OrderPlaced", "total": 50}, False),
        ({"type": "OrderShipped", "total": 500}, False),
        ({"total": 500}, False),
    ],
)
def test_json_filter_policy_selects_what_sns_would_deliver(
    stack: cdk.Stack, attributes: dict[str, Any], delivered: bool
) -> None:
    """The synthesized policy, evaluated by moto's implementation of SNS's matcher."""
    from moto.sns.utils import FilterPolicyMatcher

    policy = {"type": ["OrderPlaced", {"prefix": "Refund"}], "total": [{"numeric": [">", 100]}]}
    FanOutTopic(stack, "Fan").add_queue_subscriber(filter_policy=policy)
    synthesized, scope = synthesized_policy(stack)
    message_attributes = {
        name: {"Type": "Number" if isinstance(value, int) else "String", "Value": str(value)}
        for name, value in attributes.items()
    }
    matcher = FilterPolicyMatcher(synthesized, scope)
    assert matcher.matches(message_attributes, "{}") is delivered


def test_cdk_and_json_forms_mix_in_one_policy(stack: cdk.Stack) -> None:
    FanOutTopic(stack, "Fan").add_queue_subscriber(
        filter_policy={
            "type": sns.SubscriptionFilter.string_filter(allowlist=["OrderPlaced"]),
            "region": ["eu", "us"],
        }
    )
    assert synthesized_policy(stack)[0] == {"type": ["OrderPlaced"], "region": ["eu", "us"]}


def test_imported_topic_as_s3_destination_warns_with_the_statement_to_add(
    stack: cdk.Stack,
) -> None:
    topic = sns.Topic.from_topic_arn(stack, "Shared", "arn:aws:sns:us-east-1:123456789012:shared")
    FanOutTopic(stack, "Fan", topic=topic).add_s3_source(
        s3.Bucket(stack, "Uploads"), s3.EventType.OBJECT_CREATED
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Fan",
        Match.string_like_regexp(
            r"add this statement to it yourself.*sns:Publish.*s3\.amazonaws\.com"
        ),
    )


def test_a_nested_body_policy_counts_values_times_their_depth_as_sns_does(
    stack: cdk.Stack,
) -> None:
    """40 values four levels deep are 160 combinations for SNS (and CDK), not 40."""
    suffixes = [{"suffix": f".{i:02d}"} for i in range(40)]
    policy = {"Records": {"s3": {"object": {"key": suffixes}}}}
    with pytest.raises(ValueError, match=r"has 160 combinations of values"):
        FanOutTopic(stack, "Fan").add_queue_subscriber(
            filter_policy=policy, filter_policy_scope="MessageBody"
        )
