"""Hand-written twins of the L3 constructs: the same resources with plain aws-cdk-lib.

Each twin creates exactly what its construct creates for the benchmark's configuration (same
resource types and counts, same properties, even the same construct ids so the logical ids
match) but writes it out the way one would without the library: L2 constructs and literal
values, no validation, no derived defaults, no cdk-nag or cfn-lint acknowledgements. The warm
synth benchmark divides the construct's time by its twin's, so the ratio is the L3's overhead.

The smoke test (``tests/benchmarks/test_bench_smoke.py``) compares the resource type counts of
every twin with its construct's: when a construct changes what it creates, change its twin.

Only aws-cdk-lib is imported: the QueueWorker twin also runs in the Solutions Constructs venv.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from benchmarks.cdk_common import inline_function

_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING


def _dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        retention_period=Duration.days(14),
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
    )


def _queue(
    scope: Construct, dlq: sqs.Queue, *, visibility: Duration, max_receive_count: int = 5
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        "Queue",
        visibility_timeout=visibility,
        retention_period=Duration.days(4),
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
    )


def _messages_visible_alarm(scope: Construct, id: str, queue: sqs.Queue) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_description=f"Messages in {queue.node.path}: work failed and waits to be handled",
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=_GTE,
        treat_missing_data=_NOT_BREACHING,
    )


def _function_health(scope: Construct, prefix: str, function: lambda_.Function) -> None:
    """Error rate, throttles and p99 duration near the (default 3 s) timeout."""
    for kind, metric, threshold, comparison in (
        (
            "Errors",
            cloudwatch.MathExpression(
                expression="100 * errors / MAX([errors, invocations])",
                using_metrics={
                    "errors": function.metric_errors(statistic=cloudwatch.Stats.SUM),
                    "invocations": function.metric_invocations(statistic=cloudwatch.Stats.SUM),
                },
                period=Duration.minutes(5),
            ),
            5,
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        ),
        (
            "Throttles",
            function.metric_throttles(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            1,
            _GTE,
        ),
        (
            "Duration",
            function.metric_duration(
                period=Duration.minutes(5), statistic=cloudwatch.Stats.percentile(99)
            ),
            2400,
            _GTE,
        ),
    ):
        cloudwatch.Alarm(
            scope,
            f"{prefix}{kind}Alarm",
            alarm_description=f"{function.node.path}: {kind.lower()}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=comparison,
            treat_missing_data=_NOT_BREACHING,
        )


def queue_worker_twin(scope: Construct, id: str, handler: lambda_.Function) -> sqs.Queue:
    """``QueueWorker(scope, id, handler=handler)`` for a function with the default 3 s timeout."""
    worker = Construct(scope, id)
    dlq = _dead_letter_queue(worker, "DeadLetterQueue")
    queue = _queue(worker, dlq, visibility=Duration.seconds(18))  # 6 x the function's 3 s
    queue.grant_consume_messages(handler)
    lambda_.EventSourceMapping(
        worker,
        "EventSourceMapping",
        target=handler,
        event_source_arn=queue.queue_arn,
        batch_size=10,
        report_batch_item_failures=True,
        enabled=True,
    )
    _messages_visible_alarm(worker, "DeadLetterQueueAlarm", dlq)
    cloudwatch.Alarm(
        worker,
        "MessageAgeAlarm",
        alarm_description=(
            f"Oldest message in {queue.node.path} is older than 90 s: the consumer is not "
            "keeping up or is failing"
        ),
        metric=queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=90,  # 5 receives x 18 s visibility
        evaluation_periods=5,
        datapoints_to_alarm=3,
        comparison_operator=_GTE,
        treat_missing_data=_NOT_BREACHING,
    )
    _function_health(worker, "Function", handler)
    return queue


def _subscription_dead_letter_queue(fan_out: Construct, subscriber_id: str) -> sqs.Queue:
    dlq = _dead_letter_queue(fan_out, f"{subscriber_id}SubscriptionDeadLetterQueue")
    _messages_visible_alarm(fan_out, f"{subscriber_id}SubscriptionDeadLetterAlarm", dlq)
    return dlq


def fan_out_topic_twin(
    scope: Construct,
    id: str,
    *,
    lambda_subscriber: lambda_.Function,
    lambda_subscriber_id: str,
    worker: lambda_.Function,
    worker_id: str,
    queue_subscriber_id: str,
) -> sns.Topic:
    """``FanOutTopic`` with ``add_lambda_subscriber``, ``add_worker`` and a created queue.

    The same as::

        fan_out = FanOutTopic(scope, id)
        fan_out.add_lambda_subscriber(lambda_subscriber, id=lambda_subscriber_id)
        fan_out.add_worker(worker, id=worker_id)
        fan_out.add_queue_subscriber(id=queue_subscriber_id)
    """
    fan_out = Construct(scope, id)
    key = kms.Key(
        fan_out,
        "Key",
        enable_key_rotation=True,
        description=f"Encrypts the messages of {fan_out.node.path}",
    )
    topic = sns.Topic(
        fan_out,
        "Topic",
        master_key=key,
        enforce_ssl=True,
        signature_version="2",
        tracing_config=sns.TracingConfig.ACTIVE,
    )
    for alarm_id, description, metric_name in (
        (
            "NotificationsFailedAlarm",
            "SNS failed to deliver notifications to a subscriber",
            "NumberOfNotificationsFailed",
        ),
        (
            "RedriveFailedAlarm",
            "undeliverable messages could not be moved to a subscription's dead-letter queue "
            "and are lost",
            "NumberOfNotificationsFailedToRedriveToDlq",
        ),
    ):
        cloudwatch.Alarm(
            fan_out,
            alarm_id,
            alarm_description=f"{fan_out.node.path}: {description}",
            metric=topic.metric(
                metric_name, period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=_GTE,
            treat_missing_data=_NOT_BREACHING,
        )

    # Lambda subscriber: SNS invokes the function; undelivered and failed events are kept.
    subscriber_id = lambda_subscriber_id
    dlq = _subscription_dead_letter_queue(fan_out, subscriber_id)
    failures = _dead_letter_queue(fan_out, f"{subscriber_id}InvokeFailureQueue")
    lambda_.EventInvokeConfig(
        fan_out,
        f"{subscriber_id}InvokeConfig",
        function=lambda_subscriber,
        on_failure=destinations.SqsDestination(failures),
        max_event_age=Duration.hours(6),
        retry_attempts=2,
    )
    _messages_visible_alarm(fan_out, f"{subscriber_id}InvokeFailureAlarm", failures)
    _function_health(fan_out, subscriber_id, lambda_subscriber)
    permission = lambda_.CfnPermission(
        fan_out,
        f"{subscriber_id}InvokePermission",
        action="lambda:InvokeFunction",
        function_name=lambda_subscriber.function_name,
        principal="sns.amazonaws.com",
        source_arn=topic.topic_arn,
    )
    subscription = sns.Subscription(
        fan_out,
        f"{subscriber_id}Subscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.LAMBDA,
        endpoint=lambda_subscriber.function_arn,
        dead_letter_queue=dlq,
    )
    subscription.node.add_dependency(permission)

    # Worker: a queue worker subscribed to the topic.
    worker_queue = queue_worker_twin(fan_out, worker_id, worker)
    topic.add_subscription(
        subscriptions.SqsSubscription(
            worker_queue,
            dead_letter_queue=_subscription_dead_letter_queue(fan_out, worker_id),
            raw_message_delivery=True,
        )
    )

    # Queue subscriber: a created queue with its own DLQ.
    holder = Construct(fan_out, queue_subscriber_id)
    queue_dlq = _dead_letter_queue(holder, "DeadLetterQueue")
    queue = _queue(holder, queue_dlq, visibility=Duration.seconds(30))
    _messages_visible_alarm(fan_out, f"{queue_subscriber_id}QueueDeadLetterAlarm", queue_dlq)
    topic.add_subscription(
        subscriptions.SqsSubscription(
            queue,
            dead_letter_queue=_subscription_dead_letter_queue(fan_out, queue_subscriber_id),
            raw_message_delivery=True,
        )
    )
    return topic


def kinesis_batch_consumer_twin(
    scope: Construct, id: str, handler: lambda_.Function
) -> kinesis.Stream:
    """``KinesisBatchConsumer(scope, id, handler=handler)``: a stream and one consumer."""
    consumer_group = Construct(scope, id)
    stream = kinesis.Stream(
        consumer_group,
        "Stream",
        stream_mode=kinesis.StreamMode.ON_DEMAND,
        retention_period=Duration.hours(24),
        encryption=kinesis.StreamEncryption.MANAGED,
    )
    for direction, metric in (
        ("Write", stream.metric_write_provisioned_throughput_exceeded),
        ("Read", stream.metric_read_provisioned_throughput_exceeded),
    ):
        cloudwatch.Alarm(
            consumer_group,
            f"{direction}ThroughputExceededAlarm",
            alarm_description=(
                f"{consumer_group.node.path}: {direction.lower()}s to the stream were throttled"
            ),
            metric=metric(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=_GTE,
            treat_missing_data=_NOT_BREACHING,
        )

    consumer = Construct(consumer_group, "Consumer")
    failures = _dead_letter_queue(consumer, "FailureQueue")
    stream.grant_read(handler)
    lambda_.EventSourceMapping(
        consumer,
        "EventSourceMapping",
        target=handler,
        event_source_arn=stream.stream_arn,
        batch_size=100,
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        parallelization_factor=1,
        retry_attempts=3,
        max_record_age=Duration.hours(1),
        bisect_batch_on_error=True,
        report_batch_item_failures=True,
        on_failure=event_sources.SqsDlq(failures),
    )
    _messages_visible_alarm(consumer, "FailureDestinationAlarm", failures)
    cloudwatch.Alarm(
        consumer,
        "IteratorAgeAlarm",
        alarm_description=(
            f"{consumer.node.path}: the consumer is more than 300 s behind the stream"
        ),
        metric=handler.metric(
            "IteratorAge", period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=300_000,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        comparison_operator=_GTE,
        treat_missing_data=_NOT_BREACHING,
    )
    _function_health(consumer, "Function", handler)
    return stream


# --- the benchmark's stacks ------------------------------------------------------------------
# The same construct ids and handler functions as the construct side in
# benchmarks/synth_warm.py, so both templates have the same logical ids.


def _queue_worker_stack(stack: Stack) -> None:
    queue_worker_twin(stack, "Worker", inline_function(stack, "Handler"))


def _fan_out_topic_stack(stack: Stack) -> None:
    audit = inline_function(stack, "AuditHandler")
    work = inline_function(stack, "WorkHandler")
    fan_out_topic_twin(
        stack,
        "FanOut",
        lambda_subscriber=audit,
        lambda_subscriber_id="Audit",
        worker=work,
        worker_id="Work",
        queue_subscriber_id="Archive",
    )


def _kinesis_batch_consumer_stack(stack: Stack) -> None:
    kinesis_batch_consumer_twin(stack, "Clicks", inline_function(stack, "Handler"))


#: Construct name -> what its twin puts into a benchmark stack.
TWIN_STACKS: dict[str, Callable[[Stack], None]] = {
    "QueueWorker": _queue_worker_stack,
    "FanOutTopic": _fan_out_topic_stack,
    "KinesisBatchConsumer": _kinesis_batch_consumer_stack,
}
