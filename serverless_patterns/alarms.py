"""CloudWatch alarms: where data piles up, how functions fare, and whom to tell.

Every alarm a construct creates belongs to one :class:`AlarmKind`. A user tunes the kinds or
turns them off through the construct's ``alarm_settings`` argument, typed
``Mapping[AlarmKind, AlarmSettings]``::

    QueueWorker(self, "Orders", handler=fn, alarm_settings={
        AlarmKind.FUNCTION_ERRORS: AlarmSettings(threshold=1),
        AlarmKind.FUNCTION_THROTTLES: AlarmSettings(enabled=False),
    })

Each alarm's description says what it means and what to do first (where to look, how to put
dead-lettered work back with ``serverless-patterns redrive``).
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from serverless_patterns import _tree
from serverless_patterns._typecheck import check_fields
from serverless_patterns._validation import Problems, number

_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_FIVE_MINUTES = Duration.minutes(5)
_ONE_MINUTE = Duration.minutes(1)
# CDK's statistic names, asked of jsii once rather than for every metric.
_MAXIMUM = cloudwatch.Stats.MAXIMUM
_AVERAGE = cloudwatch.Stats.AVERAGE
_SUM = cloudwatch.Stats.SUM
_P99 = cloudwatch.Stats.percentile(99)


class AlarmKind(enum.Enum):
    """The kinds of alarm the constructs create; each construct says which it has."""

    DEAD_LETTER = "dead_letter"
    """Messages wait in a dead-letter queue or on-failure destination. Threshold: messages
    (default 1), one 1-minute period."""
    MESSAGE_AGE = "message_age"
    """The oldest message of a queue is old: a backlog. Threshold: seconds (default: the
    longest a message can legitimately spend being retried), 3 of 5 1-minute periods."""
    FUNCTION_ERRORS = "function_errors"
    """A function's invocations fail. Threshold: percent of invocations (default 5), 2 of 3
    5-minute periods."""
    FUNCTION_THROTTLES = "function_throttles"
    """Lambda throttles a function. Threshold: throttled invocations per 5 minutes (default 1),
    2 of 3 periods."""
    FUNCTION_DURATION = "function_duration"
    """A function's p99 duration nears its timeout. Threshold: percent of the timeout (default
    80), 2 of 3 5-minute periods. Not created for an imported function (its timeout is
    unknown)."""
    ITERATOR_AGE = "iterator_age"
    """A stream consumer falls behind. Threshold: seconds (default 300), 3 of 5 1-minute
    periods."""
    STREAM_THROTTLES = "stream_throttles"
    """Reads or writes of a Kinesis stream were throttled. Threshold: throttled requests per 5
    minutes (default 1)."""
    DELIVERY_FAILURES = "delivery_failures"
    """SNS failed to deliver to a subscriber, or to move a message to a subscription's DLQ.
    Threshold: notifications per 5 minutes (default 1)."""
    EXECUTION_FAILURES = "execution_failures"
    """State machine executions failed or timed out. Threshold: executions per 5 minutes
    (default 1)."""
    API_SERVER_ERRORS = "api_server_errors"
    """An API answers 5XX. Threshold: percent of requests (default 5), 2 of 3 5-minute
    periods."""
    API_LATENCY = "api_latency"
    """An API's p99 latency nears its integration timeout. Threshold: percent of the timeout
    (default 80), 3 of 3 5-minute periods."""


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """How one kind of alarm of a construct is tuned; ``None`` keeps the construct's default.

    Args:
        enabled: create the alarms of this kind. Default True.
        threshold: in the kind's unit (see :class:`AlarmKind`). Default: the kind's default.
        evaluation_periods: periods the alarm looks at, 1..1440. Default: the kind's.
        datapoints_to_alarm: breaching periods among them that raise the alarm,
            1..``evaluation_periods``. Default: the kind's (at most ``evaluation_periods``).
    """

    enabled: bool = True
    threshold: float | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None

    def __post_init__(self) -> None:
        check_fields(self)


_DEFAULT_SETTINGS = AlarmSettings()


@dataclass(frozen=True)
class _Unit:
    low: float
    high: float
    unit: str


_UNITS = {
    AlarmKind.DEAD_LETTER: _Unit(1, 1_000_000, " messages"),
    AlarmKind.MESSAGE_AGE: _Unit(60, 14 * 86400, " seconds"),
    AlarmKind.FUNCTION_ERRORS: _Unit(0.01, 100, " percent"),
    AlarmKind.FUNCTION_THROTTLES: _Unit(1, 1_000_000, " throttles"),
    AlarmKind.FUNCTION_DURATION: _Unit(1, 100, " percent of the timeout"),
    AlarmKind.ITERATOR_AGE: _Unit(1, 365 * 86400, " seconds"),
    AlarmKind.STREAM_THROTTLES: _Unit(1, 1_000_000, " requests"),
    AlarmKind.DELIVERY_FAILURES: _Unit(1, 1_000_000, " notifications"),
    AlarmKind.EXECUTION_FAILURES: _Unit(1, 1_000_000, " executions"),
    AlarmKind.API_SERVER_ERRORS: _Unit(0.01, 100, " percent"),
    AlarmKind.API_LATENCY: _Unit(1, 100, " percent of the timeout"),
}

#: The kinds every construct that owns or is given functions offers.
FUNCTION_KINDS = (
    AlarmKind.FUNCTION_ERRORS,
    AlarmKind.FUNCTION_THROTTLES,
    AlarmKind.FUNCTION_DURATION,
)

Settings = Mapping[AlarmKind, AlarmSettings]


def check_alarm_settings(
    problems: Problems, settings: Settings | None, kinds: Iterable[AlarmKind]
) -> dict[AlarmKind, AlarmSettings]:
    """The construct's ``alarm_settings`` checked against the kinds it has, as a dict."""
    if not settings:
        return {}
    allowed = list(kinds)
    names = ", ".join(f"AlarmKind.{kind.name}" for kind in allowed)
    for kind, setting in settings.items():
        argument = f"alarm_settings[AlarmKind.{kind.name}]"
        if kind not in allowed:
            problems.add(
                "alarm_settings",
                f"AlarmKind.{kind.name}",
                "is not an alarm of this construct",
                names,
            )
            continue
        limits = _UNITS[kind]
        problems.check_range(
            f"{argument}.threshold", setting.threshold, limits.low, limits.high, unit=limits.unit
        )
        problems.check_range(f"{argument}.evaluation_periods", setting.evaluation_periods, 1, 1440)
        periods = setting.evaluation_periods or 1440
        problems.check_range(
            f"{argument}.datapoints_to_alarm",
            setting.datapoints_to_alarm,
            1,
            periods,
            context="(at most evaluation_periods)",
        )
    return dict(settings)


