"""CloudWatch dashboards: each construct's widgets, and one dashboard for all of them.

Every construct of the library has ``widgets()``: a header, the graphs of its flow (in,
processed, errors, dead-lettered, backlog age, duration against the timeout, throttles,
iterator age, executions, API errors and latency, as it has them) and the state of its
alarms. :class:`PatternsDashboard` collects them for every construct of the library under a
scope, at synthesis, so constructs and workers added after it are on it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, cast

import jsii
from aws_cdk import Aspects, Duration, IAspect
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from serverless_patterns._typecheck import checked
from serverless_patterns._validation import Problems

_WIDTH = 8
_HEIGHT = 6
_PERIOD = Duration.minutes(1)
_SUM = cloudwatch.Stats.SUM
_MAX = cloudwatch.Stats.MAXIMUM


def header(kind: str, construct: IConstruct, text: str = "") -> cloudwatch.TextWidget:
    """The title row of a construct's segment."""
    extra = f" · {text}" if text else ""
    return cloudwatch.TextWidget(
        markdown=f"### {kind} `{construct.node.path}`{extra}", width=24, height=1
    )


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    right: Sequence[cloudwatch.IMetric] = (),
    *,
    timeout_seconds: float | None = None,
) -> cloudwatch.GraphWidget:
    """A graph; with ``timeout_seconds``, a line at that timeout (the left axis in ms)."""
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        left_annotations=(
            [cloudwatch.HorizontalAnnotation(value=timeout_seconds * 1000, label="Timeout")]
            if timeout_seconds is not None
            else None
        ),
        width=_WIDTH,
        height=_HEIGHT,
    )


def queue_widgets(
    label: str, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue | None
) -> list[cloudwatch.IWidget]:
    """Flow in and out, backlog and its age, and the dead-lettered messages of a queue."""
    widgets: list[cloudwatch.IWidget] = [
        _graph(
            f"{label}: messages in / processed",
            [
                queue.metric_number_of_messages_sent(period=_PERIOD, statistic=_SUM, label="Sent"),
                queue.metric_number_of_messages_deleted(
                    period=_PERIOD, statistic=_SUM, label="Processed (deleted)"
                ),
            ],
        ),
        _graph(
            f"{label}: backlog",
            [
                queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic=_MAX, label="Waiting"
                ),
                queue.metric_approximate_number_of_messages_not_visible(
                    period=_PERIOD, statistic=_MAX, label="In flight"
                ),
            ],
            [
                queue.metric_approximate_age_of_oldest_message(
                    period=_PERIOD, statistic=_MAX, label="Age of oldest (s)"
                )
            ],
        ),
    ]
    if dead_letter_queue is not None:
        widgets.append(dead_letter_widget(f"{label}: dead-lettered", dead_letter_queue))
    return widgets


def dead_letter_widget(title: str, queue: sqs.IQueue) -> cloudwatch.GraphWidget:
    """Messages waiting in a DLQ or failure destination."""
    return _graph(
        title,
        [
            queue.metric_approximate_number_of_messages_visible(
                period=_PERIOD, statistic=_MAX, label="Dead-lettered"
            )
        ],
    )


def function_widgets(
    label: str, function: lambda_.IFunction, timeout_seconds: float | None
) -> list[cloudwatch.IWidget]:
    """Invocations, errors and throttles; p50/p99 duration against the timeout."""
    return [
        _graph(
            f"{label}: invocations",
            [
                function.metric_invocations(period=_PERIOD, statistic=_SUM, label="Invocations"),
                function.metric_errors(period=_PERIOD, statistic=_SUM, label="Errors"),
                function.metric_throttles(period=_PERIOD, statistic=_SUM, label="Throttles"),
            ],
        ),
        _graph(
            f"{label}: duration (ms)",
            [
                function.metric_duration(
                    period=_PERIOD, statistic=cloudwatch.Stats.percentile(50), label="p50"
                ),
                function.metric_duration(
                    period=_PERIOD, statistic=cloudwatch.Stats.percentile(99), label="p99"
                ),
            ],
            timeout_seconds=timeout_seconds,
        ),
    ]


