"""ScheduledProbe: a scheduled Lambda that checks websites and alerts on change of state.

EventBridge Scheduler invokes the probe every few minutes; it checks every target concurrently
and publishes availability (0/1) and latency per target. One alarm per target goes to ALARM
after ``failure_threshold`` failed checks in a row and back to OK on recovery, and the alert
topic hears both: people learn once that a site went down and once that it came back.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._assets import packaged_handler_code
from serverless_patterns._schedules import ExpressionError, parse_expression
from serverless_patterns._typecheck import check_fields, checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
    encrypted_alarm_topic,
    notify,
)
from serverless_patterns.functions import (
    ServerlessFunction,
    async_failure_destination,
    function_timeout_seconds,
)
from serverless_patterns.queues import dead_letter_queue

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_DEFAULT_SCHEDULE = Duration.minutes(5)
_DEFAULT_TIMEOUT = Duration.seconds(10)
_FUNCTION_TIMEOUT = Duration.seconds(60)
_CRON_ALARM_PERIOD = Duration.minutes(5)
_MINIMUM = cloudwatch.Stats.MINIMUM
_MAX_EVENT_AGE_SECONDS = 6 * 3600
_MAX_DIMENSION = 255  # CloudWatch's limit on a dimension value
METRICS_NAMESPACE = "ServerlessPatterns/Probe"
#: The kinds of alarm a ScheduledProbe has (its ``alarm_settings`` keys).
ALARM_KINDS = (AlarmKind.DEAD_LETTER, *FUNCTION_KINDS)
MAX_TARGETS = 32
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
#: The probe stops waiting 2 s after the longest target timeout; keep room for that and start-up.
_FUNCTION_TIMEOUT_MARGIN = 5


@dataclass(frozen=True)
class ProbeTarget:
    """One website check.

    Args:
        url: ``http://`` or ``https://`` URL with a host.
        name: metric dimension and alarm name. Default: host and path of the URL.
        method: HTTP method. Default ``"GET"``.
        expected_status: a status code or an inclusive ``(low, high)`` range. Default 200.
        timeout: per-request timeout. Default 10 seconds.
        contains: a substring the body must contain (first 1 MiB). Default: not checked.
        max_latency: slower than this counts as down. Default: not checked.
        headers: request headers. Default none.
    """

    url: str
    name: str | None = None
    method: str = "GET"
    expected_status: int | tuple[int, int] = 200
    timeout: Duration = field(default=_DEFAULT_TIMEOUT)
    contains: str | None = None
    max_latency: Duration | None = None
    headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def target_name(self) -> str:
        if self.name:
            return self.name
        parsed = urllib.parse.urlsplit(self.url)
        return f"{parsed.hostname or ''}{parsed.path.rstrip('/')}" or self.url

    @property
    def status_range(self) -> tuple[int, int]:
        if isinstance(self.expected_status, int):
            return (self.expected_status, self.expected_status)
        return self.expected_status

    def to_config(self) -> dict[str, object]:
        """The handler's view of this target (``PROBE_TARGETS`` entries)."""
        return {
            "name": self.target_name,
            "url": self.url,
            "method": self.method,
            "expected_status": list(self.status_range),
            "timeout": _tree.exact_seconds(self.timeout),
            "contains": self.contains,
            "max_latency": (_tree.exact_seconds(self.max_latency) if self.max_latency else None),
            "headers": dict(self.headers or {}),
        }


