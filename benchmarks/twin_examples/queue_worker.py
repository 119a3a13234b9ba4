"""QueueWorkerExample: orders on a queue, priced by a worker into a table."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import powertools_layer


class QueueWorkerExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        topic = c.alarm_topic(self, "AlarmTopic")
        orders = c.table(self, "OrdersTable", "order_id")
        function = c.function(
            self,
            "OrdersWorkerFunction",
            layer=powertools_layer(self),
            folder="queue_worker_example",
            service_name="orders-worker",
            environment={"TABLE_NAME": orders.table_name},
            description="Prices orders from the Orders queue into the orders table",
        )
        orders.grant(function, "dynamodb:PutItem")
        worker = c.Worker(
            self, "Orders", function, topic, timeout=25, visibility=150, message_age=750
        )
        c.add_segment(board, worker.widgets())

        CfnOutput(self, "QueueUrl", value=worker.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=worker.dead_letter_queue.queue_url)
        CfnOutput(self, "TableName", value=orders.table_name)
