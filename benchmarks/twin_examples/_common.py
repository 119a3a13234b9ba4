"""What every twin stack writes out more than once: functions, queues, alarms, widgets.

Plain aws-cdk-lib, literal values. The helpers only save typing the same lines ten times: none
of them validates anything or looks at a construct to decide a setting (visibility timeouts,
alarm thresholds and widget heights are passed in as the numbers the examples come to; the
function alarms take the function's timeout in seconds and write 80% of it in milliseconds).
The alarm texts are the library's, word for word, since they are part of the template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from benchmarks.twin_examples._layers import LAMBDA_SRC, code

DESTROY = RemovalPolicy.DESTROY
GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
SUM = cloudwatch.Stats.SUM
MAX = cloudwatch.Stats.MAXIMUM
P99 = cloudwatch.Stats.percentile(99)


# --- resources ----------------------------------------------------------------------------


def key(scope: Construct, id: str, description: str) -> kms.Key:
    return kms.Key(
        scope,
        id,
        enable_key_rotation=True,
        description=description,
        pending_window=Duration.days(7),
        removal_policy=DESTROY,
    )


def alarm_topic(scope: Construct, id: str) -> sns.Topic:
    """A topic CloudWatch can publish to: its own key, which lets CloudWatch use it."""
    topic_key = key(scope, f"{id}Key", "Encrypts alarm notifications published by CloudWatch")
    topic_key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    return sns.Topic(scope, id, master_key=topic_key, enforce_ssl=True)


def table(
    scope: Construct, id: str, partition_key: str, sort_key: str | None = None
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=(
            dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
            if sort_key
            else None
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=DESTROY,
    )


def access_log_bucket(scope: Construct) -> s3.Bucket:
    return s3.Bucket(
        scope,
        "AccessLogsBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        removal_policy=DESTROY,
    )


def private_bucket(
    scope: Construct,
    id: str,
    *,
    access_logs: s3.IBucket,
    prefix: str,
    bucket_name: str | None = None,
) -> s3.Bucket:
    return s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=prefix,
        removal_policy=DESTROY,
    )


def allow_objects(
    function: lambda_.Function, bucket: s3.IBucket, actions: list[str], pattern: str
) -> None:
    function.add_to_role_policy(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(pattern)])
    )


def function(
    scope: Construct,
    id: str,
    *,
    layer: lambda_.ILayerVersion,
    folder: str | None = None,
    code_: lambda_.Code | None = None,
    service_name: str,
    environment: Mapping[str, str] | None = None,
    timeout: int = 25,
    memory_size: int = 256,
    description: str | None = None,
    **options: object,
) -> lambda_.Function:
    """A Python function: its own log group (a month), a role that may write only there,
    JSON logs, ARM64, X-Ray active tracing with its two actions in a policy of their own."""
    log_group = logs.LogGroup(
        scope, f"{id}LogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=DESTROY
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
    fn = lambda_.Function(
        scope,
        id,
        code=code_ or code(LAMBDA_SRC / str(folder)),
        handler="app.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        memory_size=memory_size,
        timeout=Duration.seconds(timeout),
        log_group=log_group,
        role=role,
        layers=[layer],
        environment={
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
            **(environment or {}),
        },
        description=description,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        **options,  # type: ignore[arg-type]
    )
    # Tracing on the L1: on the L2 its statement would join the role's default policy.
    cfn_function = fn.node.default_child
    assert isinstance(cfn_function, lambda_.CfnFunction)
    cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
    tracing = iam.Policy(
        scope,
        f"{id}TracingPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            )
        ],
    )
    fn.node.add_dependency(tracing)
    return fn


def dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        retention_period=Duration.days(14),
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
    )


def queue(scope: Construct, dlq: sqs.IQueue, *, visibility: int) -> sqs.Queue:
    """``Queue``: kept 4 days, to ``dlq`` after 5 receives."""
    return sqs.Queue(
        scope,
        "Queue",
        visibility_timeout=Duration.seconds(visibility),
        retention_period=Duration.days(4),
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
    )


# --- alarms -------------------------------------------------------------------------------


def redrive(stack_name: str, construct: str) -> str:
    return f"serverless-patterns redrive --stack {stack_name} --construct {construct}"


def relative_path(construct: Construct) -> str:
    """The construct's path below its stack."""
    return construct.node.path[len(Stack.of(construct).node.path) + 1 :]