def stream_widgets(label: str, stream: kinesis.IStream) -> list[cloudwatch.IWidget]:
    """Records in, and throttled reads and writes of a stream."""
    return [
        _graph(
            f"{label}: records in",
            [
                stream.metric_incoming_records(period=_PERIOD, statistic=_SUM, label="Records"),
            ],
            [stream.metric_incoming_bytes(period=_PERIOD, statistic=_SUM, label="Bytes")],
        ),
        _graph(
            f"{label}: throttled",
            [
                stream.metric_write_provisioned_throughput_exceeded(
                    period=_PERIOD, statistic=_SUM, label="Writes"
                ),
                stream.metric_read_provisioned_throughput_exceeded(
                    period=_PERIOD, statistic=_SUM, label="Reads"
                ),
            ],
        ),
    ]


def iterator_age_widget(label: str, function: lambda_.IFunction) -> cloudwatch.GraphWidget:
    """How far behind its stream a consumer is."""
    return _graph(
        f"{label}: iterator age (ms)",
        [function.metric("IteratorAge", period=_PERIOD, statistic=_MAX, label="Iterator age")],
    )


def state_machine_widgets(label: str, machine: sfn.IStateMachine) -> list[cloudwatch.IWidget]:
    """Execution outcomes and duration of a state machine."""
    return [
        _graph(
            f"{label}: executions",
            [
                machine.metric_started(period=_PERIOD, statistic=_SUM, label="Started"),
                machine.metric_succeeded(period=_PERIOD, statistic=_SUM, label="Succeeded"),
                machine.metric_failed(period=_PERIOD, statistic=_SUM, label="Failed"),
                machine.metric_timed_out(period=_PERIOD, statistic=_SUM, label="Timed out"),
            ],
        ),
        _graph(
            f"{label}: execution time (ms)",
            [
                machine.metric_time(
                    period=_PERIOD, statistic=cloudwatch.Stats.percentile(99), label="p99"
                )
            ],
        ),
    ]


def api_widgets(
    label: str, api: apigateway.RestApi, timeout_seconds: float | None = None
) -> list[cloudwatch.IWidget]:
    """Requests, 4XX and 5XX answers, and latency of a REST API's deployed stage."""
    return [
        _graph(
            f"{label}: requests",
            [
                api.metric_count(period=_PERIOD, statistic=_SUM, label="Requests"),
                api.metric_client_error(period=_PERIOD, statistic=_SUM, label="4XX"),
                api.metric_server_error(period=_PERIOD, statistic=_SUM, label="5XX"),
            ],
        ),
        _graph(
            f"{label}: latency (ms)",
            [
                api.metric_latency(
                    period=_PERIOD, statistic=cloudwatch.Stats.percentile(99), label="p99"
                ),
                api.metric_integration_latency(
                    period=_PERIOD,
                    statistic=cloudwatch.Stats.percentile(99),
                    label="Integration p99",
                ),
            ],
            timeout_seconds=timeout_seconds,
        ),
    ]


def topic_widgets(label: str, topic: sns.ITopic) -> list[cloudwatch.IWidget]:
    """Messages published and notifications delivered or failed."""
    return [
        _graph(
            f"{label}: published / delivered",
            [
                topic.metric_number_of_messages_published(
                    period=_PERIOD, statistic=_SUM, label="Published"
                ),
                topic.metric_number_of_notifications_delivered(
                    period=_PERIOD, statistic=_SUM, label="Delivered"
                ),
                topic.metric_number_of_notifications_failed(
                    period=_PERIOD, statistic=_SUM, label="Failed"
                ),
            ],
        )
    ]