def only(settings: Settings, kinds: Iterable[AlarmKind]) -> dict[AlarmKind, AlarmSettings]:
    """The part of ``settings`` that applies to a child construct with ``kinds``."""
    wanted = set(kinds)
    return {kind: value for kind, value in settings.items() if kind in wanted}


def redrive_hint(owner: IConstruct) -> str:
    """The command that puts ``owner``'s dead-lettered work back."""
    stack_path, path = _tree.path(_tree.stack(owner)), _tree.path(owner)
    relative = path[len(stack_path) + 1 :] if path.startswith(stack_path + "/") else path
    return f"serverless-patterns redrive --stack {_tree.stack_name(owner)} --construct {relative}"


#: Alarm -> paths of the topics it notifies already (so a shared alarm is not notified twice).
_NOTIFIED: weakref.WeakKeyDictionary[cloudwatch.Alarm, set[str]] = weakref.WeakKeyDictionary()
#: Function -> its health alarms, created once however many constructs use the function.
_HEALTH: weakref.WeakKeyDictionary[lambda_.IFunction, dict[AlarmKind, cloudwatch.Alarm]] = (
    weakref.WeakKeyDictionary()
)


def occurrence_alarm(
    scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str
) -> cloudwatch.Alarm:
    """ALARM on the first occurrence: ``metric`` >= 1 in one period; no data is fine (for an
    app's own metrics, such as records a handler dropped)."""
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=_GTE,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def notify(alarms: Iterable[cloudwatch.Alarm], topic: sns.ITopic | None) -> None:
    """Send ALARM and OK transitions of every alarm to ``topic`` (when one is given)."""
    if topic is None:
        return
    action = cloudwatch_actions.SnsAction(topic)
    for alarm in alarms:
        seen = _NOTIFIED.setdefault(alarm, set())
        topic_path = _tree.path(topic)
        if topic_path in seen:
            continue
        seen.add(topic_path)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)


