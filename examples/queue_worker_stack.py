"""QueueWorker example: orders arrive on a queue, a worker prices them into a DynamoDB table."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from examples._shared import lambda_code, table
from serverless_patterns import PatternsDashboard, QueueWorker, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic


class QueueWorkerExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")
        orders = table(self, "OrdersTable", "order_id")
        function = ServerlessFunction(
            self,
            "OrdersWorkerFunction",
            code=lambda_code("queue_worker_example"),
            service_name="orders-worker",
            environment={"TABLE_NAME": orders.table_name},
            description="Prices orders from the Orders queue into the orders table",
        )
        orders.grant(function, "dynamodb:PutItem")
        worker = QueueWorker(self, "Orders", handler=function, alarm_topic=alarm_topic)

        CfnOutput(self, "QueueUrl", value=worker.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=worker.dead_letter_queue.queue_url)
        CfnOutput(self, "TableName", value=orders.table_name)
