"""FilterPipeline example: order processing, built once with each connector.

Orders enter the pipeline's input queue and pass validate -> enrich (prices, tax) -> fraud
screen (takes suspicious orders out) -> persist (DynamoDB). Accepted orders are published to an
encrypted topic for whoever ships them; rejected ones wait in the rejected queue with the stage
and the reason; failed ones wait in a dead-letter queue. The two stacks differ only in the
connector, so their templates show what each one costs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from examples._shared import lambda_code, table
from serverless_patterns import (
    Connector,
    FilterPipeline,
    PatternsDashboard,
    ServerlessFunction,
    Stage,
)
from serverless_patterns.alarms import encrypted_alarm_topic

#: (stage name, handler folder in lambda_src/, description)
ORDER_STAGES = (
    ("validate", "pipeline_validate", "Checks the shape of an order; rejects malformed ones"),
    ("enrich", "pipeline_enrich", "Prices the order lines and adds tax by country"),
    ("fraud_screen", "pipeline_fraud_screen", "Takes suspicious orders out of the pipeline"),
    ("persist", "pipeline_persist", "Stores the order in the orders table (idempotent)"),
)


class _OrderPipelineExampleStack(Stack):
    CONNECTOR: ClassVar[Connector]

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")
        orders = table(self, "OrdersTable", "order_id")
        accepted = sns.Topic(
            self,
            "AcceptedOrdersTopic",
            master_key=kms.Key(
                self,
                "AcceptedOrdersKey",
                enable_key_rotation=True,
                description="Encrypts the accepted orders published by the order pipeline",
            ),
            enforce_ssl=True,
        )
        functions = {
            name: ServerlessFunction(
                self,
                f"{name.title().replace('_', '')}Function",
                code=lambda_code(folder),
                service_name=f"orders-{name.replace('_', '-')}",
                timeout=Duration.seconds(10),
                description=description,
            )
            for name, folder, description in ORDER_STAGES
        }
        persist = functions["persist"]
        persist.add_environment("TABLE_NAME", orders.table_name)
        orders.grant(persist, "dynamodb:PutItem")

        pipeline = FilterPipeline(
            self,
            "Orders",
            stages=[Stage(name=name, handler=function) for name, function in functions.items()],
            connector=self.CONNECTOR,
            output=accepted,
            alarm_topic=alarm_topic,
        )

        assert pipeline.input_queue is not None
        CfnOutput(self, "InputQueueUrl", value=pipeline.input_queue.queue_url)
        CfnOutput(self, "RejectedQueueUrl", value=pipeline.rejected.queue_url)
        CfnOutput(self, "AcceptedTopicArn", value=accepted.topic_arn)
        CfnOutput(self, "TableName", value=orders.table_name)
        if pipeline.state_machine is not None:
            CfnOutput(self, "StateMachineArn", value=pipeline.state_machine.state_machine_arn)


class PipelineQueuesExampleStack(_OrderPipelineExampleStack):
    """The order pipeline with ``Connector.QUEUES``: a queue and DLQ per stage."""

    CONNECTOR = Connector.QUEUES


class PipelineStateMachineExampleStack(_OrderPipelineExampleStack):
    """The order pipeline with ``Connector.STATE_MACHINE``: an Express workflow."""

    CONNECTOR = Connector.STATE_MACHINE
