"""AWS CDK v2 L3 constructs for the classic serverless patterns, with safe defaults.

The names below are imported on first use (PEP 562), so ``import serverless_patterns.stage``,
the runtime helper of pipeline stages, does not load aws-cdk-lib and its Node.js process: a
stage's unit tests and the Lambda runtime import only what the stage needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from serverless_patterns.alarms import AlarmKind, AlarmSettings
    from serverless_patterns.command_router import CommandRouter, CommandVersion
    from serverless_patterns.dashboards import PatternsDashboard
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
    from serverless_patterns.rest_api import ApiGatewayAccountLogging
    from serverless_patterns.scheduled_probe import ProbeTarget, ScheduledProbe

#: Public name -> the module that defines it.
_EXPORTS = {
    "AlarmKind": "alarms",
    "AlarmSettings": "alarms",
    "PatternsDashboard": "dashboards",
    "ASSET_EXCLUDES": "functions",
    "ApiGatewayAccountLogging": "rest_api",
    "INFINITE": "kinesis_batch_consumer",
    "CommandRouter": "command_router",
    "CommandVersion": "command_router",
    "Connector": "filter_pipeline",
    "FanOutTopic": "fan_out_topic",
    "FilterPipeline": "filter_pipeline",
    "KinesisBatchConsumer": "kinesis_batch_consumer",
    "LegacyApiProxy": "legacy_api_proxy",
    "PipelineStage": "filter_pipeline",
    "ProbeTarget": "scheduled_probe",
    "QueueWorker": "queue_worker",
    "Route": "legacy_api_proxy",
    "ScheduledProbe": "scheduled_probe",
    "ServerlessFunction": "functions",
    "Stage": "filter_pipeline",
    "StreamConsumerResources": "kinesis_batch_consumer",
    "latest_python_runtime": "functions",
    "powertools_layer_for": "functions",
    "stage_layer_for": "filter_pipeline",
}

__all__ = [
    "ASSET_EXCLUDES",
    "INFINITE",
    "AlarmKind",
    "AlarmSettings",
    "ApiGatewayAccountLogging",
    "CommandRouter",
    "CommandVersion",
    "Connector",
    "FanOutTopic",
    "FilterPipeline",
    "KinesisBatchConsumer",
    "LegacyApiProxy",
    "PatternsDashboard",
    "PipelineStage",
    "ProbeTarget",
    "QueueWorker",
    "Route",
    "ScheduledProbe",
    "ServerlessFunction",
    "Stage",
    "StreamConsumerResources",
    "__version__",
    "latest_python_runtime",
    "powertools_layer_for",
    "stage_layer_for",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'serverless_patterns' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"serverless_patterns.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
