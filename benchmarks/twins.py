"""Hand-written twins of the L3 constructs: the same resources with plain aws-cdk-lib.

Each twin creates exactly what its construct creates for the benchmark's configuration (the
same template apart from resource Metadata, even the same construct ids so the logical ids
match) but writes it out the way one would without the library: L2 constructs and literal
values, no validation, no derived defaults, no cdk-nag or cfn-lint acknowledgements. The warm
synth benchmark divides the construct's time by its twin's, so the ratio is the L3's overhead.

The smoke test (``tests/benchmarks/test_bench_smoke.py``) requires every twin's template to
equal its construct's (``same_resources``): when a construct changes what it creates, change
its twin; ``python -m benchmarks.synth_warm --diff`` prints what differs.

Only aws-cdk-lib is imported at the top: the QueueWorker twin also runs in the Solutions
Constructs venv, which has no serverless_patterns (see :func:`_prebuilt_layer`).
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from aws_cdk import AssetHashType, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from benchmarks.cdk_common import encrypted_topic, inline_function

_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING
_ONE_MINUTE = Duration.minutes(1)
_FIVE_MINUTES = Duration.minutes(5)
_FOURTEEN_DAYS = Duration.days(14)
_SUM = cloudwatch.Stats.SUM
_MAXIMUM = cloudwatch.Stats.MAXIMUM
_MINIMUM = cloudwatch.Stats.MINIMUM
_AVERAGE = cloudwatch.Stats.AVERAGE
_P99 = cloudwatch.Stats.percentile(99)

#: The handlers the constructs ship (router, probe, translator), one folder each.
_PACKAGED_HANDLERS = Path(__file__).resolve().parent.parent / "serverless_patterns" / "_lambda"
#: Byte code changes an asset's hash from machine to machine.
_ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]


# --- alarms ------------------------------------------------------------------------------------


def _alarm(
    scope: Construct,
    id: str,
    *,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = _GTE,
    treat_missing_data: cloudwatch.TreatMissingData = _NOT_BREACHING,
    notify: sns.ITopic | None = None,
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=treat_missing_data,
    )
    if notify is not None:
        action = cloudwatch_actions.SnsAction(notify)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
    return alarm


def _redrive_command(owner: Construct) -> str:
    stack = Stack.of(owner)
    below = owner.node.path.removeprefix(f"{stack.node.path}/")
    return f"serverless-patterns redrive --stack {stack.stack_name} --construct {below}"


def _dead_letter_alarm(
    scope: Construct,
    id: str,
    queue: sqs.IQueue,
    *,
    read: str,
    owner: Construct,
    notify: sns.ITopic | None = None,
) -> cloudwatch.Alarm:
    """ALARM on the first message in ``queue``; ``read`` says where the error is, ``owner`` is
    what ``serverless-patterns redrive`` takes the work back from."""
    return _alarm(
        scope,
        id,
        description=(
            f"{queue.node.path}: at least 1 message(s) wait in this dead-letter queue: work "
            "failed every retry and was set aside (kept 14 days). First: read one message and "
            f"the error in {read}; fix the cause; then put the work back with "
            f"`{_redrive_command(owner)}` (--dry-run shows what it would move)."
        ),
        metric=queue.metric_approximate_number_of_messages_visible(
            period=_ONE_MINUTE, statistic=_MAXIMUM
        ),
        threshold=1,
        notify=notify,
    )


def _message_age_alarm(
    scope: Construct, id: str, queue: sqs.IQueue, seconds: int, *, consumer: str
) -> cloudwatch.Alarm:
    return _alarm(
        scope,
        id,
        description=(
            f"{queue.node.path}: the oldest message is older than {seconds} s: {consumer} is "
            "not keeping up or is failing. First: its errors, throttles and duration on the "
            "dashboard; if it fails, read its logs; if it is healthy but slow, raise its "
            "concurrency or batch size."
        ),
        metric=queue.metric_approximate_age_of_oldest_message(
            period=_ONE_MINUTE, statistic=_MAXIMUM
        ),
        threshold=seconds,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    )


def _function_health(
    scope: Construct,
    prefix: str,
    function: lambda_.IFunction,
    *,
    timeout_seconds: int,
    after_failure: str,
    notify: sns.ITopic | None = None,
) -> None:
    """Error rate, throttles and p99 duration near the timeout; ``after_failure`` says what
    becomes of failed work."""
    name = function.node.path
    _alarm(
        scope,
        f"{prefix}ErrorsAlarm",
        description=(
            f"{name}: more than 5% of its invocations failed. First: its logs (CloudWatch Logs "
            "Insights on its log group, level ERROR) and X-Ray traces for the exception. "
            f"{after_failure}"
        ),
        metric=cloudwatch.MathExpression(
            expression="100 * errors / MAX([errors, invocations])",
            using_metrics={
                "errors": function.metric_errors(statistic=_SUM),
                "invocations": function.metric_invocations(statistic=_SUM),
            },
            label="Error rate (%)",
            period=_FIVE_MINUTES,
        ),
        threshold=5,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison=_GT,
        notify=notify,
    )
    _alarm(
        scope,
        f"{prefix}ThrottlesAlarm",
        description=(
            f"{name}: Lambda throttled at least 1 invocation(s) in 5 minutes (no concurrency "
            "left). First: the account's ConcurrentExecutions and this function's reserved "
            "concurrency; raise the limit or lower the event source's maximum concurrency. "
            "Throttled work is retried."
        ),
        metric=function.metric_throttles(period=_FIVE_MINUTES, statistic=_SUM),
        threshold=1,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        notify=notify,
    )
    _alarm(
        scope,
        f"{prefix}DurationAlarm",
        description=(
            f"{name}: p99 duration is above 80% of its {timeout_seconds} s timeout: invocations "
            "are about to time out and be retried. First: X-Ray traces for the slow calls; then "
            "raise the timeout (a queue's visibility timeout follows) or lower the batch size."
        ),
        metric=function.metric_duration(period=_FIVE_MINUTES, statistic=_P99),
        threshold=timeout_seconds * 800,  # 80% of the timeout, in milliseconds
        evaluation_periods=3,
        datapoints_to_alarm=2,
        notify=notify,
    )


def _api_server_errors_alarm(
    scope: Construct, id: str, api: apigateway.RestApi, *, behind: str
) -> cloudwatch.Alarm:
    return _alarm(
        scope,
        id,
        description=(
            f"{scope.node.path}: more than 5% of the API's requests were answered 5XX. First: "
            f"the API's access log (status, integration error) and {behind}; callers see the "
            "errors, nothing is kept for a retry."
        ),
        metric=api.metric_server_error(period=_FIVE_MINUTES, statistic=_AVERAGE),
        threshold=0.05,  # the average of 5XXError is the share of requests
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison=_GT,
    )


# --- queues --------------------------------------------------------------------------------------


def _dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        retention_period=_FOURTEEN_DAYS,
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


# --- functions and layers ------------------------------------------------------------------------

_LAYER_RUNTIMES = [
    lambda_.Runtime.PYTHON_3_10,
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
]
_LAYER_ARCHITECTURES = [lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64]


def _prebuilt_layer(name: str) -> tuple[str, str]:
    """The folder of layer ``name`` (``"powertools"`` or ``"stage"``) and its content hash.

    The build step of a layer, done once per process (cached there) as a build script would
    before ``cdk synth``: the twin app's, which rebuilds the library's folders without importing
    the library (imported here, not at the top: the Solutions Constructs venv has no
    Powertools), so both templates name the same asset. The twin deploys the folder like any
    prebuilt one, with its known hash.
    """
    from benchmarks.twin_examples import _layers

    return _layers.powertools_folder() if name == "powertools" else _layers.stage_folder()


def _prebuilt_layer_version(
    stack: Stack, id: str, name: str, description: str
) -> lambda_.LayerVersion:
    directory, content_hash = _prebuilt_layer(name)
    return lambda_.LayerVersion(
        stack,
        id,
        code=lambda_.Code.from_asset(
            directory, asset_hash=content_hash, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=_LAYER_RUNTIMES,
        compatible_architectures=_LAYER_ARCHITECTURES,
        description=description,
    )


def powertools_layer(stack: Stack) -> lambda_.LayerVersion:
    """The stack's layer with Powertools for AWS Lambda (Python) and its dependencies."""
    version = importlib.metadata.version("aws-lambda-powertools")
    return _prebuilt_layer_version(
        stack,
        "PowertoolsLayer",
        "powertools",
        f"Powertools for AWS Lambda (Python) {version}, built from the local install",
    )


