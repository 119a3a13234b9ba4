"""QueueWorker example: orders arrive on a queue, a worker prices them into a DynamoDB table."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from examples._code import lambda_code
from serverless_patterns import QueueWorker, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic


class QueueWorkerExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")
        table = dynamodb.Table(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        function = ServerlessFunction(
            self,
            "OrdersWorkerFunction",
            code=lambda_code("queue_worker_example"),
            service_name="orders-worker",
            environment={"TABLE_NAME": table.table_name},
            description="Prices orders from the Orders queue into the orders table",
        )
        table.grant(function, "dynamodb:PutItem")
        worker = QueueWorker(self, "Orders", handler=function, alarm_topic=alarm_topic)

        CfnOutput(self, "QueueUrl", value=worker.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=worker.dead_letter_queue.queue_url)
        CfnOutput(self, "TableName", value=table.table_name)