def alarm_widget(alarms: Iterable[cloudwatch.IAlarm]) -> list[cloudwatch.IWidget]:
    """The state of a construct's alarms (nothing when it has none)."""
    shown = list(alarms)
    if not shown:
        return []
    return [
        cloudwatch.AlarmStatusWidget(
            alarms=shown,
            title="Alarms",
            width=24,
            height=max(2, min(8, 1 + (len(shown) + 2) // 3)),
            sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        )
    ]


class Monitored(Protocol):
    """What every construct of the library offers a dashboard."""

    def widgets(self) -> list[cloudwatch.IWidget]: ...


def pattern_constructs(source: IConstruct) -> list[Construct]:
    """Every construct of the library under ``source`` (itself included), in tree order."""
    from serverless_patterns.command_router import CommandRouter
    from serverless_patterns.fan_out_topic import FanOutTopic
    from serverless_patterns.filter_pipeline import FilterPipeline
    from serverless_patterns.kinesis_batch_consumer import KinesisBatchConsumer
    from serverless_patterns.legacy_api_proxy import LegacyApiProxy
    from serverless_patterns.queue_worker import QueueWorker
    from serverless_patterns.scheduled_probe import ScheduledProbe

    kinds = (
        QueueWorker,
        FanOutTopic,
        KinesisBatchConsumer,
        CommandRouter,
        FilterPipeline,
        ScheduledProbe,
        LegacyApiProxy,
    )
    return [node for node in source.node.find_all() if isinstance(node, kinds)]


def rows(widgets: Sequence[cloudwatch.IWidget]) -> list[list[cloudwatch.IWidget]]:
    """Widgets in rows of at most the dashboard's 24 columns, in order."""
    laid: list[list[cloudwatch.IWidget]] = []
    width: float = 24
    for widget in widgets:
        if width + widget.width > 24:
            laid.append([])
            width = 0
        laid[-1].append(widget)
        width += widget.width
    return laid


class PatternsDashboard(Construct):
    """One CloudWatch dashboard with a segment for every construct of the library in a scope.

    The constructs are collected when the app is synthesized, so the dashboard can be created
    first: constructs, commands and workers added later are on it too.

    Args:
        scope: parent construct.
        id: construct id.
        source: the scope whose constructs are shown, itself included. Default: ``scope``.
            Constructs of other stacks can be shown (CDK exports their resource names).
        dashboard_name: the dashboard's name. Default: generated by CloudFormation.
        start: the default time range, as CloudWatch takes it (``-PT3H``). Default ``-PT3H``.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: IConstruct | None = None,
        dashboard_name: str | None = None,
        start: str = "-PT3H",
    ) -> None:
        problems = Problems("PatternsDashboard", scope, id)
        if dashboard_name is not None and (
            not 1 <= len(dashboard_name) <= 255
            or not all(c.isalnum() or c in "-_" for c in dashboard_name)
        ):
            problems.add(
                "dashboard_name",
                dashboard_name,
                "is not a CloudWatch dashboard name",
                "1..255 letters, digits, '-' and '_'",
            )
        if not start.startswith("-P"):
            problems.add("start", start, "is not a relative time range", "'-PT3H', '-P1D', ...")
        problems.raise_if_any()
        super().__init__(scope, id)
        self.source: IConstruct = source or scope
        """Whose constructs are shown."""
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            start=start,
            period_override=cloudwatch.PeriodOverride.AUTO,
        )
        """The CloudWatch dashboard."""
        self.shown: list[Construct] = []
        """The constructs on the dashboard (filled at synthesis)."""
        self._filled = False
        Aspects.of(self).add(_Fill(self))

    def _fill(self) -> None:
        if self._filled:  # once, also when the scope holds no construct of the library
            return
        self._filled = True
        self.shown = pattern_constructs(self.source)
        if not self.shown:
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(
                    markdown=f"No serverless-patterns construct under `{self.source.node.path}`",
                    width=24,
                    height=2,
                )
            )
        for construct in self.shown:
            for row in rows(cast(Monitored, construct).widgets()):
                self.dashboard.add_widgets(*row)


@jsii.implements(IAspect)
class _Fill:
    """Fills the dashboard when aspects run: after the app's code, before references resolve."""

    def __init__(self, owner: PatternsDashboard) -> None:
        self._owner = owner

    def visit(self, node: IConstruct) -> None:
        if node is self._owner:
            self._owner._fill()
