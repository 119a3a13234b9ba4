"""Example stacks: each shows one construct of the library as a user would deploy it."""

from __future__ import annotations

from aws_cdk import App, Stack

from examples.command_router_stack import CommandRouterExampleStack
from examples.fan_out_stack import FanOutExampleStack
from examples.filter_pipeline_stack import (
    PipelineQueuesExampleStack,
    PipelineStateMachineExampleStack,
)
from examples.kinesis_stack import KinesisExampleStack
from examples.legacy_proxy_stack import LegacyProxyExampleStack
from examples.probe_stack import ProbeExampleStack
from examples.queue_worker_stack import QueueWorkerExampleStack

#: Stack name -> stack class, in deploy order. ``app.py`` and the tests build from this.
EXAMPLE_STACKS: dict[str, type[Stack]] = {
    "QueueWorkerExample": QueueWorkerExampleStack,
    "FanOutExample": FanOutExampleStack,
    "KinesisExample": KinesisExampleStack,
    "ProbeExample": ProbeExampleStack,
    "CommandRouterExample": CommandRouterExampleStack,
    "LegacyProxyExample": LegacyProxyExampleStack,
    "PipelineQueuesExample": PipelineQueuesExampleStack,
    "PipelineStateMachineExample": PipelineStateMachineExampleStack,
}


def build_examples(app: App) -> list[Stack]:
    """Add every example stack to ``app``."""
    return [stack_class(app, name) for name, stack_class in EXAMPLE_STACKS.items()]
