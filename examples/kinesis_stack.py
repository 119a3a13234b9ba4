"""KinesisBatchConsumer example: clickstream analytics.

An IAM-authorized ingest API puts click events straight onto a Kinesis stream; an aggregator
counts page views per page in one-minute tumbling windows into a DynamoDB table, and a second
consumer archives the raw clicks to S3 as JSON lines.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from examples._shared import (
    access_log_bucket,
    allow_objects,
    lambda_code,
    private_bucket,
    table,
)
from serverless_patterns import KinesisBatchConsumer, PatternsDashboard, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic, notify, occurrence_alarm


class KinesisExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")
        page_views = table(self, "PageViewsTable", "page", "window_start")
        archive = private_bucket(
            self,
            "ArchiveBucket",
            access_logs=access_log_bucket(self),
            access_logs_prefix="archive-bucket/",
        )

        aggregator = ServerlessFunction(
            self,
            "AggregatorFunction",
            code=lambda_code("clickstream_aggregator"),
            service_name="clickstream-aggregator",
            environment={"TABLE_NAME": page_views.table_name},
        )
        page_views.grant(aggregator, "dynamodb:PutItem", "dynamodb:BatchWriteItem")
        clicks = KinesisBatchConsumer(
            self,
            "Clicks",
            handler=aggregator,
            batch_size=100,
            tumbling_window=Duration.minutes(1),
            alarm_topic=alarm_topic,
        )

        archiver = ServerlessFunction(
            self,
            "ArchiverFunction",
            code=lambda_code("clickstream_archiver"),
            service_name="clickstream-archiver",
            environment={"BUCKET_NAME": archive.bucket_name},
        )
        allow_objects(archiver, archive, ["s3:PutObject"], "clicks/*")
        clicks.add_consumer(
            archiver, id="Archive", batch_size=500, max_batching_window=Duration.seconds(30)
        )

        api = clicks.add_ingest_api(throttle_rate=50, throttle_burst=100)

        # The consumers drop records that are not clicks (retrying cannot fix them) and count
        # them: someone should hear that a producer sends garbage.
        for service in ("clickstream-aggregator", "clickstream-archiver"):
            alarm = occurrence_alarm(
                self,
                f"{service.title().replace('-', '')}MalformedAlarm",
                metric=cloudwatch.Metric(
                    namespace="ServerlessPatterns",
                    metric_name="MalformedRecords",
                    dimensions_map={"service": service},
                    statistic=cloudwatch.Stats.SUM,
                    period=Duration.minutes(5),
                ),
                description=(
                    f"{service} dropped records that are not click events. First: its log "
                    "('malformed record dropped', WARNING) gives each one's sequence number and "
                    "reason; fix the producer (dropped records are not retried)."
                ),
            )
            notify([alarm], alarm_topic)

        CfnOutput(self, "IngestUrl", value=api.url_for_path("/records"))
        CfnOutput(self, "StreamName", value=clicks.stream.stream_name)
        CfnOutput(self, "PageViewsTableName", value=page_views.table_name)