class AlarmBook:
    """The alarms of one construct: each created unless its kind is off, tuned as the user
    asked, collected in :attr:`alarms` and sent to the construct's topic."""

    def __init__(self, settings: Settings, topic: sns.ITopic | None) -> None:
        self.settings = dict(settings)
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []

    def add(self, alarm: cloudwatch.Alarm | None) -> cloudwatch.Alarm | None:
        """Keep an alarm made elsewhere (a child's, or a shared function's) and notify it."""
        if alarm is not None and alarm not in self.alarms:
            self.alarms.append(alarm)
            notify([alarm], self.topic)
        return alarm

    def alarm(
        self,
        kind: AlarmKind,
        scope: Construct,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        describe: Callable[[float], str],
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        scale: float = 1,
        comparison: cloudwatch.ComparisonOperator = _GTE,
        explicit: bool = False,
    ) -> cloudwatch.Alarm | None:
        """An alarm of ``kind`` (None when that kind is off). ``threshold`` is the default in
        the kind's unit (``explicit``: the user's own, more specific than the settings');
        ``scale`` converts it to the metric's (seconds to milliseconds, say); ``describe``
        renders the description from the threshold in the kind's unit."""
        setting = self.settings.get(kind) or _DEFAULT_SETTINGS
        if not setting.enabled:
            return None
        value = threshold if explicit or setting.threshold is None else setting.threshold
        periods = setting.evaluation_periods or evaluation_periods
        datapoints = setting.datapoints_to_alarm or min(datapoints_to_alarm or periods, periods)
        alarm = cloudwatch.Alarm(
            scope,
            id,
            alarm_description=describe(value)[:1024],
            metric=metric,
            threshold=value * scale,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints if datapoints != periods else None,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return self.add(alarm)

    # --- the common alarms ---------------------------------------------------------------

    def occurrence(
        self,
        kind: AlarmKind,
        scope: Construct,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        describe: Callable[[float], str],
    ) -> cloudwatch.Alarm | None:
        """ALARM on the first occurrence (by default): ``metric`` >= 1 in one period."""
        return self.alarm(kind, scope, id, metric=metric, threshold=1, describe=describe)

    def dead_letter(
        self,
        scope: Construct,
        id: str,
        queue: sqs.IQueue,
        *,
        consumer: str,
        redrive: IConstruct,
    ) -> cloudwatch.Alarm | None:
        """ALARM as soon as a message waits in ``queue`` (a DLQ or failure destination).

        ``consumer`` names where the error is to be read (a function's logs, a state
        machine's executions); ``redrive`` is the construct ``serverless-patterns redrive``
        takes the work back from.
        """

        def describe(threshold: float) -> str:
            return (
                f"{_tree.path(queue)}: at least {number(threshold)} message(s) wait in this "
                "dead-letter queue: work failed every retry and was set aside (kept 14 days). "
                f"First: read one message and the error in {consumer}; fix the cause; then put "
                f"the work back with `{redrive_hint(redrive)}` (--dry-run shows what it would "
                "move)."
            )

        return self.occurrence(
            AlarmKind.DEAD_LETTER,
            scope,
            id,
            metric=queue.metric_approximate_number_of_messages_visible(
                period=_ONE_MINUTE, statistic=_MAXIMUM
            ),
            describe=describe,
        )

    def message_age(
        self,
        scope: Construct,
        id: str,
        queue: sqs.IQueue,
        threshold: Duration | float,
        *,
        consumer: str,
    ) -> cloudwatch.Alarm | None:
        """ALARM when the oldest message in ``queue`` is older than ``threshold`` (a Duration,
        or seconds): a backlog."""

        def describe(seconds: float) -> str:
            return (
                f"{_tree.path(queue)}: the oldest message is older than {number(seconds)} s: "
                f"{consumer} is not keeping up or is failing. First: its errors, throttles and "
                "duration on the dashboard; if it fails, read its logs; if it is healthy but "
                "slow, raise its concurrency or batch size."
            )

        return self.alarm(
            AlarmKind.MESSAGE_AGE,
            scope,
            id,
            metric=queue.metric_approximate_age_of_oldest_message(
                period=_ONE_MINUTE, statistic=_MAXIMUM
            ),
            threshold=_whole_seconds(threshold),
            describe=describe,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )

    def iterator_age(
        self,
        scope: Construct,
        id: str,
        function: lambda_.IFunction,
        threshold: Duration | None,
        *,
        default: Duration,
    ) -> cloudwatch.Alarm | None:
        """ALARM when a stream consumer is more than ``threshold`` (the consumer's own), else
        the settings' threshold, else ``default`` behind its stream."""

        def describe(seconds: float) -> str:
            return (
                f"{_tree.path(scope)}: the consumer is more than {number(seconds)} s behind the "
                "stream; records older than the retention are lost. First: its errors (a "
                "failing batch is retried and blocks its shard) and duration on the dashboard; "
                "if it is healthy but slow, raise the parallelization factor or batch size."
            )

        return self.alarm(
            AlarmKind.ITERATOR_AGE,
            scope,
            id,
            metric=function.metric("IteratorAge", period=_ONE_MINUTE, statistic=_MAXIMUM),
            threshold=_whole_seconds(threshold or default),
            explicit=threshold is not None,
            scale=1000,
            describe=describe,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )

    def api_server_errors(
        self, scope: Construct, id: str, api: apigateway.RestApi, *, behind: str
    ) -> cloudwatch.Alarm | None:
        """ALARM when more than a share of an API's requests are answered 5XX."""

        def describe(percent: float) -> str:
            return (
                f"{_tree.path(scope)}: more than {number(percent)}% of the API's requests were "
                f"answered 5XX. First: the API's access log (status, integration error) and "
                f"{behind}; callers see the errors, nothing is kept for a retry."
            )

        return self.alarm(
            AlarmKind.API_SERVER_ERRORS,
            scope,
            id,
            metric=api.metric_server_error(period=_FIVE_MINUTES, statistic=_AVERAGE),
            threshold=5,
            scale=0.01,  # the average of 5XXError is the share of requests
            comparison=_GT,
            describe=describe,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )

    def api_latency(
        self, scope: Construct, id: str, api: apigateway.RestApi, *, timeout_ms: float
    ) -> cloudwatch.Alarm | None:
        """ALARM when an API's p99 latency nears its integration timeout."""

        def describe(percent: float) -> str:
            return (
                f"{_tree.path(scope)}: p99 latency is above {number(percent)}% of the "
                f"{number(timeout_ms)} ms integration timeout: callers are about to get 504. "
                "First: IntegrationLatency against Latency on the dashboard (the backend or "
                "API Gateway), then the backend's own latency."
            )

        return self.alarm(
            AlarmKind.API_LATENCY,
            scope,
            id,
            metric=api.metric_latency(period=_FIVE_MINUTES, statistic=_P99),
            threshold=80,
            scale=timeout_ms / 100,
            comparison=_GT,
            describe=describe,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )

    def function_health(
        self,
        scope: Construct,
        prefix: str,
        function: lambda_.IFunction,
        *,
        timeout_seconds: float | None,
        after_failure: str,
    ) -> list[cloudwatch.Alarm]:
        """Error rate, throttles and duration near the timeout of ``function``.

        Created once per function in the app (in ``scope``, ids ``<prefix>ErrorsAlarm``,
        ``<prefix>ThrottlesAlarm``, ``<prefix>DurationAlarm``); a second construct using the
        same function shares them. ``after_failure`` says what becomes of failed work.
        """
        known = _HEALTH.setdefault(function, {})
        name = _tree.path(function)

        def errors(percent: float) -> str:
            return (
                f"{name}: more than {number(percent)}% of its invocations failed. First: its "
                "logs (CloudWatch Logs Insights on its log group, level ERROR) and X-Ray "
                f"traces for the exception. {after_failure}"
            )

        def throttles(count: float) -> str:
            return (
                f"{name}: Lambda throttled at least {number(count)} invocation(s) in 5 minutes "
                "(no concurrency left). First: the account's ConcurrentExecutions and this "
                "function's reserved concurrency; raise the limit or lower the event source's "
                "maximum concurrency. Throttled work is retried."
            )

        def duration(percent: float) -> str:
            return (
                f"{name}: p99 duration is above {number(percent)}% of its "
                f"{number(timeout_seconds or 0)} s timeout: invocations are about to time out "
                "and be retried. First: X-Ray traces for the slow calls; then raise the timeout "
                "(a queue's visibility timeout follows) or lower the batch size."
            )

        def create(kind: AlarmKind) -> cloudwatch.Alarm | None:
            if kind is AlarmKind.FUNCTION_ERRORS:
                rate = cloudwatch.MathExpression(
                    expression="100 * errors / MAX([errors, invocations])",
                    using_metrics={
                        "errors": function.metric_errors(statistic=_SUM),
                        "invocations": function.metric_invocations(statistic=_SUM),
                    },
                    label="Error rate (%)",
                    period=_FIVE_MINUTES,
                )
                return self.alarm(
                    kind,
                    scope,
                    f"{prefix}ErrorsAlarm",
                    metric=rate,
                    threshold=5,
                    comparison=_GT,
                    describe=errors,
                    evaluation_periods=3,
                    datapoints_to_alarm=2,
                )
            if kind is AlarmKind.FUNCTION_THROTTLES:
                return self.alarm(
                    kind,
                    scope,
                    f"{prefix}ThrottlesAlarm",
                    metric=function.metric_throttles(period=_FIVE_MINUTES, statistic=_SUM),
                    threshold=1,
                    describe=throttles,
                    evaluation_periods=3,
                    datapoints_to_alarm=2,
                )
            if timeout_seconds is None:  # an imported function: its timeout is unknown
                return None
            return self.alarm(
                kind,
                scope,
                f"{prefix}DurationAlarm",
                metric=function.metric_duration(period=_FIVE_MINUTES, statistic=_P99),
                threshold=80,
                scale=timeout_seconds * 1000 / 100,
                describe=duration,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            )

        alarms: list[cloudwatch.Alarm] = []
        for kind in FUNCTION_KINDS:
            alarm = known.get(kind)
            if alarm is None:
                alarm = create(kind)  # kept in this book by alarm()
                if alarm is not None:
                    known[kind] = alarm
            else:
                self.add(alarm)  # another construct's: notify this one's topic too
            if alarm is not None:
                alarms.append(alarm)
        return alarms


def _whole_seconds(duration: Duration | float) -> float:
    """Seconds as given, or ``duration.to_seconds()`` (whole seconds, else jsii's error)."""
    return _tree.whole_seconds(duration) if isinstance(duration, Duration) else duration


def encrypted_alarm_topic(scope: Construct, id: str) -> sns.Topic:
    """An SNS topic for alarm notifications: KMS-encrypted with a rotating key, TLS-only.

    SNS's AWS-managed key cannot be used by CloudWatch, so the topic gets its own key
    (``<id>Key``) whose policy lets CloudWatch encrypt the notifications it publishes.
    """
    key = kms.Key(
        scope,
        f"{id}Key",
        enable_key_rotation=True,
        description="Encrypts alarm notifications published by CloudWatch",
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
        )
    )
    return sns.Topic(scope, id, master_key=key, enforce_ssl=True)
