"""Health alarms and their tuning: ``alarm_settings`` on every construct, descriptions that say
what to do, one set of health alarms per function."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from serverless_patterns import (
    AlarmKind,
    AlarmSettings,
    CommandRouter,
    Connector,
    FanOutTopic,
    FilterPipeline,
    KinesisBatchConsumer,
    LegacyApiProxy,
    ProbeTarget,
    QueueWorker,
    ScheduledProbe,
    Stage,
    command_router,
    filter_pipeline,
    legacy_api_proxy,
    scheduled_probe,
)
from tests.support import REPO_ROOT, alarm_ids, health, user_function


def off(kinds: tuple[AlarmKind, ...]) -> dict[AlarmKind, AlarmSettings]:
    """Every kind of alarm a construct has, turned off."""
    return {kind: AlarmSettings(enabled=False) for kind in kinds}


def alarms_of(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    """Alarm properties by construct id (the id's last path part)."""
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    return {
        alarm["Metadata"]["aws:cdk:path"].split("/")[-2]: alarm["Properties"]
        for alarm in found.values()
    }


def imported(stack: cdk.Stack, name: str = "legacy") -> lambda_.IFunction:
    return lambda_.Function.from_function_attributes(
        stack,
        f"Imported{name}",
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        same_environment=True,
    )


# --- defaults --------------------------------------------------------------------------------


def test_function_health_alarms_default_to_rate_throttles_and_duration(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=user_function(stack, "Worker"))
    alarms = alarms_of(stack)
    errors = alarms["FunctionErrorsAlarm"]
    assert errors["Threshold"] == 5
    assert errors["ComparisonOperator"] == "GreaterThanThreshold"
    assert (errors["EvaluationPeriods"], errors["DatapointsToAlarm"]) == (3, 2)
    expression = next(query for query in errors["Metrics"] if "Expression" in query)
    assert expression["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert {
        q["MetricStat"]["Metric"]["MetricName"] for q in errors["Metrics"] if "MetricStat" in q
    } == {
        "Errors",
        "Invocations",
    }
    throttles = alarms["FunctionThrottlesAlarm"]
    assert (throttles["MetricName"], throttles["Threshold"], throttles["Statistic"]) == (
        "Throttles",
        1,
        "Sum",
    )
    duration = alarms["FunctionDurationAlarm"]
    # 80% of the user function's 10 s timeout, in milliseconds, at p99
    assert (duration["MetricName"], duration["ExtendedStatistic"], duration["Threshold"]) == (
        "Duration",
        "p99",
        8000,
    )
    assert all(a["TreatMissingData"] == "notBreaching" for a in alarms.values())


def test_every_description_says_what_to_do_first(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=user_function(stack, "Worker"))
    for name, alarm in alarms_of(stack).items():
        assert "First:" in alarm["AlarmDescription"], name
        assert len(alarm["AlarmDescription"]) <= 1024


def test_dead_letter_alarm_names_the_redrive_command(stack: cdk.Stack) -> None:
    QueueWorker(stack, "Orders", handler=user_function(stack, "Worker"))
    description = alarms_of(stack)["DeadLetterQueueAlarm"]["AlarmDescription"]
    assert "serverless-patterns redrive --stack TestStack --construct Orders" in description
    assert "TestStack/Worker" in description  # whose logs to read


def test_imported_function_gets_no_duration_alarm(stack: cdk.Stack) -> None:
    worker = QueueWorker(
        stack, "Orders", handler=imported(stack), visibility_timeout=Duration.minutes(5)
    )
    assert alarm_ids(worker) == [
        "DeadLetterQueueAlarm",
        "MessageAgeAlarm",
        *health("Function", duration=False),
    ]


def test_a_function_shared_by_two_constructs_gets_one_set_of_health_alarms(
    stack: cdk.Stack,
) -> None:
    first, second = sns.Topic(stack, "First"), sns.Topic(stack, "Second")
    shared = user_function(stack, "Shared")
    one = QueueWorker(stack, "One", handler=shared, alarm_topic=first)
    two = QueueWorker(stack, "Two", handler=shared, alarm_topic=second)
    assert one.function_alarms == two.function_alarms
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 2 + 2 + 3)
    actions = alarms_of(stack)["FunctionErrorsAlarm"]["AlarmActions"]
    assert sorted(action["Ref"] for action in actions) == sorted(
        stack.get_logical_id(topic.node.default_child)  # type: ignore[arg-type]
        for topic in (first, second)
    )


# --- tuning ----------------------------------------------------------------------------------


