"""ScheduledProbe example: a website monitor with email alerts."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from serverless_patterns import PatternsDashboard, ProbeTarget, ScheduledProbe
from serverless_patterns.alarms import encrypted_alarm_topic


class ProbeExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        ScheduledProbe(
            self,
            "Websites",
            targets=[
                ProbeTarget(
                    url="https://aws.amazon.com/",
                    name="aws-home",
                    max_latency=Duration.seconds(3),
                ),
                # Answers with a redirect to https://www.example.org/...; redirects are followed.
                ProbeTarget(url="http://example.org/", name="example-redirect"),
                ProbeTarget(
                    url="https://www.example.com/",
                    name="example-content",
                    contains="Example Domain",
                    timeout=Duration.seconds(5),
                ),
            ],
            schedule=Duration.minutes(5),
            alert_emails=["ops@example.com"],
            failure_threshold=2,
            # The operators of the probe itself: hears failed runs and undeliverable alerts.
            alarm_topic=encrypted_alarm_topic(self, "OperatorsTopic"),
        )
