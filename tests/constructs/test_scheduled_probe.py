"""ScheduledProbe: every default, every option and every bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from serverless_patterns import ProbeTarget, ScheduledProbe
from serverless_patterns._assets import packaged_handler_directory
from tests.support import alarm_ids, health

PATH = "ScheduledProbe at 'TestStack/Probe'"
SITE = ProbeTarget(url="https://example.com/health", name="example")


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def arn(stack: cdk.Stack, construct: Any) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def error(message: str) -> str:
    return "^" + re.escape(f"{PATH}: {message}") + "$"


def probe_targets(stack: cdk.Stack, probe: ScheduledProbe) -> list[dict[str, Any]]:
    function = Template.from_stack(stack).find_resources("AWS::Lambda::Function")[
        stack.get_logical_id(probe.function.node.default_child)  # type: ignore[arg-type]
    ]
    return json.loads(function["Properties"]["Environment"]["Variables"]["PROBE_TARGETS"])  # type: ignore[no-any-return]


# --- defaults --------------------------------------------------------------------------------


def test_schedule_runs_the_probe_every_five_minutes_with_retries_and_a_dlq(
    stack: cdk.Stack,
) -> None:
    probe = ScheduledProbe(stack, "Probe", targets=[SITE])
    Template.from_stack(stack).has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "State": "ENABLED",
            "Target": Match.object_like(
                {
                    "Arn": arn(stack, probe.function),
                    "DeadLetterConfig": {"Arn": arn(stack, probe.schedule_dead_letter_queue)},
                    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300},
                }
            ),
        },
    )


def test_probe_function_runs_the_packaged_handler_with_its_targets(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(stack, "Probe", targets=[SITE])
    assert (packaged_handler_directory("probe") / "app.py").is_file()
    assert probe_targets(stack, probe) == [
        {
            "name": "example",
            "url": "https://example.com/health",
            "method": "GET",
            "expected_status": [200, 200],
            "timeout": 10,
            "contains": None,
            "max_latency": None,
            "headers": {},
        }
    ]
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Timeout": 60,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "PROBE_MAX_REDIRECTS": "5",
                        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns/Probe",
                        "POWERTOOLS_SERVICE_NAME": "TestStack-Probe",
                    }
                )
            },
        },
    )


def test_async_runs_fail_over_to_an_alarmed_queue(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(stack, "Probe", targets=[SITE])
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": ref(stack, probe.function),
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": arn(stack, probe.failure_queue)}},
        },
    )


def test_one_availability_alarm_per_target_on_state_change(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(
        stack,
        "Probe",
        targets=[SITE, ProbeTarget(url="https://example.org/", name="org")],
    )
    template = Template.from_stack(stack)
    for name in ("example", "org"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "ServerlessPatterns/Probe",
                "MetricName": "Availability",
                "Dimensions": [
                    {"Name": "Target", "Value": name},
                    {"Name": "service", "Value": "TestStack-Probe"},
                ],
                "Statistic": "Minimum",
                "Period": 300,
                "Threshold": 1,
                "ComparisonOperator": "LessThanThreshold",
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "TreatMissingData": "breaching",
                "AlarmActions": [ref(stack, probe.alert_topic)],
                "OKActions": [ref(stack, probe.alert_topic)],
            },
        )
    # two targets, then the probe's own: invoke failures, schedule DLQ, the function's health
    assert len(probe.alarms) == 7
    assert alarm_ids(probe)[2:] == [
        "InvokeFailureAlarm",
        "ScheduleDeadLetterAlarm",
        *health("Function"),
    ]


def test_alert_topic_is_created_encrypted(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(stack, "Probe", targets=[SITE])
    assert isinstance(probe.alert_topic, sns.Topic)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()}
    )


# --- options ---------------------------------------------------------------------------------


def test_email_and_sms_subscriptions_with_a_dead_letter_queue(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(
        stack,
        "Probe",
        targets=[SITE],
        alert_emails=["ops@example.com"],
        alert_phone_numbers=["+4930123456"],
    )
    template = Template.from_stack(stack)
    for protocol, endpoint in (("email", "ops@example.com"), ("sms", "+4930123456")):
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {
                "Protocol": protocol,
                "Endpoint": endpoint,
                "RedrivePolicy": {"deadLetterTargetArn": arn(stack, probe.alert_dead_letter_queue)},
            },
        )
    assert alarm_ids(probe)[1:] == [
        "InvokeFailureAlarm",
        "ScheduleDeadLetterAlarm",
        *health("Function"),
        "AlertDeadLetterAlarm",
    ]


def test_target_options_reach_the_handler(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(
        stack,
        "Probe",
        targets=[
            ProbeTarget(
                url="http://example.com/a/b/",
                method="POST",
                expected_status=(200, 399),
                timeout=Duration.seconds(3),
                contains="ok",
                max_latency=Duration.millis(1500),
                headers={"User-Agent": "probe"},
            )
        ],
        max_redirects=2,
    )
    assert probe_targets(stack, probe) == [
        {
            "name": "example.com/a/b",
            "url": "http://example.com/a/b/",
            "method": "POST",
            "expected_status": [200, 399],
            "timeout": 3,
            "contains": "ok",
            "max_latency": 1.5,
            "headers": {"User-Agent": "probe"},
        }
    ]


def test_cron_schedule_and_alarm_period(stack: cdk.Stack) -> None:
    ScheduledProbe(
        stack,
        "Probe",
        targets=[SITE],
        schedule="cron(0/10 * * * ? *)",
        alarm_period=Duration.minutes(10),
        failure_threshold=3,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": "cron(0/10 * * * ? *)"}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Availability", "Period": 600, "EvaluationPeriods": 3},
    )


def test_existing_alert_topic(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Pager")
    probe = ScheduledProbe(stack, "Probe", targets=[SITE], alert_topic=topic)
    assert probe.alert_topic is topic
    Template.from_stack(stack).resource_count_is("AWS::SNS::Topic", 1)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"targets": []},
            "targets=[] is empty: there is nothing to check (allowed: one or more ProbeTarget)",
        ),
        (
            {"targets": [ProbeTarget(url="ftp://example.com/")]},
            "targets[0].url='ftp://example.com/' is not an http(s) URL with a host "
            "(allowed: http://host/... or https://host/...)",
        ),
        (
            {"targets": [ProbeTarget(url="https:///path")]},
            "targets[0].url='https:///path' is not an http(s) URL with a host "
            "(allowed: http://host/... or https://host/...)",
        ),
        (
            {"targets": [SITE, ProbeTarget(url="https://other.example/", name="example")]},
            "targets[1].name='example' is a duplicate target name (allowed: unique names)",
        ),
        (
            {
                "targets": [ProbeTarget(url="https://a.example/", timeout=Duration.minutes(2))],
                "schedule": Duration.minutes(5),
            },
            "targets[0].timeout=Duration.seconds(120) of a.example leaves less than 5 s of the "
            "function timeout (60 s) (allowed: at most 55 seconds)",
        ),
        (
            {
                "targets": [ProbeTarget(url="https://a.example/", timeout=Duration.seconds(90))],
                "schedule": Duration.minutes(1),
                "function_timeout": Duration.minutes(5),
            },
            "targets[0].timeout=Duration.seconds(90) of a.example is not shorter than the schedule "
            "interval (60 s) (allowed: below 60 seconds)",
        ),
        (
            {"schedule": Duration.seconds(30)},
            "schedule=Duration.seconds(30) is not allowed "
            "(allowed: whole minutes, at least 1 minute)",
        ),
        (
            {"schedule": "every 5 minutes"},
            "schedule='every 5 minutes' is not a schedule expression "
            "(allowed: a Duration, 'rate(5 minutes)', 'cron(0/10 * * * ? *)' or "
            "'at(2027-01-01T09:00:00)')",
        ),
        (
            {"alert_emails": ["ops.example.com"]},
            "alert_emails='ops.example.com' is not an email address (allowed: name@example.com)",
        ),
        (
            {"alert_phone_numbers": ["030 123456"]},
            "alert_phone_numbers='030 123456' is not in E.164 form (allowed: + and 2..15 digits)",
        ),
        ({"failure_threshold": 0}, "failure_threshold=0 is not allowed (allowed: 1..100)"),
        (
            {"targets": [ProbeTarget(url="https://a.example/", timeout=Duration.seconds(56))]},
            "targets[0].timeout=Duration.seconds(56) of a.example leaves less than 5 s of the "
            "function timeout (60 s) (allowed: at most 55 seconds)",
        ),
        (
            {"targets": [ProbeTarget(url=f"https://s{i}.example/") for i in range(33)]},
            "targets='33 targets' is more than one probe checks concurrently "
            "(allowed: at most 32; use another ScheduledProbe)",
        ),
        (
            {"targets": [ProbeTarget(url="https://user:secret@a.example/")]},
            "targets[0].url='https://user:secret@a.example/' carries credentials (they would sit "
            "in plain text in the function's configuration) (allowed: a URL without "
            "user:password@; pass headers instead)",
        ),
        (
            {"targets": [ProbeTarget(url="https://a.example/", method="TRACE")]},
            "targets[0].method='TRACE' is not a probe method "
            "(allowed: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE)",
        ),
        (
            {"targets": [ProbeTarget(url="https://a.example/", method="HEAD", contains="x")]},
            "targets[0].contains='x' needs a body, HEAD has none (allowed: GET)",
        ),
        (
            {"targets": [ProbeTarget(url="https://a.example/", max_latency=Duration.seconds(0))]},
            "targets[0].max_latency=Duration.seconds(0) is not allowed (allowed: above 0 seconds)",
        ),
        (
            {"targets": [ProbeTarget(url="https://a.example/", headers={"X-Bad": "a\nb"})]},
            "targets[0].headers='X-Bad' is not a valid header (allowed: token names, one line)",
        ),
        (
            {"targets": [ProbeTarget(url="https://a.example/", expected_status=(300, 200))]},
            "targets[0].expected_status=(300, 200) is not a status range (allowed: 100..599)",
        ),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, Any], message: str
) -> None:
    options.setdefault("targets", [SITE])
    with pytest.raises(ValueError, match=error(message)):
        ScheduledProbe(stack, "Probe", **options)
    assert stack.node.try_find_child("Probe") is None


# --- schedule expressions, as EventBridge Scheduler takes them -----------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(2 hours)",
        "rate(1 day)",
        "cron(0/10 * * * ? *)",
        "cron(0 9 ? * MON-FRI *)",
        "cron(15 10 L * ? *)",
        "cron(0 8 1W * ? *)",
        "cron(0 10 ? * 3#2 *)",
        "cron(0 18 ? * 6L 2027)",
        "cron(0/15 9-17 ? * MON,WED,FRI *)",
    ],
)
def test_valid_schedule_expressions_are_taken_as_given(stack: cdk.Stack, expression: str) -> None:
    ScheduledProbe(stack, "Probe", targets=[SITE], schedule=expression)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": expression}
    )


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(1 minutes)", "needs the singular unit for 1 (allowed: 'rate(1 minute)')"),
        ("rate(5 minute)", "needs the plural unit above 1 (allowed: 'rate(5 minutes)')"),
        ("rate(0 minutes)", "has a rate of 0 (allowed: a whole number from 1)"),
        (
            "cron(every 5 minutes)",
            "has 3 cron fields (allowed: 6: minutes hours day-of-month month day-of-week year, "
            "e.g. 'cron(0/10 * * * ? *)')",
        ),
        (
            "cron(0 9 * * MON *)",
            "needs '?' in exactly one of day-of-month and day-of-week (allowed: e.g. "
            "'cron(0 9 * * ? *)' or 'cron(0 9 ? * MON-FRI *)')",
        ),
        (
            "cron(0 24 * * ? *)",
            "has '24' as its hours field (allowed: 0..23, with , - * /)",
        ),
        (
            "cron(0 9 ? FOO * *)",
            "has 'FOO' as its month field (allowed: 1..12, names, with , - * /)",
        ),
        (
            "at(2027-01-01T09:00:00)",
            "runs the probe once: its availability alarms need a check every period "
            "(allowed: a Duration, 'rate(...)' or 'cron(...)')",
        ),
        ("at(tomorrow)", "is not a one-time schedule (allowed: 'at(yyyy-mm-ddThh:mm:ss)')"),
    ],
)
def test_schedule_expressions_the_service_refuses_are_refused(
    stack: cdk.Stack, expression: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=error(f"schedule={expression!r} {problem}")):
        ScheduledProbe(stack, "Probe", targets=[SITE], schedule=expression)


def test_a_daily_probe_keeps_its_failed_runs_six_hours_at_most(stack: cdk.Stack) -> None:
    ScheduledProbe(stack, "Probe", targets=[SITE], schedule="rate(1 day)")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumEventAgeInSeconds": 21600}
    )
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "Target": Match.object_like(
                {"RetryPolicy": Match.object_like({"MaximumEventAgeInSeconds": 21600})}
            )
        },
    )


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"schedule": "rate(30 minutes)", "failure_threshold": 50},
            "failure_threshold=50 checks over 90000 s with an alarm period of 1800 s, longer "
            "than CloudWatch evaluates (allowed: period x failure_threshold at most 86400 s "
            "(under an hour's period))",
        ),
        (
            {"schedule": "rate(1 day)", "failure_threshold": 8},
            "failure_threshold=8 checks over 691200 s with an alarm period of 86400 s, longer "
            "than CloudWatch evaluates (allowed: period x failure_threshold at most 604800 s "
            "(from an hour's period))",
        ),
        (
            {"schedule": "cron(0 9 ? * MON-FRI *)", "alarm_period": Duration.seconds(90)},
            "alarm_period=Duration.seconds(90) is not allowed (allowed: whole minutes, at least 1)",
        ),
    ],
)
def test_alarm_windows_cloudwatch_refuses_are_refused(
    stack: cdk.Stack, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=error(problem)):
        ScheduledProbe(stack, "Probe", targets=[SITE], **options)


# --- who hears the probe's own failures ----------------------------------------------------------


def alarm_actions(stack: cdk.Stack, logical_prefix: str) -> list[Any]:
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    (alarm,) = [a for name, a in alarms.items() if name.startswith(logical_prefix)]
    return list(alarm["Properties"].get("AlarmActions", []))


def test_undelivered_alerts_are_never_reported_through_the_alert_topic(stack: cdk.Stack) -> None:
    probe = ScheduledProbe(stack, "Probe", targets=[SITE], alert_emails=["ops@example.com"])
    assert alarm_actions(stack, "ProbeAlertDeadLetterAlarm") == []
    assert alarm_actions(stack, "ProbeInvokeFailureAlarm") == [ref(stack, probe.alert_topic)]
    from aws_cdk.assertions import Annotations

    Annotations.from_stack(stack).has_warning(
        "/TestStack/Probe", Match.string_like_regexp("pass alarm_topic=")
    )


def test_alarm_topic_hears_the_probes_own_failures(stack: cdk.Stack) -> None:
    operators = sns.Topic(stack, "Operators")
    probe = ScheduledProbe(
        stack,
        "Probe",
        targets=[SITE],
        alert_emails=["ops@example.com"],
        alarm_topic=operators,
    )
    for alarm in (
        "ProbeAlertDeadLetterAlarm",
        "ProbeInvokeFailureAlarm",
        "ProbeScheduleDeadLetterAlarm",
    ):
        assert alarm_actions(stack, alarm) == [ref(stack, operators)], alarm
    assert alarm_actions(stack, "ProbeExampleAlarm") == [ref(stack, probe.alert_topic)]
    assert probe.alarm_topic is operators


def test_the_alert_topic_cannot_be_its_own_alarm_topic(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alerts")
    with pytest.raises(ValueError, match="alarm_topic=<TestStack/Alerts> is the alert topic"):
        ScheduledProbe(stack, "Probe", targets=[SITE], alert_topic=topic, alarm_topic=topic)
