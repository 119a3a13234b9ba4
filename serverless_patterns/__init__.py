"""AWS CDK v2 L3 constructs for the classic serverless patterns, with safe defaults."""

from serverless_patterns.command_router import CommandRouter, CommandVersion
from serverless_patterns.fan_out_topic import FanOutTopic
from serverless_patterns.filter_pipeline import (
    Connector,
    FilterPipeline,
    PipelineStage,
    Stage,
    stage_layer_for,
)
from serverless_patterns.functions import (
    ASSET_EXCLUDES,
    ServerlessFunction,
    latest_python_runtime,
    powertools_layer_for,
)
from serverless_patterns.kinesis_batch_consumer import (
    INFINITE,
    KinesisBatchConsumer,
    StreamConsumerResources,
)
from serverless_patterns.legacy_api_proxy import LegacyApiProxy, Route
from serverless_patterns.queue_worker import QueueWorker
from serverless_patterns.scheduled_probe import ProbeTarget, ScheduledProbe

__all__ = [
    "ASSET_EXCLUDES",
    "INFINITE",
    "CommandRouter",
    "CommandVersion",
    "Connector",
    "FanOutTopic",
    "FilterPipeline",
    "KinesisBatchConsumer",
    "LegacyApiProxy",
    "PipelineStage",
    "ProbeTarget",
    "QueueWorker",
    "Route",
    "ScheduledProbe",
    "ServerlessFunction",
    "Stage",
    "StreamConsumerResources",
    "latest_python_runtime",
    "powertools_layer_for",
    "stage_layer_for",
]
