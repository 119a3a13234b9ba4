"""Example stacks: each shows one construct of the library as a user would deploy it."""

from __future__ import annotations

from aws_cdk import App, RemovalPolicies, Stack
from aws_cdk import aws_kms as kms

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


#: KMS keeps a deleted key this long (the shortest it allows) before it is gone.
KEY_DELETION_WINDOW_DAYS = 7
#: What CDK keeps on deletion by default, and the examples do not.
KEPT_BY_DEFAULT = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
)


def build_examples(app: App) -> list[Stack]:
    """Add every example stack to ``app``.

    The examples are disposable: ``make destroy`` deletes every resource they made (keys are
    scheduled for deletion after the shortest window, buckets are emptied first), so they
    deploy, destroy and deploy again and leave nothing that bills. ApiGatewayAccount alone keeps
    its role: the account setting that names it outlives the stack.
    """
    stacks = {name: stack_class(app, name) for name, stack_class in EXAMPLE_STACKS.items()}
    for name in API_STACKS:
        stacks[name].add_stack_dependency(stacks["ApiGatewayAccount"])
    for name, stack in stacks.items():
        if name == "ApiGatewayAccount":
            continue
        RemovalPolicies.of(stack).destroy(apply_to_resource_types=list(KEPT_BY_DEFAULT))
        for construct in stack.node.find_all():
            if isinstance(construct, kms.CfnKey):
                construct.pending_window_in_days = KEY_DELETION_WINDOW_DAYS
    return list(stacks.values())