def stage_layer(stack: Stack) -> lambda_.LayerVersion:
    """The stack's layer with the pipeline stage helper (``serverless_patterns.stage``)."""
    return _prebuilt_layer_version(
        stack,
        "PipelineStageLayer",
        "stage",
        "serverless_patterns.stage: the FilterPipeline stage helper",
    )


def _python_function(
    scope: Construct,
    id: str,
    *,
    folder: str,
    layer: lambda_.ILayerVersion,
    service_name: str,
    timeout_seconds: int,
    environment: dict[str, str],
    description: str,
    metrics_namespace: str = "ServerlessPatterns",
) -> lambda_.Function:
    """A packaged handler on ARM64 with JSON logs into its own log group (one month), a role of
    its own without managed policies, and X-Ray tracing with its permissions in a policy apart."""
    log_group = logs.LogGroup(
        scope,
        f"{id}LogGroup",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {scope.node.path}/{id}",
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        scope,
        id,
        code=lambda_.Code.from_asset(str(_PACKAGED_HANDLERS / folder), exclude=_ASSET_EXCLUDES),
        handler="app.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        memory_size=256,
        timeout=Duration.seconds(timeout_seconds),
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        role=role,
        layers=[layer],
        environment={
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
            **environment,
        },
        description=description,
    )
    # Tracing on the function's L1 (as the constructs do): the L2's tracing= would put the X-Ray
    # statement into the role's default policy.
    cfn_function = function.node.default_child
    assert isinstance(cfn_function, lambda_.CfnFunction)
    cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
    tracing_policy = iam.Policy(
        scope,
        f"{id}TracingPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            )
        ],
    )
    function.node.add_dependency(tracing_policy)
    return function


