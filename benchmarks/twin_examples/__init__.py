"""The example stacks written out by hand with plain aws-cdk-lib: the twin app's stacks.

One module per example stack (the same names, construct ids and resources as ``examples/``);
``_common`` holds what several of them write out, ``_layers`` the two layers' assets.
Nothing here imports ``serverless_patterns``.
"""

from __future__ import annotations

from aws_cdk import Stack

from benchmarks.twin_examples.account import ApiGatewayAccountTwin
from benchmarks.twin_examples.command_router import CommandRouterExampleTwin
from benchmarks.twin_examples.fan_out import FanOutExampleTwin
from benchmarks.twin_examples.kinesis import KinesisExampleTwin
from benchmarks.twin_examples.legacy_proxy import LegacyProxyExampleTwin
from benchmarks.twin_examples.pipeline import (
    PipelineQueuesExampleTwin,
    PipelineStateMachineExampleTwin,
)
from benchmarks.twin_examples.probe import ProbeExampleTwin
from benchmarks.twin_examples.queue_worker import QueueWorkerExampleTwin

#: Stack name -> twin stack class, in the order of ``examples.EXAMPLE_STACKS``.
TWIN_STACKS: dict[str, type[Stack]] = {
    "ApiGatewayAccount": ApiGatewayAccountTwin,
    "QueueWorkerExample": QueueWorkerExampleTwin,
    "FanOutExample": FanOutExampleTwin,
    "KinesisExample": KinesisExampleTwin,
    "ProbeExample": ProbeExampleTwin,
    "CommandRouterExample": CommandRouterExampleTwin,
    "LegacyProxyExample": LegacyProxyExampleTwin,
    "PipelineQueuesExample": PipelineQueuesExampleTwin,
    "PipelineStateMachineExample": PipelineStateMachineExampleTwin,
}

#: Stacks whose API stages write access logs: deployed after the account's logging role.
API_STACKS = ("KinesisExample", "CommandRouterExample", "LegacyProxyExample")
