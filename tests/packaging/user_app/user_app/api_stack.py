"""Front doors that call the service stack's functions (this stack depends on it)."""

from aws_cdk import Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from user_app.platform_stack import PlatformStack
from user_app.service_stack import ServiceStack

from serverless_patterns import (
    CommandRouter,
    Connector,
    FilterPipeline,
    LegacyApiProxy,
    ProbeTarget,
    ScheduledProbe,
    ServerlessFunction,
    Stage,
)


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformStack,
        services: ServiceStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        pool = cognito.UserPool.from_user_pool_id(self, "Pool", "eu-west-1_abcdefghi")
        router = CommandRouter(
            self,
            "Commands",
            authorization="COGNITO",
            user_pool=pool,
            alarm_topic=platform.alarm_topic,
        )
        router.add_command("get-order", services.receiver)
        router.add_command("send-receipt", services.mailer, asynchronous=True)
        # The library's own function at its defaults fits the router at its defaults.
        router.add_command(
            "ping",
            ServerlessFunction(
                self,
                "Ping",
                code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
                handler="index.handler",
            ),
        )

        FilterPipeline(
            self,
            "Screening",
            connector=Connector.STATE_MACHINE,
            stages=[
                Stage(name="screen", handler=services.screen),
                Stage(name="persist", handler=services.persist),
            ],
        )

        legacy = LegacyApiProxy(
            self, "Inventory", legacy_base_url="https://inventory.example.com/api"
        )
        legacy.add_passthrough("/stock/{sku}", methods=["GET"])
        legacy.add_translated_route(
            "/items/{id}",
            "GET",
            legacy_path="/item/{id}",
            response_mapping={"sku": "item.sku", "count": {"path": "item.count", "type": "int"}},
        )
        legacy.add_translated_route(
            "/orders/{id}", "GET", legacy_path="/o/{id}", handler=services.receiver
        )

        ScheduledProbe(
            self,
            "Uptime",
            targets=[ProbeTarget(url="https://shop.example.com/health")],
            schedule="rate(5 minutes)",
            alert_topic=platform.alarm_topic,
        )