def test_settings_tune_threshold_and_periods(stack: cdk.Stack) -> None:
    QueueWorker(
        stack,
        "Orders",
        handler=user_function(stack, "Worker"),
        alarm_settings={
            AlarmKind.FUNCTION_ERRORS: AlarmSettings(threshold=1, evaluation_periods=5),
            AlarmKind.FUNCTION_DURATION: AlarmSettings(threshold=50, datapoints_to_alarm=3),
            AlarmKind.DEAD_LETTER: AlarmSettings(threshold=10),
        },
    )
    alarms = alarms_of(stack)
    errors = alarms["FunctionErrorsAlarm"]
    assert (errors["Threshold"], errors["EvaluationPeriods"], errors["DatapointsToAlarm"]) == (
        1,
        5,
        2,
    )
    assert "more than 1% of its invocations" in errors["AlarmDescription"]
    duration = alarms["FunctionDurationAlarm"]
    assert (duration["Threshold"], duration["EvaluationPeriods"]) == (5000, 3)
    assert "DatapointsToAlarm" not in duration  # 3 of 3
    assert alarms["DeadLetterQueueAlarm"]["Threshold"] == 10
    assert "at least 10 message(s)" in alarms["DeadLetterQueueAlarm"]["AlarmDescription"]


def test_a_kind_turned_off_creates_no_alarm(stack: cdk.Stack) -> None:
    topic = sns.Topic(stack, "Alarms")
    worker = QueueWorker(
        stack,
        "Orders",
        handler=user_function(stack, "Worker"),
        alarm_topic=topic,
        alarm_settings={
            AlarmKind.FUNCTION_THROTTLES: AlarmSettings(enabled=False),
            AlarmKind.MESSAGE_AGE: AlarmSettings(enabled=False),
        },
    )
    assert worker.message_age_alarm is None
    assert alarm_ids(worker) == [
        "DeadLetterQueueAlarm",
        "FunctionErrorsAlarm",
        "FunctionDurationAlarm",
    ]
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 3)


def test_settings_reach_the_workers_of_a_topic_and_the_stages_of_a_pipeline(
    stack: cdk.Stack,
) -> None:
    off = {AlarmKind.MESSAGE_AGE: AlarmSettings(enabled=False)}
    fan = FanOutTopic(stack, "Fan", alarm_settings=off)
    worker = fan.add_worker(user_function(stack, "Thumbnail"), id="Thumbnails")
    pipeline = FilterPipeline(
        stack,
        "Orders",
        stages=[Stage(name="validate", handler=user_function(stack, "Validate"))],
        alarm_settings=off,
    )
    assert "MessageAgeAlarm" not in alarm_ids(worker)
    assert pipeline.stages[0].worker is not None
    assert "MessageAgeAlarm" not in alarm_ids(pipeline.stages[0].worker)
    assert "RejectedAgeAlarm" not in alarm_ids(pipeline)


def test_a_workers_own_settings_replace_the_topics(stack: cdk.Stack) -> None:
    fan = FanOutTopic(
        stack, "Fan", alarm_settings={AlarmKind.MESSAGE_AGE: AlarmSettings(enabled=False)}
    )
    worker = fan.add_worker(user_function(stack, "Thumbnail"), id="Thumbnails", alarm_settings={})
    assert "MessageAgeAlarm" in alarm_ids(worker)


def test_iterator_age_threshold_from_settings_and_per_consumer(stack: cdk.Stack) -> None:
    clicks = KinesisBatchConsumer(
        stack,
        "Clicks",
        handler=user_function(stack, "Consumer"),
        alarm_settings={AlarmKind.ITERATOR_AGE: AlarmSettings(threshold=60)},
    )
    clicks.add_consumer(
        user_function(stack, "Archive"), iterator_age_alarm_threshold=Duration.minutes(10)
    )
    found = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    ages = {
        alarm["Metadata"]["aws:cdk:path"].split("/")[-3]: alarm["Properties"]["Threshold"]
        for alarm in found.values()
        if alarm["Properties"].get("MetricName") == "IteratorAge"
    }
    assert ages == {"Consumer": 60_000, "Archive": 600_000}


@pytest.mark.parametrize(
    ("build", "kinds"),
    [
        (
            lambda s: CommandRouter(s, "Router", alarm_settings=off(command_router.ALARM_KINDS)),
            {"Api5xxAlarm", "RouterErrorsAlarm"},
        ),
        (
            lambda s: LegacyApiProxy(
                s,
                "Proxy",
                legacy_base_url="https://legacy.example.com",
                alarm_settings=off(legacy_api_proxy.ALARM_KINDS),
            ),
            {"Api5xxRateAlarm", "ApiLatencyAlarm"},
        ),
        (
            lambda s: ScheduledProbe(
                s,
                "Probe",
                targets=[ProbeTarget(url="https://example.com/")],
                alarm_settings=off(scheduled_probe.ALARM_KINDS),
            ),
            {"InvokeFailureAlarm", "FunctionErrorsAlarm"},
        ),
        (
            lambda s: FilterPipeline(
                s,
                "Orders",
                connector=Connector.STATE_MACHINE,
                stages=[Stage(name="screen", handler=user_function(s, "Screen"))],
                alarm_settings=off(filter_pipeline.ALARM_KINDS),
            ),
            {"ExecutionsFailedAlarm", "DeadLetterQueueAlarm", "screenFunctionErrorsAlarm"},
        ),
    ],
    ids=["router", "proxy", "probe", "pipeline"],
)
def test_every_kind_of_a_construct_can_be_turned_off(
    stack: cdk.Stack, build: Any, kinds: set[str]
) -> None:
    construct = build(stack)
    ids = set(alarm_ids(construct))
    assert not ids & kinds
    if isinstance(construct, ScheduledProbe):  # the targets' alarms are the product
        assert ids == {"ExampleComAlarm"}
    else:
        assert ids == set()


