"""Example stacks: each shows one construct of the library as a user would deploy it."""

from __future__ import annotations

from aws_cdk import App, Stack

from examples.account_stack import ApiGatewayAccountStack
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
    "ApiGatewayAccount": ApiGatewayAccountStack,
    "QueueWorkerExample": QueueWorkerExampleStack,
    "FanOutExample": FanOutExampleStack,
    "KinesisExample": KinesisExampleStack,
    "ProbeExample": ProbeExampleStack,
    "CommandRouterExample": CommandRouterExampleStack,
    "LegacyProxyExample": LegacyProxyExampleStack,
    "PipelineQueuesExample": PipelineQueuesExampleStack,
    "PipelineStateMachineExample": PipelineStateMachineExampleStack,
}


#: Stacks whose API stages write access logs: they need the account's API Gateway logging role.
API_STACKS = ("KinesisExample", "CommandRouterExample", "LegacyProxyExample")


def build_examples(app: App) -> list[Stack]:
    """Add every example stack to ``app``."""
    stacks = {name: stack_class(app, name) for name, stack_class in EXAMPLE_STACKS.items()}
    for name in API_STACKS:
        stacks[name].add_dependency(stacks["ApiGatewayAccount"])
    return list(stacks.values())
