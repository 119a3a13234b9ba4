"""ProbeExample: three websites checked every five minutes, alerts by email."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import PACKAGED_HANDLERS, code, powertools_layer

NAMESPACE = "ServerlessPatterns/Probe"
#: name, url, timeout (s), contains, max_latency (s)
TARGETS = (
    ("aws-home", "https://aws.amazon.com/", 10, None, 3),
    ("example-redirect", "http://example.org/", 10, None, None),
    ("example-content", "https://www.example.com/", 5, "Example Domain", None),
)


class ProbeExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        operators = c.alarm_topic(self, "OperatorsTopic")
        probe = Construct(self, "Websites")
        alert_topic = c.alarm_topic(probe, "AlertTopic")
        alert_dlq = c.dead_letter_queue(probe, "AlertDeadLetterQueue")
        sns.Subscription(
            probe,
            "AlertSubscription1",
            topic=alert_topic,
            protocol=sns.SubscriptionProtocol.EMAIL,
            endpoint="ops@example.com",
            dead_letter_queue=alert_dlq,
        )
        service = "ProbeExample-Websites"
        function = c.function(
            probe,
            "Function",
            layer=powertools_layer(self),
            code_=code(PACKAGED_HANDLERS / "probe"),
            service_name=service,
            timeout=60,
            environment={
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
                "PROBE_TARGETS": json.dumps(
                    [
                        {
                            "name": name,
                            "url": url,
                            "method": "GET",
                            "expected_status": [200, 200],
                            "timeout": timeout,
                            "contains": contains,
                            "max_latency": max_latency,
                            "headers": {},
                        }
                        for name, url, timeout, contains, max_latency in TARGETS
                    ]
                ),
                "PROBE_MAX_REDIRECTS": "5",
            },
            description=f"Checks 3 website(s) for {probe.node.path}",
        )
        book = c.Alarms(operators)
        hint = c.redrive(id, "Websites")
        failures = c.dead_letter_queue(probe, "InvokeFailureQueue")
        lambda_.EventInvokeConfig(
            probe,
            "InvokeConfig",
            function=function,
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=0,
            max_event_age=Duration.minutes(5),
        )
        book.dead_letter(
            probe,
            "InvokeFailureAlarm",
            failures,
            consumer=f"the record's responsePayload and the logs of {function.node.path}",
            redrive_command=hint,
        )
        schedule_dlq = c.dead_letter_queue(probe, "ScheduleDeadLetterQueue")
        role = iam.Role(
            probe,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description=f"Lets the schedule of {probe.node.path} invoke its probe",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
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
                max_event_age=Duration.minutes(5),
            ),
            description=f"Runs the website probe of {probe.node.path}",
        )
        schedule.node.add_dependency(role)

        availability = {
            name: cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name="Availability",
                dimensions_map={"service": service, "Target": name},
                statistic=cloudwatch.Stats.MINIMUM,
                period=Duration.minutes(5),
            )
            for name, *_ in TARGETS
        }
        alerts = c.Alarms(alert_topic)
        for name, url, *_ in TARGETS:
            alerts.add(
                cloudwatch.Alarm(
                    probe,
                    "".join(part.capitalize() for part in name.split("-")) + "Alarm",
                    alarm_description=f"{name} ({url}) failed 2 check(s) in a row. First: the "
                    f"probe's log (Logs Insights on its log group, filter target = '{name}') "
                    "says why: status, content, latency or a connection error; then the site "
                    "itself. OK follows the first good check.",
                    metric=availability[name],
                    threshold=1,
                    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                )
            )
        book.dead_letter(
            probe,
            "ScheduleDeadLetterAlarm",
            schedule_dlq,
            consumer="the message attributes (ERROR_CODE, ERROR_MESSAGE the scheduler adds)",
            redrive_command=hint,
        )
        book.function_health(
            probe,
            "Function",
            function,
            timeout=60,
            after_failure=f"A failed run is kept in {failures.node.path}; the next run checks "
            "again.",
        )
        book.dead_letter(
            probe,
            "AlertDeadLetterAlarm",
            alert_dlq,
            consumer="the topic's delivery status logs (an address that bounces?)",
            redrive_command=hint,
        )

        c.add_segment(
            board,
            [
                c.header("ScheduledProbe", probe.node.path, "3 target(s)"),
                cloudwatch.GraphWidget(
                    title="Availability (1 up, 0 down)",
                    left=[metric.with_(label=name) for name, metric in availability.items()],
                    left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                    width=8,
                    height=6,
                ),
                *c.function_widgets("Probe", function, 60),
                c.dead_letter_widget("Failed runs", failures),
                c.dead_letter_widget("Undelivered invocations", schedule_dlq),
                c.alarm_widget([*alerts.alarms, *book.alarms], 4),
            ],
        )