class Alarms:
    """One construct's alarms: each notifies ``topic`` on ALARM and OK; kept for its widget."""

    def __init__(self, topic: sns.ITopic | None) -> None:
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []

    def add(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        self.alarms.append(alarm)
        if self.topic is not None:
            action = cloudwatch_actions.SnsAction(self.topic)
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        return alarm

    def alarm(
        self,
        scope: Construct,
        id: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        comparison: cloudwatch.ComparisonOperator = GTE,
    ) -> cloudwatch.Alarm:
        return self.add(
            cloudwatch.Alarm(
                scope,
                id,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                comparison_operator=comparison,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def dead_letter(
        self, scope: Construct, id: str, dlq: sqs.IQueue, *, consumer: str, redrive_command: str
    ) -> cloudwatch.Alarm:
        return self.alarm(
            scope,
            id,
            f"{dlq.node.path}: at least 1 message(s) wait in this dead-letter queue: work failed "
            "every retry and was set aside (kept 14 days). First: read one message and the "
            f"error in {consumer}; fix the cause; then put the work back with "
            f"`{redrive_command}` (--dry-run shows what it would move).",
            dlq.metric_approximate_number_of_messages_visible(period=MINUTE, statistic=MAX),
            1,
        )

    def message_age(
        self, scope: Construct, id: str, queue: sqs.IQueue, seconds: int, *, consumer: str
    ) -> cloudwatch.Alarm:
        return self.alarm(
            scope,
            id,
            f"{queue.node.path}: the oldest message is older than {seconds} s: {consumer} is "
            "not keeping up or is failing. First: its errors, throttles and duration on the "
            "dashboard; if it fails, read its logs; if it is healthy but slow, raise its "
            "concurrency or batch size.",
            queue.metric_approximate_age_of_oldest_message(period=MINUTE, statistic=MAX),
            seconds,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )

    def function_health(
        self,
        scope: Construct,
        prefix: str,
        function: lambda_.IFunction,
        *,
        timeout: int,
        after_failure: str,
    ) -> list[cloudwatch.Alarm]:
        name = function.node.path
        errors = self.alarm(
            scope,
            f"{prefix}ErrorsAlarm",
            f"{name}: more than 5% of its invocations failed. First: its logs (CloudWatch Logs "
            "Insights on its log group, level ERROR) and X-Ray traces for the exception. "
            f"{after_failure}",
            cloudwatch.MathExpression(
                expression="100 * errors / MAX([errors, invocations])",
                using_metrics={
                    "errors": function.metric_errors(statistic=SUM),
                    "invocations": function.metric_invocations(statistic=SUM),
                },
                label="Error rate (%)",
                period=FIVE_MINUTES,
            ),
            5,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=GT,
        )
        throttles = self.alarm(
            scope,
            f"{prefix}ThrottlesAlarm",
            f"{name}: Lambda throttled at least 1 invocation(s) in 5 minutes (no concurrency "
            "left). First: the account's ConcurrentExecutions and this function's reserved "
            "concurrency; raise the limit or lower the event source's maximum concurrency. "
            "Throttled work is retried.",
            function.metric_throttles(period=FIVE_MINUTES, statistic=SUM),
            1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        duration = self.alarm(
            scope,
            f"{prefix}DurationAlarm",
            f"{name}: p99 duration is above 80% of its {timeout} s timeout: invocations are "
            "about to time out and be retried. First: X-Ray traces for the slow calls; then "
            "raise the timeout (a queue's visibility timeout follows) or lower the batch size.",
            function.metric_duration(period=FIVE_MINUTES, statistic=P99),
            timeout * 800,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        return [errors, throttles, duration]


class Worker:
    """What a queue worker is made of: a queue with a DLQ, a mapping, and five alarms.

    ``visibility``: the queue's visibility timeout (s); ``message_age``: the age alarm's
    threshold (s); ``timeout``: the function's timeout (s), for its alarm and graph.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        function: lambda_.Function,
        topic: sns.ITopic | None,
        *,
        timeout: int,
        visibility: int,
        message_age: int,
    ) -> None:
        self.construct = Construct(scope, id)
        self.function = function
        self.timeout = timeout
        self.dead_letter_queue = dead_letter_queue(self.construct, "DeadLetterQueue")
        self.queue = queue(self.construct, self.dead_letter_queue, visibility=visibility)
        self.queue.grant_consume_messages(function)
        lambda_.EventSourceMapping(
            self.construct,
            "EventSourceMapping",
            target=function,
            event_source_arn=self.queue.queue_arn,
            batch_size=10,
            report_batch_item_failures=True,
            enabled=True,
        )
        self.book = Alarms(topic)
        consumer = f"the function {function.node.path}"
        stack = Stack.of(scope)
        self.book.dead_letter(
            self.construct,
            "DeadLetterQueueAlarm",
            self.dead_letter_queue,
            consumer=f"the logs of {consumer}",
            redrive_command=redrive(stack.stack_name, relative_path(self.construct)),
        )
        self.book.message_age(
            self.construct, "MessageAgeAlarm", self.queue, message_age, consumer=consumer
        )
        self.book.function_health(
            self.construct,
            "Function",
            function,
            timeout=timeout,
            after_failure="Failed messages are retried, then kept in the dead-letter queue "
            f"{self.dead_letter_queue.node.path}.",
        )

    def widgets(self) -> list[cloudwatch.IWidget]:
        return [
            header("QueueWorker", self.construct.node.path),
            *queue_widgets("Queue", self.queue, self.dead_letter_queue),
            *function_widgets("Function", self.function, self.timeout),
            alarm_widget(self.book.alarms, 3),
        ]


# --- dashboard widgets --------------------------------------------------------------------


def dashboard(scope: Construct) -> cloudwatch.Dashboard:
    return cloudwatch.Dashboard(
        Construct(scope, "Dashboard"),
        "Dashboard",
        start="-PT3H",
        period_override=cloudwatch.PeriodOverride.AUTO,
    )


def header(kind: str, path: str, text: str = "") -> cloudwatch.TextWidget:
    extra = f" · {text}" if text else ""
    return cloudwatch.TextWidget(markdown=f"### {kind} `{path}`{extra}", width=24, height=1)


def graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    right: Sequence[cloudwatch.IMetric] = (),
    *,
    timeout_ms: float | None = None,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        left_annotations=(
            [cloudwatch.HorizontalAnnotation(value=timeout_ms, label="Timeout")]
            if timeout_ms is not None
            else None
        ),
        width=8,
        height=6,
    )


def queue_widgets(
    label: str, queue: sqs.IQueue, dlq: sqs.IQueue | None
) -> list[cloudwatch.IWidget]:
    widgets: list[cloudwatch.IWidget] = [
        graph(
            f"{label}: messages in / processed",
            [
                queue.metric_number_of_messages_sent(period=MINUTE, statistic=SUM, label="Sent"),
                queue.metric_number_of_messages_deleted(
                    period=MINUTE, statistic=SUM, label="Processed (deleted)"
                ),
            ],
        ),
        graph(
            f"{label}: backlog",
            [
                queue.metric_approximate_number_of_messages_visible(
                    period=MINUTE, statistic=MAX, label="Waiting"
                ),
                queue.metric_approximate_number_of_messages_not_visible(
                    period=MINUTE, statistic=MAX, label="In flight"
                ),
            ],
            [
                queue.metric_approximate_age_of_oldest_message(
                    period=MINUTE, statistic=MAX, label="Age of oldest (s)"
                )
            ],
        ),
    ]
    if dlq is not None:
        widgets.append(dead_letter_widget(f"{label}: dead-lettered", dlq))
    return widgets


def dead_letter_widget(title: str, queue: sqs.IQueue) -> cloudwatch.GraphWidget:
    return graph(
        title,
        [
            queue.metric_approximate_number_of_messages_visible(
                period=MINUTE, statistic=MAX, label="Dead-lettered"
            )
        ],
    )


def function_widgets(
    label: str, function: lambda_.IFunction, timeout: int | None
) -> list[cloudwatch.IWidget]:
    return [
        graph(
            f"{label}: invocations",
            [
                function.metric_invocations(period=MINUTE, statistic=SUM, label="Invocations"),
                function.metric_errors(period=MINUTE, statistic=SUM, label="Errors"),
                function.metric_throttles(period=MINUTE, statistic=SUM, label="Throttles"),
            ],
        ),
        graph(
            f"{label}: duration (ms)",
            [
                function.metric_duration(
                    period=MINUTE, statistic=cloudwatch.Stats.percentile(50), label="p50"
                ),
                function.metric_duration(period=MINUTE, statistic=P99, label="p99"),
            ],
            timeout_ms=timeout * 1000 if timeout is not None else None,
        ),
    ]


def alarm_widget(alarms: Sequence[cloudwatch.IAlarm], height: int) -> cloudwatch.AlarmStatusWidget:
    return cloudwatch.AlarmStatusWidget(
        alarms=list(alarms),
        title="Alarms",
        width=24,
        height=height,
        sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
    )


def add_segment(board: cloudwatch.Dashboard, widgets: Sequence[cloudwatch.IWidget]) -> None:
    """Widgets in rows of at most 24 columns, in order."""
    row: list[cloudwatch.IWidget] = []
    width = 0.0
    for widget in widgets:
        if row and width + widget.width > 24:
            board.add_widgets(*row)
            row, width = [], 0.0
        row.append(widget)
        width += widget.width
    if row:
        board.add_widgets(*row)


def api_widgets(
    label: str, api: apigateway.RestApi, timeout_ms: float | None = None
) -> list[cloudwatch.IWidget]:
    p99 = cloudwatch.Stats.percentile(99)
    return [
        graph(
            f"{label}: requests",
            [
                api.metric_count(period=MINUTE, statistic=SUM, label="Requests"),
                api.metric_client_error(period=MINUTE, statistic=SUM, label="4XX"),
                api.metric_server_error(period=MINUTE, statistic=SUM, label="5XX"),
            ],
        ),
        graph(
            f"{label}: latency (ms)",
            [
                api.metric_latency(period=MINUTE, statistic=p99, label="p99"),
                api.metric_integration_latency(
                    period=MINUTE, statistic=p99, label="Integration p99"
                ),
            ],
            timeout_ms=timeout_ms,
        ),
    ]


def rest_api(
    scope: Construct,
    *,
    name: str,
    description: str,
    throttle_rate: float,
    throttle_burst: int,
    authorization_type: apigateway.AuthorizationType,
) -> apigateway.RestApi:
    """A regional REST API with tracing, stage throttling and JSON access logs (a month)."""
    access_logs = logs.LogGroup(
        scope, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=DESTROY
    )
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
            throttling_rate_limit=throttle_rate,
            throttling_burst_limit=throttle_burst,
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
        ),
        default_method_options=apigateway.MethodOptions(authorization_type=authorization_type),
    )