class ScheduledProbe(Construct):
    """Scheduled website checks with one state-change alarm per target.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        targets: the websites to check (at least one; unique names).
        schedule: how often to check: a ``Duration`` (>= 1 minute, whole minutes) or a
            Scheduler expression (``"rate(5 minutes)"``, ``"cron(0/10 * * * ? *)"``), checked as
            the service checks it; a one-time ``at(...)`` is refused (the alarms need a check
            every period). Default every 5 minutes.
        alert_emails: email addresses subscribed to the alert topic. Default none.
        alert_phone_numbers: E.164 phone numbers (``+4930...``) subscribed for SMS.
            Default none.
        alert_topic: an existing topic to alert. Default: a new KMS-encrypted topic.
        failure_threshold: failed checks in a row before ALARM, >= 1. Default 2.
        alarm_period: alarm period for a ``cron(...)`` schedule. Default: the schedule's
            interval (5 minutes for cron expressions).
        function_timeout: the probe function's timeout; every target timeout must be
            shorter. Default 60 seconds.
        max_redirects: redirects followed per check. Default 5.
        alarm_topic: SNS topic for the probe's own alarms (failed runs, invocations the
            scheduler could not deliver, alerts SNS could not deliver), on ALARM and on OK;
            another channel than the alert topic, which cannot report its own failures.
            Default: failed runs and undelivered invocations go to the alert topic, and the
            undelivered-alerts alarm notifies nobody (a warning says so).
        alarm_settings: tuning of the probe's own alarms by kind: ``DEAD_LETTER`` (failed
            runs, undelivered invocations and alerts) and ``FUNCTION_ERRORS``,
            ``FUNCTION_THROTTLES``, ``FUNCTION_DURATION`` of the probe function (see
            :class:`~serverless_patterns.AlarmKind`); the targets' alarms follow
            ``failure_threshold``. Default: every alarm, with the kind's defaults.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        targets: Sequence[ProbeTarget],
        schedule: Duration | str = _DEFAULT_SCHEDULE,
        alert_emails: Sequence[str] = (),
        alert_phone_numbers: Sequence[str] = (),
        alert_topic: sns.ITopic | None = None,
        failure_threshold: int = 2,
        alarm_period: Duration | None = None,
        function_timeout: Duration = _FUNCTION_TIMEOUT,
        max_redirects: int = 5,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
    ) -> None:
        problems = Problems("ScheduledProbe", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        interval = _interval_seconds(problems, schedule)
        _check_targets(problems, targets, interval, _tree.whole_seconds(function_timeout))
        for email in alert_emails:
            if not _EMAIL.match(email):
                problems.add("alert_emails", email, "is not an email address", "name@example.com")
        for phone in alert_phone_numbers:
            if not _E164.match(phone):
                problems.add(
                    "alert_phone_numbers", phone, "is not in E.164 form", "+ and 2..15 digits"
                )
        problems.check_range("failure_threshold", failure_threshold, 1, 100)
        _check_alarm_window(problems, alarm_period, interval, failure_threshold)
        problems.check_range("max_redirects", max_redirects, 0, 20)
        problems.check_duration("function_timeout", function_timeout, 1, 900)
        if alarm_topic is not None and alarm_topic is alert_topic:
            problems.add(
                "alarm_topic",
                alarm_topic,
                "is the alert topic: it cannot report that its own alerts were not delivered",
                "another topic, or leave it out",
            )
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        path = _tree.path(self)
        self.targets: list[ProbeTarget] = list(targets)
        """The checked targets."""
        self.alarms: list[cloudwatch.Alarm] = []
        """One availability alarm per target, then the probe's own failure alarms."""

        if alert_topic is None:
            alert_topic = encrypted_alarm_topic(self, "AlertTopic")
        self.alert_topic: sns.ITopic = alert_topic
        """The topic that hears ALARM and OK of every target."""
        if alert_emails or alert_phone_numbers:
            self.alert_dead_letter_queue = dead_letter_queue(self, "AlertDeadLetterQueue")
            """Alerts SNS could not deliver to an email address or phone."""
            endpoints = [(sns.SubscriptionProtocol.EMAIL, email) for email in alert_emails]
            endpoints += [(sns.SubscriptionProtocol.SMS, phone) for phone in alert_phone_numbers]
            for index, (protocol, endpoint) in enumerate(endpoints, start=1):
                sns.Subscription(
                    self,
                    f"AlertSubscription{index}",
                    topic=alert_topic,
                    protocol=protocol,
                    endpoint=endpoint,
                    dead_letter_queue=self.alert_dead_letter_queue,
                )

        service_name = path.replace("/", "-")
        self.function = ServerlessFunction(
            self,
            "Function",
            code=packaged_handler_code("probe"),
            service_name=service_name,
            metrics_namespace=METRICS_NAMESPACE,
            timeout=function_timeout,
            environment={
                "PROBE_TARGETS": json.dumps([t.to_config() for t in self.targets]),
                "PROBE_MAX_REDIRECTS": str(max_redirects),
            },
            description=f"Checks {len(self.targets)} website(s) for {path}",
        )
        """The probe function (its code ships inside this package)."""

        # The probe's own failures go where the operators of the probe listen (alarm_topic),
        # else to the alert topic, except one: undeliverable alerts cannot be reported through
        # the channel that failed to deliver them.
        book = AlarmBook(settings, alarm_topic or alert_topic)
        # A run older than the next one is stale; Lambda and Scheduler keep events 60 s..6 h.
        event_age = Duration.seconds(min(max(60, interval or 300), _MAX_EVENT_AGE_SECONDS))
        # Scheduler invokes asynchronously: a run that fails after Lambda's retry is kept here,
        # and a run the scheduler could not invoke at all lands in the schedule's DLQ.
        failure_destination = async_failure_destination(
            self,
            self.function,
            queue_id="InvokeFailureQueue",
            config_id="InvokeConfig",
            alarm_id="InvokeFailureAlarm",
            retry_attempts=0,
            max_event_age=event_age,
            invoked_by=f"the schedule of {path}",
            book=book,
            owner=self,
        )
        self.failure_queue = failure_destination.queue
        """Probe runs that failed (Lambda's on-failure destination)."""
        self.schedule_dead_letter_queue = dead_letter_queue(self, "ScheduleDeadLetterQueue")
        """Invocations the scheduler could not deliver."""
        # The scheduler's own role, allowed to invoke exactly this function ($LATEST, no ":*"
        # for versions) and to dead-letter into its queue; CDK's default role would add both.
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": _tree.stack(self).account}},
            ),
            description=f"Lets the schedule of {path} invoke its probe",
        )
        """The role EventBridge Scheduler assumes to invoke the probe."""
        self.schedule_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )
        self.schedule_dead_letter_queue.grant_send_messages(self.schedule_role)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=(
                scheduler.ScheduleExpression.expression(schedule)
                if isinstance(schedule, str)
                else scheduler.ScheduleExpression.rate(schedule)
            ),
            target=scheduler_targets.LambdaInvoke(
                self.function,
                role=self.schedule_role.without_policy_updates(),
                dead_letter_queue=self.schedule_dead_letter_queue,
                retry_attempts=2,
                max_event_age=event_age,
            ),
            description=f"Runs the website probe of {path}",
        )
        """The EventBridge Scheduler schedule."""
        self.schedule.node.add_dependency(self.schedule_role)  # with its policy, not only its ARN

        period = alarm_period or Duration.seconds(
            interval or _tree.whole_seconds(_CRON_ALARM_PERIOD)
        )
        #: Target name -> its availability (1 up, 0 down): what its alarm and graph show.
        self._availability = {
            target.target_name: cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="Availability",
                dimensions_map={"service": service_name, "Target": target.target_name},
                statistic=_MINIMUM,
                period=period,
            )
            for target in self.targets
        }
        for target in self.targets:
            name = target.target_name
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{_construct_id(name)}Alarm",
                    alarm_description=(
                        f"{name} ({target.url}) failed {failure_threshold} check(s) in a row. "
                        "First: the probe's log (Logs Insights on its log group, filter "
                        f"target = '{name}') says why: status, content, latency or a "
                        "connection error; then the site itself. OK follows the first good "
                        "check."
                    ),
                    metric=self._availability[name],
                    threshold=1,
                    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=failure_threshold,
                    datapoints_to_alarm=failure_threshold,
                    # No data means the probe itself did not run: that is not "up".
                    treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                )
            )
        notify(self.alarms, self.alert_topic)
        book.dead_letter(
            self,
            "ScheduleDeadLetterAlarm",
            self.schedule_dead_letter_queue,
            consumer="the message attributes (ERROR_CODE, ERROR_MESSAGE the scheduler adds)",
            redrive=self,
        )
        book.function_health(
            self,
            "Function",
            self.function,
            timeout_seconds=_tree.exact_seconds(function_timeout),
            after_failure=(
                f"A failed run is kept in {_tree.path(self.failure_queue)}; the next run checks "
                "again."
            ),
        )
        self.alert_dead_letter_alarm: cloudwatch.Alarm | None = None
        """ALARM when an alert could not be delivered (to an email address or phone)."""
        if alert_emails or alert_phone_numbers:
            unheard = AlarmBook(settings, alarm_topic)
            self.alert_dead_letter_alarm = unheard.dead_letter(
                self,
                "AlertDeadLetterAlarm",
                self.alert_dead_letter_queue,
                consumer="the topic's delivery status logs (an address that bounces?)",
                redrive=self,
            )
            book.alarms.extend(unheard.alarms)
            if alarm_topic is None and self.alert_dead_letter_alarm is not None:
                Annotations.of(self).add_warning_v2(
                    "serverless-patterns:probe-alert-dlq-unheard",
                    "Alerts that cannot be delivered land in the alert DLQ, whose alarm notifies "
                    "nobody: pass alarm_topic= (another channel than the alert topic) to hear it.",
                )
        self.alarm_topic = alarm_topic
        """The topic the probe's own alarms notify, if given."""
        self.alarms.extend(book.alarms)

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This probe's dashboard segment: each target's availability and latency, the
        function, failed and undelivered runs, alarms."""
        availability = [metric.with_(label=name) for name, metric in self._availability.items()]
        widgets: list[cloudwatch.IWidget] = [
            dashboards.header("ScheduledProbe", self, f"{len(self.targets)} target(s)"),
            cloudwatch.GraphWidget(
                title="Availability (1 up, 0 down)",
                left=availability,
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                width=8,
                height=6,
            ),
            *dashboards.function_widgets(
                "Probe", self.function, function_timeout_seconds(self.function)
            ),
            dashboards.dead_letter_widget("Failed runs", self.failure_queue),
            dashboards.dead_letter_widget(
                "Undelivered invocations", self.schedule_dead_letter_queue
            ),
        ]
        return [*widgets, *dashboards.alarm_widget(self.alarms)]


def _construct_id(name: str) -> str:
    """A construct id from a target name (alphanumerics only, stable)."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _interval_seconds(problems: Problems, schedule: Duration | str) -> float | None:
    """Seconds between runs (None for a cron expression); records a problem when invalid."""
    if isinstance(schedule, Duration):
        seconds = _tree.exact_seconds(schedule)
        if seconds < 60 or seconds % 60:
            problems.add("schedule", schedule, "is not allowed", "whole minutes, at least 1 minute")
        return seconds
    try:
        parsed = parse_expression(schedule)
    except ExpressionError as error:
        problems.add("schedule", schedule, error.reason, error.allowed)
        return None
    if parsed.kind == "at":
        problems.add(
            "schedule",
            schedule,
            "runs the probe once: its availability alarms need a check every period",
            "a Duration, 'rate(...)' or 'cron(...)'",
        )
    return parsed.interval_seconds


