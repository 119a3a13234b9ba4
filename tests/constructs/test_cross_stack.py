"""A construct in one stack, the function it is given in another.

A construct that delivers to a function (an event source mapping, a subscription) puts what
refers to the function into the function's stack, which then depends on the construct's stack
and never the other way round. A construct that calls functions (a router, a state machine, an
API route) refers to them from its own stack, and puts what the function's stack must hold
(an on-failure queue granted to the function) beside the function. Either way the app
synthesizes without a dependency cycle, and each construct still exposes what it built.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from serverless_patterns import (
    CommandRouter,
    Connector,
    FanOutTopic,
    FilterPipeline,
    KinesisBatchConsumer,
    LegacyApiProxy,
    QueueWorker,
    Stage,
)
from tests.support import new_app, user_function

ENV = cdk.Environment(account="123456789012", region="eu-west-1")


def stacks(*names: str) -> tuple[cdk.App, list[cdk.Stack]]:
    app = new_app()
    return app, [cdk.Stack(app, name, env=ENV) for name in names]


def dependencies(app: cdk.App) -> dict[str, list[str]]:
    """Stack -> the stacks it depends on, as the synthesized assembly says."""
    assembly = app.synth()
    names = {stack.stack_name for stack in assembly.stacks}
    return {
        stack.stack_name: sorted(d.id for d in stack.dependencies if d.id in names)
        for stack in assembly.stacks
    }


def test_queue_worker_mapping_lives_beside_the_function() -> None:
    app, (platform, services) = stacks("Platform", "Services")
    worker = QueueWorker(platform, "Jobs", handler=user_function(services, "Worker"))
    assert dependencies(app) == {"Platform": [], "Services": ["Platform"]}
    assert worker.event_source_mapping.stack is services
    Template.from_stack(platform).resource_count_is("AWS::Lambda::EventSourceMapping", 0)
    Template.from_stack(services).resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    Template.from_stack(platform).resource_count_is("AWS::SQS::Queue", 2)


def test_fan_out_lambda_subscription_lives_beside_the_function() -> None:
    app, (platform, services) = stacks("Platform", "Services")
    fan = FanOutTopic(platform, "Events")
    subscription = fan.add_lambda_subscriber(user_function(services, "Audit"), id="Audit")
    fan.add_worker(user_function(services, "Thumbnail"), id="Thumbnails")
    assert dependencies(app) == {"Platform": [], "Services": ["Platform"]}
    assert subscription.stack is services
    template = Template.from_stack(services)
    template.resource_count_is("AWS::SNS::Subscription", 1)
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    template.resource_count_is("AWS::Lambda::Permission", 1)
    # The subscription's DLQ and the worker's queue stay with the topic.
    assert "Audit" in fan.dead_letter_queues
    assert fan.dead_letter_queues["Audit"].stack is platform
    # Topic (2), Audit's subscription DLQ, invoke failures and health (3), the worker's
    # subscription DLQ, DLQ, message age and function health (3): the invoke failure alarm and
    # the functions' health alarms watch what lives beside the functions, in their stack.
    assert len(fan.alarms) == 13
    assert sorted(alarm.stack.stack_name for alarm in fan.alarms).count("Services") == 7


def test_kinesis_consumer_lives_beside_its_function() -> None:
    app, (platform, services) = stacks("Platform", "Services")
    consumer = KinesisBatchConsumer(platform, "Clicks", handler=user_function(services, "Consumer"))
    assert dependencies(app) == {"Platform": [], "Services": ["Platform"]}
    assert consumer.event_source_mapping.stack is services
    assert consumer.failure_destination.stack is services
    # Failure destination, iterator age, and the function's health (3)
    Template.from_stack(services).resource_count_is("AWS::CloudWatch::Alarm", 5)
    Template.from_stack(platform).resource_count_is("AWS::Kinesis::Stream", 1)


def test_filter_pipeline_queue_stages_from_another_stack() -> None:
    app, (platform, services) = stacks("Platform", "Services")
    pipeline = FilterPipeline(
        platform,
        "Orders",
        stages=[
            Stage(name="validate", handler=user_function(services, "Validate")),
            Stage(name="persist", handler=user_function(services, "Persist")),
        ],
    )
    assert dependencies(app) == {"Platform": [], "Services": ["Platform"]}
    assert [stage.queue.stack for stage in pipeline.stages if stage.queue] == [platform, platform]
    template = Template.from_stack(services)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Layers": Match.array_with([{"Ref": Match.string_like_regexp("PowertoolsLayer")}])},
    )


@pytest.mark.parametrize("workflow", [Connector.STATE_MACHINE])
def test_callers_refer_to_functions_of_another_stack(workflow: Connector) -> None:
    app, (services, api) = stacks("Services", "Api")
    router = CommandRouter(api, "Commands")
    router.add_command("get-user", user_function(services, "GetUser"))
    mail = router.add_command("send-mail", user_function(services, "SendMail"), asynchronous=True)
    FilterPipeline(
        api,
        "Screening",
        connector=workflow,
        stages=[Stage(name="screen", handler=user_function(services, "Screen"))],
    )
    proxy = LegacyApiProxy(api, "Inventory", legacy_base_url="https://legacy.example.com")
    proxy.add_translated_route(
        "/orders/{id}", "GET", legacy_path="/o/{id}", handler=user_function(services, "Orders")
    )
    assert dependencies(app) == {"Api": ["Services"], "Services": []}
    # The on-failure queue is granted to the receiver: it lives beside it, its alarm here.
    assert mail.failure_queue is not None
    assert mail.failure_queue.stack is services
    assert any(alarm.stack is api for alarm in router.alarms if "SendMail" in alarm.node.id)
