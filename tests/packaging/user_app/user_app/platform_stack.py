"""Shared resources: an alarm topic, an event topic and a click stream."""

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from serverless_patterns import FanOutTopic, KinesisBatchConsumer, QueueWorker


class PlatformStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key(self, "AlarmKey", enable_key_rotation=True)
        self.alarm_topic = sns.Topic(self, "Alarms", master_key=key)
        self.events = FanOutTopic(self, "Events", alarm_topic=self.alarm_topic)
        # Set by the service stack, whose functions consume what lives here.
        self.clicks: KinesisBatchConsumer | None = None
        self.jobs: QueueWorker | None = None