# --- bad input -------------------------------------------------------------------------------


def test_a_kind_the_construct_does_not_have_is_refused(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match=r"^QueueWorker at 'TestStack/Orders'") as raised:
        QueueWorker(
            stack,
            "Orders",
            handler=user_function(stack, "Worker"),
            alarm_settings={AlarmKind.ITERATOR_AGE: AlarmSettings(threshold=60)},
        )
    assert str(raised.value) == (
        "QueueWorker at 'TestStack/Orders': alarm_settings='AlarmKind.ITERATOR_AGE' is not an "
        "alarm of this construct (allowed: AlarmKind.DEAD_LETTER, AlarmKind.MESSAGE_AGE, "
        "AlarmKind.FUNCTION_ERRORS, AlarmKind.FUNCTION_THROTTLES, AlarmKind.FUNCTION_DURATION)"
    )


def test_thresholds_and_periods_are_checked_per_kind(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError, match=r"^QueueWorker at 'TestStack/Orders': 3 problems"
    ) as raised:
        QueueWorker(
            stack,
            "Orders",
            handler=user_function(stack, "Worker"),
            alarm_settings={
                AlarmKind.FUNCTION_ERRORS: AlarmSettings(threshold=150),
                AlarmKind.FUNCTION_DURATION: AlarmSettings(
                    evaluation_periods=2, datapoints_to_alarm=3
                ),
                AlarmKind.MESSAGE_AGE: AlarmSettings(evaluation_periods=0),
            },
        )
    message = str(raised.value)
    assert "3 problems" in message
    assert (
        "alarm_settings[AlarmKind.FUNCTION_ERRORS].threshold=150 is not allowed "
        "(allowed: 0.01..100 percent)"
    ) in message
    assert (
        "alarm_settings[AlarmKind.FUNCTION_DURATION].datapoints_to_alarm=3 is not allowed "
        "(at most evaluation_periods) (allowed: 1..2)"
    ) in message
    assert "alarm_settings[AlarmKind.MESSAGE_AGE].evaluation_periods=0 is not allowed" in message


def test_message_age_threshold_given_twice_is_refused(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError, match=r"message_age_alarm_threshold=Duration.seconds\(600\) is also"
    ):
        QueueWorker(
            stack,
            "Orders",
            handler=user_function(stack, "Worker"),
            message_age_alarm_threshold=Duration.minutes(10),
            alarm_settings={AlarmKind.MESSAGE_AGE: AlarmSettings(threshold=300)},
        )


def test_settings_keyed_by_strings_are_a_type_error(stack: cdk.Stack) -> None:
    with pytest.raises(TypeError, match=r"^QueueWorker at 'TestStack/Orders': alarm_settings"):
        QueueWorker(
            stack,
            "Orders",
            handler=user_function(stack, "Worker"),
            alarm_settings={"function_errors": AlarmSettings(threshold=1)},  # type: ignore[dict-item]
        )


def test_alarm_settings_fields_are_type_checked() -> None:
    with pytest.raises(TypeError, match=r"^AlarmSettings: threshold must be"):
        AlarmSettings(threshold="5")  # type: ignore[arg-type]


def test_the_operations_page_example_runs_as_written(stack: cdk.Stack) -> None:
    page = (REPO_ROOT / "docs" / "operations.md").read_text()
    section = page[page.index("# Operations") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("```", start)]
    namespace: dict[str, Any] = {"stack": stack, "handler": user_function(stack, "Handler")}
    exec(compile(code, "docs/operations.md", "exec"), namespace)
    worker = namespace["worker"]
    assert alarm_ids(worker) == [
        "DeadLetterQueueAlarm",
        "MessageAgeAlarm",
        "FunctionErrorsAlarm",
        "FunctionDurationAlarm",
    ]
    assert alarms_of(stack)["FunctionErrorsAlarm"]["EvaluationPeriods"] == 5
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Dashboard", 1)
