"""LegacyApiProxy example: a JSON facade over a legacy XML inventory service."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from serverless_patterns import LegacyApiProxy, PatternsDashboard
from serverless_patterns.alarms import encrypted_alarm_topic

#: Placeholder; deploy with `-c legacy_inventory_url=https://inventory.internal.example`.
DEFAULT_LEGACY_URL = "https://legacy-inventory.example.com"


class LegacyProxyExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        legacy_url = self.node.try_get_context("legacy_inventory_url") or DEFAULT_LEGACY_URL
        # Legacy services are usually private: the translator runs inside the legacy network.
        # Here a VPC of isolated subnets (nothing in it bills); give the proxy your own VPC and
        # private subnets, where the legacy host resolves and answers.
        network = ec2.Vpc(
            self,
            "LegacyNetwork",
            max_azs=2,
            nat_gateways=0,
            # Nothing uses the default security group (the translator gets its own): no CDK
            # custom resource (a Lambda function of CDK's) to empty its rules.
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
                            removal_policy=RemovalPolicy.DESTROY,
                        )
                    ),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        inventory = LegacyApiProxy(
            self,
            "Inventory",
            legacy_base_url=legacy_url,
            integration_timeout=Duration.seconds(10),
            alarm_topic=encrypted_alarm_topic(self, "AlarmTopic"),
            vpc=network,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )
        inventory.add_translated_route(
            "/items/{id}",
            "GET",
            legacy_path="/inventory/item/{id}",
            # The same item for every caller for a minute: keyed by {id}.
            cache_ttl=Duration.seconds(60),
            response_mapping={
                "id": "item.@id",
                "sku": "item.sku",
                "name": "item.name",
                "stock": {"path": "item.stock", "type": "int"},
            },
        )
        inventory.add_translated_route(
            "/items",
            "GET",
            legacy_path="/inventory/items",
            response_mapping={
                "items": {
                    "from": "items.item",
                    "each": {"id": "@id", "sku": "sku", "name": "name"},
                }
            },
        )
        inventory.add_passthrough("/legacy/{proxy+}", methods=("GET",), legacy_path="/{proxy+}")
        CfnOutput(self, "InventoryUrl", value=inventory.url)