def _check_alarm_window(
    problems: Problems, alarm_period: Duration | None, interval: float | None, threshold: int
) -> None:
    """CloudWatch's limits: a period of whole minutes; period x evaluation periods at most a day
    for periods under an hour, at most seven days otherwise."""
    seconds = (
        _tree.exact_seconds(alarm_period)
        if alarm_period is not None
        else interval or _tree.whole_seconds(_CRON_ALARM_PERIOD)
    )
    if alarm_period is not None and (seconds < 60 or seconds % 60):
        problems.add("alarm_period", alarm_period, "is not allowed", "whole minutes, at least 1")
        return
    limit = 86400 if seconds < 3600 else 7 * 86400
    if seconds * threshold > limit:
        problems.add(
            "failure_threshold",
            threshold,
            f"checks over {number(seconds * threshold)} s with an alarm period of "
            f"{number(seconds)} s, longer than CloudWatch evaluates",
            f"period x failure_threshold at most {limit} s "
            f"({'under' if seconds < 3600 else 'from'} an hour's period)",
        )


def _show_seconds(duration: Duration) -> str:
    return f"{number(_tree.exact_seconds(duration))} s"


def _check_targets(
    problems: Problems,
    targets: Sequence[ProbeTarget],
    interval: float | None,
    function_timeout: float,
) -> None:
    if not targets:
        problems.add(
            "targets", [], "is empty: there is nothing to check", "one or more ProbeTarget"
        )
        return
    if len(targets) > MAX_TARGETS:
        problems.add(
            "targets",
            f"{len(targets)} targets",
            "is more than one probe checks concurrently",
            f"at most {MAX_TARGETS}; use another ScheduledProbe",
        )
    seen: set[str] = set()
    construct_ids: dict[str, str] = {}
    for index, target in enumerate(targets):
        at = f"targets[{index}]"
        parsed = urllib.parse.urlsplit(target.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            problems.add(
                f"{at}.url",
                target.url,
                "is not an http(s) URL with a host",
                "http://host/... or https://host/...",
            )
        elif parsed.username or parsed.password:
            problems.add(
                f"{at}.url",
                target.url,
                "carries credentials (they would sit in plain text in the function's "
                "configuration)",
                "a URL without user:password@; pass headers instead",
            )
        if target.method.upper() not in METHODS:
            problems.add(f"{at}.method", target.method, "is not a probe method", ", ".join(METHODS))
        if target.contains is not None and target.method.upper() == "HEAD":
            problems.add(f"{at}.contains", target.contains, "needs a body, HEAD has none", "GET")
        if target.max_latency is not None and _tree.exact_seconds(target.max_latency) <= 0:
            problems.add(
                f"{at}.max_latency", target.max_latency, "is not allowed", "above 0 seconds"
            )
        for header, value in (target.headers or {}).items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header) or re.search(
                r"[\r\n]", value
            ):
                problems.add(
                    f"{at}.headers", header, "is not a valid header", "token names, one line"
                )
        name = target.target_name
        if not 1 <= len(name) <= _MAX_DIMENSION:
            problems.add(
                f"{at}.name",
                name if len(name) <= 40 else name[:37] + "...",
                f"is {len(name)} characters: it is a metric dimension value",
                f"1..{_MAX_DIMENSION} characters",
            )
        if target.max_latency is not None and _tree.exact_seconds(
            target.max_latency
        ) >= _tree.exact_seconds(target.timeout):
            problems.add(
                f"{at}.max_latency",
                target.max_latency,
                f"is not shorter than the target's timeout ({_show_seconds(target.timeout)}): "
                "the latency check could never fail",
                "a max_latency below the timeout",
            )
        if name in seen:
            problems.add(f"{at}.name", name, "is a duplicate target name", "unique names")
        elif _construct_id(name) in construct_ids:
            problems.add(
                f"{at}.name",
                name,
                f"names its alarm like {construct_ids[_construct_id(name)]!r} (both become "
                f"{_construct_id(name)}Alarm: names are compared by their letters and digits)",
                "names that differ in letters or digits",
            )
        seen.add(name)
        construct_ids.setdefault(_construct_id(name), name)
        low, high = target.status_range
        if not 100 <= low <= high <= 599:
            problems.add(
                f"{at}.expected_status", target.expected_status, "is not a status range", "100..599"
            )
        timeout = _tree.exact_seconds(target.timeout)
        longest = function_timeout - _FUNCTION_TIMEOUT_MARGIN
        if timeout > longest:
            problems.add(
                f"{at}.timeout",
                target.timeout,
                f"of {name} leaves less than {_FUNCTION_TIMEOUT_MARGIN} s of the function "
                f"timeout ({number(function_timeout)} s)",
                f"at most {number(longest)} seconds",
            )
        if interval is not None and timeout >= interval:
            problems.add(
                f"{at}.timeout",
                target.timeout,
                f"of {name} is not shorter than the schedule interval ({number(interval)} s)",
                f"below {number(interval)} seconds",
            )
