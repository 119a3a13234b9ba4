"""LegacyProxyExample: a JSON API over a legacy XML service, the translator in a VPC."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import PACKAGED_HANDLERS, code, powertools_layer

DEFAULT_LEGACY_URL = "https://legacy-inventory.example.com"
TRANSLATIONS = {
    "GET /items/{id}": {
        "legacy_path": "/inventory/item/{id}",
        "legacy_method": "GET",
        "response_format": "xml",
        "response_mapping": {
            "id": "item.@id",
            "sku": "item.sku",
            "name": "item.name",
            "stock": {"path": "item.stock", "type": "int"},
        },
    },
    "GET /items": {
        "legacy_path": "/inventory/items",
        "legacy_method": "GET",
        "response_format": "xml",
        "response_mapping": {
            "items": {"from": "items.item", "each": {"id": "@id", "sku": "sku", "name": "name"}}
        },
    },
}


class LegacyProxyExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        legacy_url = self.node.try_get_context("legacy_inventory_url") or DEFAULT_LEGACY_URL
        network = ec2.Vpc(
            self,
            "LegacyNetwork",
            max_azs=2,
            nat_gateways=0,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="legacy", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                        logs.LogGroup(
                            self,
                            "FlowLogs",
                            retention=logs.RetentionDays.ONE_MONTH,
                            removal_policy=c.DESTROY,
                        )
                    ),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        alarm_topic = c.alarm_topic(self, "AlarmTopic")

        inventory = Construct(self, "Inventory")
        book = c.Alarms(alarm_topic)
        api = c.rest_api(
            inventory,
            name="LegacyProxyExample-Inventory",
            description=f"Modern API of {inventory.node.path} over {legacy_url}",
            throttle_rate=50,
            throttle_burst=100,
            authorization_type=apigateway.AuthorizationType.IAM,
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        book.alarm(
            inventory,
            "Api5xxRateAlarm",
            f"{inventory.node.path}: more than 5% of the API's requests were answered 5XX. "
            "First: the API's access log (status, integration error) and the legacy service's "
            "own logs; callers see the errors, nothing is kept for a retry.",
            api.metric_server_error(period=c.FIVE_MINUTES, statistic=cloudwatch.Stats.AVERAGE),
            0.05,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=c.GT,
        )
        book.alarm(
            inventory,
            "ApiLatencyAlarm",
            f"{inventory.node.path}: p99 latency is above 80% of the 10000 ms integration "
            "timeout: callers are about to get 504. First: IntegrationLatency against Latency "
            "on the dashboard (the backend or API Gateway), then the backend's own latency.",
            api.metric_latency(period=c.FIVE_MINUTES, statistic=c.P99),
            8000,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=c.GT,
        )

        translator = c.function(
            inventory,
            "TranslatorFunction",
            layer=powertools_layer(self),
            code_=code(PACKAGED_HANDLERS / "translator"),
            service_name="LegacyProxyExample-Inventory",
            timeout=11,
            environment={
                "LEGACY_BASE_URL": legacy_url,
                "LEGACY_TIMEOUT": "8",
                "TRANSLATOR_ROUTES": json.dumps(TRANSLATIONS, separators=(",", ":")),
            },
            description=f"Translates JSON <-> legacy responses for {inventory.node.path}",
            vpc=network,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )
        book.function_health(
            inventory,
            "Translator",
            translator,
            timeout=11,
            after_failure="Callers got 502; nothing is kept for a retry.",
        )
        timeout = Duration.seconds(10)
        api.root.resource_for_path("/items/{id}").add_method(
            "GET",
            apigateway.LambdaIntegration(
                translator, timeout=timeout, cache_key_parameters=["method.request.path.id"]
            ),
            request_validator=validator,
            request_parameters={"method.request.path.id": True},
        )
        # The stage's cache, and caching of GET /items/{id} for a minute: on the L1 stage.
        stage = api.deployment_stage.node.default_child
        assert isinstance(stage, apigateway.CfnStage)
        stage.cache_cluster_enabled = True
        stage.cache_cluster_size = "0.5"
        stage.method_settings = [
            apigateway.CfnStage.MethodSettingProperty(
                http_method="*",
                resource_path="/*",
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
            ),
            apigateway.CfnStage.MethodSettingProperty(
                http_method="GET",
                resource_path="/~1items~1{id}",
                caching_enabled=True,
                cache_ttl_in_seconds=60,
                cache_data_encrypted=True,
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
            ),
        ]
        api.root.resource_for_path("/items").add_method(
            "GET",
            apigateway.LambdaIntegration(translator, timeout=timeout),
            request_validator=validator,
            request_parameters={},
        )
        api.root.resource_for_path("/legacy/{proxy+}").add_method(
            "GET",
            apigateway.HttpIntegration(
                f"{legacy_url}/{{proxy}}",
                http_method="GET",
                proxy=True,
                options=apigateway.IntegrationOptions(
                    timeout=timeout,
                    request_parameters={
                        "integration.request.path.proxy": "method.request.path.proxy"
                    },
                ),
            ),
            request_validator=validator,
            request_parameters={"method.request.path.proxy": True},
        )

        c.add_segment(
            board,
            [
                c.header("LegacyApiProxy", inventory.node.path, legacy_url),
                *c.api_widgets("API", api, 10_000),
                *c.function_widgets("Translator", translator, 11),
                c.alarm_widget(book.alarms, 3),
            ],
        )
        CfnOutput(self, "InventoryUrl", value=api.url)