def _async_failure_queue(
    scope: Construct,
    prefix: str,
    function: lambda_.IFunction,
    *,
    retry_attempts: int,
    owner: Construct,
    max_event_age: Duration | None = None,
    notify: sns.ITopic | None = None,
) -> sqs.Queue:
    """An on-failure queue of ``function``'s asynchronous invocations, alarmed on."""
    queue = _dead_letter_queue(scope, f"{prefix}FailureQueue")
    lambda_.EventInvokeConfig(
        scope,
        f"{prefix}InvokeConfig",
        function=function,
        on_failure=destinations.SqsDestination(queue),
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
    )
    _dead_letter_alarm(
        scope,
        f"{prefix}FailureAlarm",
        queue,
        read=f"the record's responsePayload and the logs of {function.node.path}",
        owner=owner,
        notify=notify,
    )
    return queue


def _rest_api(
    scope: Construct, *, description: str, name: str, **stage_options: object
) -> apigateway.RestApi:
    """A regional REST API, IAM-authorized, traced and throttled, with JSON access logs."""
    access_logs = logs.LogGroup(scope, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
    return apigateway.RestApi(
        scope,
        "Api",
        rest_api_name=name,
        description=description,
        endpoint_types=[apigateway.EndpointType.REGIONAL],
        cloud_watch_role=False,
        deploy_options=apigateway.StageOptions(
            stage_name="v1",
            tracing_enabled=True,
            metrics_enabled=True,
            throttling_rate_limit=50,
            throttling_burst_limit=100,
            access_log_destination=apigateway.LogGroupLogDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
            **stage_options,  # type: ignore[arg-type]
        ),
        default_method_options=apigateway.MethodOptions(
            authorization_type=apigateway.AuthorizationType.IAM
        ),
    )


# --- QueueWorker, FanOutTopic, KinesisBatchConsumer ----------------------------------------------


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
    consumer = f"the function {handler.node.path}"
    _dead_letter_alarm(
        worker, "DeadLetterQueueAlarm", dlq, read=f"the logs of {consumer}", owner=worker
    )
    # 5 receives x 18 s visibility
    _message_age_alarm(worker, "MessageAgeAlarm", queue, 90, consumer=consumer)
    _function_health(
        worker,
        "Function",
        handler,
        timeout_seconds=3,
        after_failure=(
            f"Failed messages are retried, then kept in the dead-letter queue {dlq.node.path}."
        ),
    )
    return queue


def _subscription_dead_letter_queue(fan_out: Construct, subscriber_id: str) -> sqs.Queue:
    dlq = _dead_letter_queue(fan_out, f"{subscriber_id}SubscriptionDeadLetterQueue")
    _dead_letter_alarm(
        fan_out,
        f"{subscriber_id}SubscriptionDeadLetterAlarm",
        dlq,
        read="the topic's delivery status logs (why SNS could not deliver)",
        owner=fan_out,
    )
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
    path = fan_out.node.path
    key = kms.Key(
        fan_out,
        "Key",
        enable_key_rotation=True,
        description=f"Encrypts the messages of {path}",
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
            "SNS failed to deliver at least 1 notification(s) to a subscriber (after its "
            "retries). First: the topic's delivery status logs and each subscription's "
            "dead-letter queue, where the undelivered messages wait; then "
            f"`{_redrive_command(fan_out)}`.",
            "NumberOfNotificationsFailed",
        ),
        (
            "RedriveFailedAlarm",
            "at least 1 undeliverable message(s) could not be moved to a subscription's "
            "dead-letter queue and are lost. First: the DLQ's policy and key (SNS must be "
            "allowed to send and to use the key).",
            "NumberOfNotificationsFailedToRedriveToDlq",
        ),
    ):
        _alarm(
            fan_out,
            alarm_id,
            description=f"{path}: {description}",
            metric=topic.metric(metric_name, period=_FIVE_MINUTES, statistic=_SUM),
            threshold=1,
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
    _dead_letter_alarm(
        fan_out,
        f"{subscriber_id}InvokeFailureAlarm",
        failures,
        read=f"the record's responsePayload and the logs of {lambda_subscriber.node.path}",
        owner=fan_out,
    )
    _function_health(
        fan_out,
        subscriber_id,
        lambda_subscriber,
        timeout_seconds=3,
        after_failure=(
            f"Failed invocations are retried 2 time(s), then kept in {failures.node.path}."
        ),
    )
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
    _dead_letter_alarm(
        fan_out,
        f"{queue_subscriber_id}QueueDeadLetterAlarm",
        queue_dlq,
        read="the logs of the queue's consumer",
        owner=fan_out,
    )
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
    path = consumer_group.node.path
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
        _alarm(
            consumer_group,
            f"{direction}ThroughputExceededAlarm",
            description=(
                f"{path}: at least 1 {direction.lower()}(s) to the stream were throttled. "
                "First: IncomingBytes/IncomingRecords per shard on the dashboard (a hot "
                "partition key?); then more shards, an on-demand stream, or enhanced fan-out "
                "for readers."
            ),
            metric=metric(period=_FIVE_MINUTES, statistic=_SUM),
            threshold=1,
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
    _dead_letter_alarm(
        consumer,
        "FailureDestinationAlarm",
        failures,
        read=(
            f"the logs of {handler.node.path} (the record says which shard and sequence "
            "numbers failed)"
        ),
        owner=consumer_group,
    )
    _alarm(
        consumer,
        "IteratorAgeAlarm",
        description=(
            f"{consumer.node.path}: the consumer is more than 300 s behind the stream; records "
            "older than the retention are lost. First: its errors (a failing batch is retried "
            "and blocks its shard) and duration on the dashboard; if it is healthy but slow, "
            "raise the parallelization factor or batch size."
        ),
        metric=handler.metric("IteratorAge", period=_ONE_MINUTE, statistic=_MAXIMUM),
        threshold=300_000,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    )
    _function_health(
        consumer,
        "Function",
        handler,
        timeout_seconds=3,
        after_failure=(
            "Failing batches are bisected and retried, then described in the on-failure "
            f"destination {failures.node.path}; the records stay in the stream until they "
            "expire."
        ),
    )
    return stream


# --- CommandRouter -------------------------------------------------------------------------------


def command_router_twin(
    scope: Construct,
    id: str,
    *,
    layer: lambda_.ILayerVersion,
    get_user_v1: lambda_.Function,
    get_user_v2: lambda_.Function,
    welcome_email: lambda_.Function,
) -> apigateway.RestApi:
    """A router behind an IAM-authorized REST API, with three receivers. The same as::

    router = CommandRouter(scope, id)
    router.add_command("get-user", get_user_v1, default=True)
    router.add_command("get-user", get_user_v2, version="v2")
    router.add_command("send-welcome-email", welcome_email, asynchronous=True)
    """
    router = Construct(scope, id)
    path = router.node.path
    routes = Stack.of(scope).to_json_string(
        {
            "commands": {
                "get-user": {
                    "default": "v1",
                    "versions": {
                        "v1": {"function": get_user_v1.function_arn, "async": False},
                        "v2": {"function": get_user_v2.function_arn, "async": False},
                    },
                },
                "send-welcome-email": {
                    "default": "v1",
                    "versions": {"v1": {"function": welcome_email.function_arn, "async": True}},
                },
            }
        }
    )
    function = _python_function(
        router,
        "RouterFunction",
        folder="router",
        layer=layer,
        service_name="Bench-Accounts",
        timeout_seconds=29,  # API Gateway's integration timeout
        environment={"COMMAND_ROUTES": routes},
        description=f"Dispatches the commands of {path}",
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction"],
            resources=[
                get_user_v1.function_arn,
                get_user_v2.function_arn,
                welcome_email.function_arn,
            ],
        )
    )
    caller_got_it = "Callers got the error; nothing is kept for a retry."
    _function_health(router, "Router", function, timeout_seconds=29, after_failure=caller_got_it)

    api = _rest_api(router, description=f"Command API of {path}", name="Bench-Accounts")
    validator = api.add_request_validator(
        "RequestValidator", validate_request_body=True, validate_request_parameters=True
    )
    integration = apigateway.LambdaIntegration(function)
    commands = api.root.add_resource("commands")
    commands.add_method("GET", integration, request_validator=validator)
    commands.add_resource("{name}").add_method(
        "POST",
        integration,
        request_validator=validator,
        request_parameters={"method.request.path.name": True},
    )
    _api_server_errors_alarm(
        router, "Api5xxAlarm", api, behind="the router's logs (the receiver's error it relays)"
    )

    for prefix, receiver in (("GetUserV1", get_user_v1), ("GetUserV2", get_user_v2)):
        _function_health(router, prefix, receiver, timeout_seconds=3, after_failure=caller_got_it)
    failures = _async_failure_queue(
        router, "SendWelcomeEmailV1", welcome_email, retry_attempts=2, owner=router
    )
    _function_health(
        router,
        "SendWelcomeEmailV1",
        welcome_email,
        timeout_seconds=3,
        after_failure=f"Failed invocations are retried twice, then kept in {failures.node.path}.",
    )
    return api


# --- FilterPipeline ------------------------------------------------------------------------------


def _attach_layers(
    stages: Sequence[tuple[str, lambda_.Function]],
    powertools: lambda_.ILayerVersion,
    helper: lambda_.ILayerVersion,
) -> None:
    for _name, function in stages:
        function.add_layers(powertools, helper)


def _rejected_queue(pipeline: Construct) -> sqs.Queue:
    rejected = sqs.Queue(
        pipeline,
        "RejectedQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=_FOURTEEN_DAYS,
    )
    _message_age_alarm(
        pipeline,
        "RejectedAgeAlarm",
        rejected,
        7 * 86400,  # half of the 14 days a rejected item is kept
        consumer="whoever reviews rejected items",
    )
    return rejected


def _grant_publish(topic: sns.Topic, grantee: iam.IGrantable) -> None:
    """``sns:Publish`` on ``topic``, and on its key only what publishing needs."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn])
    )
    assert topic.master_key is not None
    topic.master_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")


def filter_pipeline_queues_twin(
    scope: Construct,
    id: str,
    *,
    stages: Sequence[tuple[str, lambda_.Function]],
    output: sns.Topic,
    powertools: lambda_.ILayerVersion,
    helper: lambda_.ILayerVersion,
) -> None:
    """``FilterPipeline(scope, id, stages=..., output=output)`` with ``Connector.QUEUES``: a
    queue worker per stage; each stage sends to the next stage's queue, the last to ``output``,
    filtered items to the rejected queue."""
    pipeline = Construct(scope, id)
    _attach_layers(stages, powertools, helper)
    rejected = _rejected_queue(pipeline)
    container = Construct(pipeline, "Stages")
    queues = [queue_worker_twin(container, name, function) for name, function in stages]
    for index, (name, function) in enumerate(stages):
        if index + 1 < len(stages):
            next_queue = queues[index + 1]
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[next_queue.queue_arn])
            )
            next_destination = next_queue.queue_url
        else:
            _grant_publish(output, function)
            next_destination = output.topic_arn
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[rejected.queue_arn])
        )
        function.add_environment("PIPELINE_STAGE", name)
        function.add_environment("PIPELINE_NEXT", next_destination)
        function.add_environment("PIPELINE_REJECTED", rejected.queue_url)


_TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def filter_pipeline_state_machine_twin(
    scope: Construct,
    id: str,
    *,
    stages: Sequence[tuple[str, lambda_.Function]],
    output: sns.Topic,
    powertools: lambda_.ILayerVersion,
    helper: lambda_.ILayerVersion,
) -> sfn.StateMachine:
    """``FilterPipeline(scope, id, stages=..., output=output)`` with
    ``Connector.STATE_MACHINE``: an Express workflow started by an EventBridge Pipe for each
    message of the input queue; per stage a Lambda task, a Catch to the dead-letter queue and a
    Choice that sends filtered items to the rejected queue; accepted items go to ``output``."""
    pipeline = Construct(scope, id)
    path = pipeline.node.path
    _attach_layers(stages, powertools, helper)
    rejected = _rejected_queue(pipeline)
    dlq = _dead_letter_queue(pipeline, "DeadLetterQueue")
    _dead_letter_alarm(
        pipeline,
        "DeadLetterQueueAlarm",
        dlq,
        read="the message's error (stage, cause) and the stage function's logs",
        owner=pipeline,
    )
    for name, function in stages:
        _function_health(
            pipeline,
            f"{name}Function",
            function,
            timeout_seconds=3,
            after_failure=(
                "Service errors and throttles are retried; a failed item is kept with its stage "
                f"and error in {dlq.node.path}."
            ),
        )

    workflow = Construct(pipeline, "Workflow")
    filtered_end = sfn.Succeed(workflow, "Filtered out")
    failed_end = sfn.Succeed(
        workflow,
        "Dead-lettered",
        comment="The failed item and its stage are in the dead-letter queue, which alarms",
    )
    publish = tasks.SnsPublish(
        workflow,
        "Publish to output",
        topic=output,
        message=sfn.TaskInput.from_text(
            sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.item"))
        ),
        result_path=sfn.JsonPath.DISCARD,
    ).next(sfn.Succeed(workflow, "Accepted", output_path="$.item"))
    item = sfn.JsonPath.object_at("$.item")
    # Built from the last stage back, so that each stage's Choice can name the next stage.
    next_state: sfn.IChainable = publish
    for name, function in reversed(stages):
        task = tasks.LambdaInvoke(
            workflow,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object({"pipelineStage": name, "item": item}),
            output_path="$.Payload",
            retry_on_service_exceptions=False,
        )
        task.add_retry(
            errors=_TRANSIENT_LAMBDA_ERRORS,
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        failed = tasks.SqsSendMessage(
            workflow,
            f"{name} failed",
            queue=dlq,
            message_body=sfn.TaskInput.from_object(
                {"stage": name, "item": item, "error": sfn.JsonPath.object_at("$.error")}
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(failed_end)
        task.add_catch(failed, result_path="$.error")
        send_rejected = tasks.SqsSendMessage(
            workflow,
            f"{name} rejected",
            queue=rejected,
            message_body=sfn.TaskInput.from_object(
                {"stage": name, "reason": sfn.JsonPath.string_at("$.reason"), "item": item}
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(filtered_end)
        task.next(
            sfn.Choice(workflow, f"{name} filtered?")
            .when(sfn.Condition.string_equals("$.outcome", "filtered"), send_rejected)
            .otherwise(next_state)
        )
        next_state = task
    read = sfn.Pass(
        workflow,
        "Read message",
        comment="The pipe delivers a batch of one SQS message; its body is the item",
        input_path="$[0]",
        parameters={"item": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.body"))},
    ).next(next_state)

    state_machine = sfn.StateMachine(
        pipeline,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(read),
        state_machine_type=sfn.StateMachineType.EXPRESS,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=logs.LogGroup(
                pipeline,
                "StateMachineLogs",
                log_group_name="/aws/vendedlogs/states/BenchOrdersFCC83B9D",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
            level=sfn.LogLevel.ALL,
            include_execution_data=False,
        ),
        timeout=Duration.seconds(300),
    )
    assert output.master_key is not None
    output.master_key.grant(state_machine, "kms:GenerateDataKey", "kms:Decrypt")
    for alarm_id, metric, what in (
        (
            "ExecutionsFailedAlarm",
            state_machine.metric_failed,
            "failed outside a stage's Catch: an item may be lost or retried from the input "
            "queue. First: the failed execution's events (Step Functions console) and the "
            "state machine's log group.",
        ),
        (
            "ExecutionsTimedOutAlarm",
            state_machine.metric_timed_out,
            "timed out. First: which stage was running (the execution's events) and its "
            "function's duration; the item is retried from the input queue, if any.",
        ),
    ):
        _alarm(
            pipeline,
            alarm_id,
            description=f"At least 1 execution(s) of {state_machine.node.path} {what}",
            metric=metric(period=_ONE_MINUTE, statistic=_SUM),
            threshold=1,
        )

    # The input: a queue whose messages a pipe turns into synchronous Express executions (one
    # holds its message up to 300 s, hence the 360 s visibility timeout).
    holder = Construct(pipeline, "Input")
    input_dlq = _dead_letter_queue(holder, "DeadLetterQueue")
    queue = _queue(holder, input_dlq, visibility=Duration.seconds(360))
    role = iam.Role(
        pipeline,
        "PipeRole",
        assumed_by=iam.ServicePrincipal(
            "pipes.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        ),
        description=f"Execution role of the pipe of {path}",
    )
    queue.grant_consume_messages(role)
    state_machine.grant(role, "states:StartSyncExecution")
    pipe_logs = logs.LogGroup(
        pipeline,
        "PipeLogs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    pipe_logs.grant_write(role)
    pipe = pipes.CfnPipe(
        pipeline,
        "Pipe",
        role_arn=role.role_arn,
        source=queue.queue_arn,
        target=state_machine.state_machine_arn,
        description=f"Starts {path} for each item of its input queue",
        source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
            sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(batch_size=1)
        ),
        target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
            step_function_state_machine_parameters=pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
                invocation_type="REQUEST_RESPONSE"
            )
        ),
        log_configuration=pipes.CfnPipe.PipeLogConfigurationProperty(
            cloudwatch_logs_log_destination=pipes.CfnPipe.CloudwatchLogsLogDestinationProperty(
                log_group_arn=pipe_logs.log_group_arn
            ),
            level="ERROR",
        ),
    )
    pipe.node.add_dependency(role)
    _dead_letter_alarm(
        pipeline,
        "InputDeadLetterQueueAlarm",
        input_dlq,
        read="the pipe's log group (why executions could not start or failed)",
        owner=pipeline,
    )
    # 5 receives x 360 s visibility
    _message_age_alarm(pipeline, "InputMessageAgeAlarm", queue, 1800, consumer="the pipe")
    return state_machine


# --- ScheduledProbe ------------------------------------------------------------------------------

#: (name, URL, max latency in seconds, required content) of each probed website.
PROBE_TARGETS = (
    ("aws-home", "https://aws.amazon.com/", 3, None),
    ("example-content", "https://www.example.com/", None, "Example Domain"),
)


def scheduled_probe_twin(
    scope: Construct,
    id: str,
    *,
    layer: lambda_.ILayerVersion,
    alert_email: str,
    operators: sns.ITopic,
) -> lambda_.Function:
    """``ScheduledProbe(scope, id, targets=..., alert_emails=[alert_email],
    alarm_topic=operators)``: a probe function every 5 minutes (EventBridge Scheduler), an
    availability alarm per target on an encrypted alert topic with an email subscription, and
    the probe's own alarms to the operators."""
    probe = Construct(scope, id)
    path = probe.node.path
    service_name = "Bench-Websites"

    key = kms.Key(
        probe,
        "AlertTopicKey",
        enable_key_rotation=True,
        description="Encrypts alarm notifications published by CloudWatch",
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    alert_topic = sns.Topic(probe, "AlertTopic", master_key=key, enforce_ssl=True)
    alert_dlq = _dead_letter_queue(probe, "AlertDeadLetterQueue")
    sns.Subscription(
        probe,
        "AlertSubscription1",
        topic=alert_topic,
        protocol=sns.SubscriptionProtocol.EMAIL,
        endpoint=alert_email,
        dead_letter_queue=alert_dlq,
    )

    targets = [
        {
            "name": name,
            "url": url,
            "method": "GET",
            "expected_status": [200, 200],
            "timeout": 10,
            "contains": contains,
            "max_latency": max_latency,
            "headers": {},
        }
        for name, url, max_latency, contains in PROBE_TARGETS
    ]
    function = _python_function(
        probe,
        "Function",
        folder="probe",
        layer=layer,
        service_name=service_name,
        metrics_namespace="ServerlessPatterns/Probe",
        timeout_seconds=60,
        environment={"PROBE_TARGETS": json.dumps(targets), "PROBE_MAX_REDIRECTS": "5"},
        description=f"Checks {len(targets)} website(s) for {path}",
    )

    # A run older than the next one (5 minutes) is stale.
    event_age = Duration.minutes(5)
    failures = _dead_letter_queue(probe, "InvokeFailureQueue")
    lambda_.EventInvokeConfig(
        probe,
        "InvokeConfig",
        function=function,
        on_failure=destinations.SqsDestination(failures),
        retry_attempts=0,
        max_event_age=event_age,
    )
    _dead_letter_alarm(
        probe,
        "InvokeFailureAlarm",
        failures,
        read=f"the record's responsePayload and the logs of {function.node.path}",
        owner=probe,
        notify=operators,
    )
    schedule_dlq = _dead_letter_queue(probe, "ScheduleDeadLetterQueue")
    role = iam.Role(
        probe,
        "ScheduleRole",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        ),
        description=f"Lets the schedule of {path} invoke its probe",
    )
    # Exactly this function ($LATEST); the target's default grant would add its versions too.
    role.add_to_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
    )
    schedule_dlq.grant_send_messages(role)
    schedule = scheduler.Schedule(
        probe,
        "Schedule",
        schedule=scheduler.ScheduleExpression.rate(Duration.minutes(5)),
        target=scheduler_targets.LambdaInvoke(
            function,
            role=role.without_policy_updates(),
            dead_letter_queue=schedule_dlq,
            retry_attempts=2,
            max_event_age=event_age,
        ),
        description=f"Runs the website probe of {path}",
    )
    schedule.node.add_dependency(role)

    for name, url, _max_latency, _contains in PROBE_TARGETS:
        _alarm(
            probe,
            f"{''.join(part.capitalize() for part in name.split('-'))}Alarm",
            description=(
                f"{name} ({url}) failed 2 check(s) in a row. First: the probe's log (Logs "
                f"Insights on its log group, filter target = '{name}') says why: status, "
                "content, latency or a connection error; then the site itself. OK follows the "
                "first good check."
            ),
            metric=cloudwatch.Metric(
                namespace="ServerlessPatterns/Probe",
                metric_name="Availability",
                dimensions_map={"service": service_name, "Target": name},
                statistic=_MINIMUM,
                period=_FIVE_MINUTES,
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            # No data means the probe itself did not run: that is not "up".
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            notify=alert_topic,
        )
    _dead_letter_alarm(
        probe,
        "ScheduleDeadLetterAlarm",
        schedule_dlq,
        read="the message attributes (ERROR_CODE, ERROR_MESSAGE the scheduler adds)",
        owner=probe,
        notify=operators,
    )
    _function_health(
        probe,
        "Function",
        function,
        timeout_seconds=60,
        after_failure=f"A failed run is kept in {failures.node.path}; the next run checks again.",
        notify=operators,
    )
    _dead_letter_alarm(
        probe,
        "AlertDeadLetterAlarm",
        alert_dlq,
        read="the topic's delivery status logs (an address that bounces?)",
        owner=probe,
        notify=operators,
    )
    return function


# --- LegacyApiProxy ------------------------------------------------------------------------------

LEGACY_BASE_URL = "https://legacy-inventory.example.com"


def legacy_api_proxy_twin(
    scope: Construct, id: str, *, layer: lambda_.ILayerVersion
) -> apigateway.RestApi:
    """A REST API over a legacy XML service: two routes translated by a function, one passed
    through, one of them cached. The same as::

        proxy = LegacyApiProxy(scope, id, legacy_base_url=LEGACY_BASE_URL)
        proxy.add_translated_route("/items/{id}", "GET", legacy_path="/inventory/item/{id}",
                                   cache_ttl=Duration.seconds(60), response_mapping={...})
        proxy.add_translated_route("/items", "GET", legacy_path="/inventory/items",
                                   response_mapping={...})
        proxy.add_passthrough("/legacy/{proxy+}", legacy_path="/{proxy+}")
    """
    proxy = Construct(scope, id)
    path = proxy.node.path
    timeout = Duration.seconds(29)
    api = _rest_api(
        proxy,
        description=f"Modern API of {path} over {LEGACY_BASE_URL}",
        name="Bench-Inventory",
        cache_cluster_enabled=True,
        cache_cluster_size="0.5",
        method_options={
            "/items/{id}/GET": apigateway.MethodDeploymentOptions(
                caching_enabled=True,
                cache_ttl=Duration.seconds(60),
                cache_data_encrypted=True,
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
            )
        },
    )
    validator = api.add_request_validator(
        "RequestValidator", validate_request_body=True, validate_request_parameters=True
    )
    _api_server_errors_alarm(proxy, "Api5xxRateAlarm", api, behind="the legacy service's own logs")
    _alarm(
        proxy,
        "ApiLatencyAlarm",
        description=(
            f"{path}: p99 latency is above 80% of the 29000 ms integration timeout: callers are "
            "about to get 504. First: IntegrationLatency against Latency on the dashboard (the "
            "backend or API Gateway), then the backend's own latency."
        ),
        metric=api.metric_latency(period=_FIVE_MINUTES, statistic=_P99),
        threshold=23200,  # 80% of 29 s, in milliseconds
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison=_GT,
    )

    translations = {
        "GET /items/{id}": {
            "legacy_path": "/inventory/item/{id}",
            "legacy_method": "GET",
            "response_format": "xml",
            "response_mapping": {
                "id": "item.@id",
                "name": "item.name",
                "stock": {"path": "item.stock", "type": "int"},
            },
        },
        "GET /items": {
            "legacy_path": "/inventory/items",
            "legacy_method": "GET",
            "response_format": "xml",
            "response_mapping": {
                "items": {"from": "items.item", "each": {"id": "@id", "name": "name"}}
            },
        },
    }
    translator = _python_function(
        proxy,
        "TranslatorFunction",
        folder="translator",
        layer=layer,
        service_name="Bench-Inventory",
        timeout_seconds=30,
        environment={
            "LEGACY_BASE_URL": LEGACY_BASE_URL,
            "LEGACY_TIMEOUT": "27",  # gives up 2 s before API Gateway does
            "TRANSLATOR_ROUTES": json.dumps(translations, separators=(",", ":")),
        },
        description=f"Translates JSON <-> legacy responses for {path}",
    )
    _function_health(
        proxy,
        "Translator",
        translator,
        timeout_seconds=30,
        after_failure="Callers got 502; nothing is kept for a retry.",
    )

    items = api.root.add_resource("items")
    items.add_resource("{id}").add_method(
        "GET",
        apigateway.LambdaIntegration(
            translator, timeout=timeout, cache_key_parameters=["method.request.path.id"]
        ),
        request_validator=validator,
        request_parameters={"method.request.path.id": True},
    )
    items.add_method(
        "GET",
        apigateway.LambdaIntegration(translator, timeout=timeout),
        request_validator=validator,
        request_parameters={},
    )
    api.root.add_resource("legacy").add_resource("{proxy+}").add_method(
        "GET",
        apigateway.HttpIntegration(
            f"{LEGACY_BASE_URL}/{{proxy}}",
            http_method="GET",
            proxy=True,
            options=apigateway.IntegrationOptions(
                timeout=timeout,
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"},
            ),
        ),
        request_validator=validator,
        request_parameters={"method.request.path.proxy": True},
    )
    return api


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


def _command_router_stack(stack: Stack) -> None:
    command_router_twin(
        stack,
        "Accounts",
        layer=powertools_layer(stack),
        get_user_v1=inline_function(stack, "GetUserV1Handler"),
        get_user_v2=inline_function(stack, "GetUserV2Handler"),
        welcome_email=inline_function(stack, "WelcomeEmailHandler"),
    )


#: The stages of both FilterPipeline twins.
PIPELINE_STAGES = ("validate", "enrich", "persist")


def _filter_pipeline_stack(
    twin: Callable[..., object],
) -> Callable[[Stack], None]:
    def build(stack: Stack) -> None:
        stages = [
            (name, inline_function(stack, f"{name.title()}Handler")) for name in PIPELINE_STAGES
        ]
        twin(
            stack,
            "Orders",
            stages=stages,
            output=encrypted_topic(stack, "AcceptedTopic"),
            powertools=powertools_layer(stack),
            helper=stage_layer(stack),
        )

    return build


def _scheduled_probe_stack(stack: Stack) -> None:
    scheduled_probe_twin(
        stack,
        "Websites",
        layer=powertools_layer(stack),
        alert_email="ops@example.com",
        operators=encrypted_topic(stack, "OperatorsTopic", for_alarms=True),
    )


def _legacy_api_proxy_stack(stack: Stack) -> None:
    legacy_api_proxy_twin(stack, "Inventory", layer=powertools_layer(stack))


#: Construct name -> what its twin puts into a benchmark stack.
TWIN_STACKS: dict[str, Callable[[Stack], None]] = {
    "QueueWorker": _queue_worker_stack,
    "FanOutTopic": _fan_out_topic_stack,
    "KinesisBatchConsumer": _kinesis_batch_consumer_stack,
    "CommandRouter": _command_router_stack,
    "FilterPipeline (queues)": _filter_pipeline_stack(filter_pipeline_queues_twin),
    "FilterPipeline (state machine)": _filter_pipeline_stack(filter_pipeline_state_machine_twin),
    "ScheduledProbe": _scheduled_probe_stack,
    "LegacyApiProxy": _legacy_api_proxy_stack,
}
