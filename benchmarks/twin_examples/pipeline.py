"""PipelineQueuesExample and PipelineStateMachineExample: one order pipeline, two connectors.

validate -> enrich -> fraud screen -> persist; accepted orders go to an encrypted topic,
rejected ones to a queue. With queues every stage is a queue worker that sends its result to
the next stage's queue; with the state machine an Express workflow, started by a pipe for each
message of an input queue, invokes the stages in order.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Names, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import powertools_layer, stage_layer

#: (stage name, construct id of its function, lambda_src folder, description)
STAGES = (
    (
        "validate",
        "ValidateFunction",
        "pipeline_validate",
        "Checks the shape of an order; rejects malformed ones",
    ),
    (
        "enrich",
        "EnrichFunction",
        "pipeline_enrich",
        "Prices the order lines and adds tax by country",
    ),
    (
        "fraud_screen",
        "FraudScreenFunction",
        "pipeline_fraud_screen",
        "Takes suspicious orders out of the pipeline",
    ),
    (
        "persist",
        "PersistFunction",
        "pipeline_persist",
        "Stores the order in the orders table (idempotent)",
    ),
)
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


class _OrderPipelineTwin(Stack):
    """What both stacks have: alarm topic, table, accepted topic, stage functions, rejects."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.board = c.dashboard(self)
        self.alarm_topic = c.alarm_topic(self, "AlarmTopic")
        self.orders_table = c.table(self, "OrdersTable", "order_id")
        self.accepted_key = c.key(
            self,
            "AcceptedOrdersKey",
            "Encrypts the accepted orders published by the order pipeline",
        )
        self.accepted = sns.Topic(
            self, "AcceptedOrdersTopic", master_key=self.accepted_key, enforce_ssl=True
        )
        layer = powertools_layer(self)
        self.functions = {
            name: c.function(
                self,
                fn_id,
                layer=layer,
                folder=folder,
                service_name=f"orders-{name.replace('_', '-')}",
                timeout=10,
                description=description,
            )
            for name, fn_id, folder, description in STAGES
        }
        persist = self.functions["persist"]
        persist.add_environment("TABLE_NAME", self.orders_table.table_name)
        self.orders_table.grant(persist, "dynamodb:PutItem")

        self.pipeline = Construct(self, "Orders")
        helper = stage_layer(self)
        for function in self.functions.values():
            function.add_layers(helper)
        self.rejected = sqs.Queue(
            self.pipeline,
            "RejectedQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.book = c.Alarms(self.alarm_topic)
        self.book.message_age(
            self.pipeline,
            "RejectedAgeAlarm",
            self.rejected,
            604_800,
            consumer="whoever reviews rejected items",
        )

    def _outputs(self, input_queue: sqs.IQueue) -> None:
        CfnOutput(self, "InputQueueUrl", value=input_queue.queue_url)
        CfnOutput(self, "RejectedQueueUrl", value=self.rejected.queue_url)
        CfnOutput(self, "AcceptedTopicArn", value=self.accepted.topic_arn)
        CfnOutput(self, "TableName", value=self.orders_table.table_name)

    def _rejected_widget(self) -> cloudwatch.IWidget:
        return c.queue_widgets("Rejected", self.rejected, None)[0]

    def _grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on the accepted topic, and on its key only what publishing needs."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.accepted.topic_arn])
        )
        self.accepted_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")


class PipelineQueuesExampleTwin(_OrderPipelineTwin):
    """A queue worker per stage; each stage sends to the next stage's queue."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stages = Construct(self.pipeline, "Stages")
        workers = [
            c.Worker(
                stages,
                name,
                self.functions[name],
                self.alarm_topic,
                timeout=10,
                visibility=60,
                message_age=300,
            )
            for name, *_ in STAGES
        ]
        for index, worker in enumerate(workers):
            function = worker.function
            if index + 1 < len(workers):
                next_queue = workers[index + 1].queue
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["sqs:SendMessage"], resources=[next_queue.queue_arn]
                    )
                )
                next_destination = next_queue.queue_url
            else:
                self._grant_publish(function)
                next_destination = self.accepted.topic_arn
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"], resources=[self.rejected.queue_arn]
                )
            )
            function.add_environment("PIPELINE_STAGE", STAGES[index][0])
            function.add_environment("PIPELINE_NEXT", next_destination)
            function.add_environment("PIPELINE_REJECTED", self.rejected.queue_url)
            self.book.alarms.extend(worker.book.alarms)

        c.add_segment(
            self.board,
            [
                c.header("FilterPipeline", self.pipeline.node.path, "4 stage(s)"),
                self._rejected_widget(),
                c.alarm_widget(self.book.alarms, 8),
            ],
        )
        for worker in workers:
            c.add_segment(self.board, worker.widgets())
        self._outputs(workers[0].queue)


class PipelineStateMachineExampleTwin(_OrderPipelineTwin):
    """An Express workflow invokes the stages; a pipe starts it for each input message."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        pipeline, book = self.pipeline, self.book
        hint = c.redrive(id, "Orders")
        dlq = c.dead_letter_queue(pipeline, "DeadLetterQueue")
        book.dead_letter(
            pipeline,
            "DeadLetterQueueAlarm",
            dlq,
            consumer="the message's error (stage, cause) and the stage function's logs",
            redrive_command=hint,
        )
        for name, function in self.functions.items():
            book.function_health(
                pipeline,
                f"{name}Function",
                function,
                timeout=10,
                after_failure="Service errors and throttles are retried; a failed item is kept "
                f"with its stage and error in {dlq.node.path}.",
            )

        workflow = Construct(pipeline, "Workflow")
        filtered_end = sfn.Succeed(workflow, "Filtered out")
        failed_end = sfn.Succeed(
            workflow,
            "Dead-lettered",
            comment="The failed item and its stage are in the dead-letter queue, which alarms",
        )
        next_state: sfn.IChainable = tasks.SnsPublish(
            workflow,
            "Publish to output",
            topic=self.accepted,
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.item"))
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(sfn.Succeed(workflow, "Accepted", output_path="$.item"))
        for name, *_ in reversed(STAGES):
            task = tasks.LambdaInvoke(
                workflow,
                name,
                lambda_function=self.functions[name],
                payload=sfn.TaskInput.from_object(
                    {"pipelineStage": name, "item": sfn.JsonPath.object_at("$.item")}
                ),
                output_path="$.Payload",
                retry_on_service_exceptions=False,
            )
            task.add_retry(
                errors=TRANSIENT_LAMBDA_ERRORS,
                interval=Duration.seconds(1),
                max_attempts=3,
                backoff_rate=2,
                jitter_strategy=sfn.JitterType.FULL,
            )
            failed = tasks.SqsSendMessage(
                workflow,
                f"{name} failed",
                queue=dlq,
                message_body=sfn.TaskInput.from_object(
                    {
                        "stage": name,
                        "item": sfn.JsonPath.object_at("$.item"),
                        "error": sfn.JsonPath.object_at("$.error"),
                    }
                ),
                result_path=sfn.JsonPath.DISCARD,
            ).next(failed_end)
            task.add_catch(failed, result_path="$.error")
            rejected = tasks.SqsSendMessage(
                workflow,
                f"{name} rejected",
                queue=self.rejected,
                message_body=sfn.TaskInput.from_object(
                    {
                        "stage": name,
                        "reason": sfn.JsonPath.string_at("$.reason"),
                        "item": sfn.JsonPath.object_at("$.item"),
                    }
                ),
                result_path=sfn.JsonPath.DISCARD,
            ).next(filtered_end)
            task.next(
                sfn.Choice(workflow, f"{name} filtered?")
                .when(sfn.Condition.string_equals("$.outcome", "filtered"), rejected)
                .otherwise(next_state)
            )
            next_state = task
        read = sfn.Pass(
            workflow,
            "Read message",
            comment="The pipe delivers a batch of one SQS message; its body is the item",
            input_path="$[0]",
            parameters={"item": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.body"))},
        )
        read.next(next_state)

        log_group = logs.LogGroup(
            pipeline,
            "StateMachineLogs",
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(pipeline, max_length=200),
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=c.DESTROY,
        )
        machine = sfn.StateMachine(
            pipeline,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(read),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            timeout=Duration.seconds(300),
        )
        self._grant_publish(machine)
        for alarm_id, metric, what in (
            (
                "ExecutionsFailedAlarm",
                machine.metric_failed,
                "failed outside a stage's Catch: an item may be lost or retried from the input "
                "queue. First: the failed execution's events (Step Functions console) and the "
                "state machine's log group.",
            ),
            (
                "ExecutionsTimedOutAlarm",
                machine.metric_timed_out,
                "timed out. First: which stage was running (the execution's events) and its "
                "function's duration; the item is retried from the input queue, if any.",
            ),
        ):
            book.alarm(
                pipeline,
                alarm_id,
                f"At least 1 execution(s) of {machine.node.path} {what}",
                metric(period=c.MINUTE, statistic=c.SUM),
                1,
            )

        # The input queue holds a message while its synchronous Express execution runs (<= 5 min).
        holder = Construct(pipeline, "Input")
        input_dlq = c.dead_letter_queue(holder, "DeadLetterQueue")
        input_queue = c.queue(holder, input_dlq, visibility=360)
        role = iam.Role(
            pipeline,
            "PipeRole",
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description=f"Execution role of the pipe of {pipeline.node.path}",
        )
        input_queue.grant_consume_messages(role)
        machine.grant(role, "states:StartSyncExecution")
        pipe_logs = logs.LogGroup(
            pipeline, "PipeLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=c.DESTROY
        )
        pipe_logs.grant_write(role)
        pipe = pipes.CfnPipe(
            pipeline,
            "Pipe",
            role_arn=role.role_arn,
            source=input_queue.queue_arn,
            target=machine.state_machine_arn,
            description=f"Starts {pipeline.node.path} for each item of its input queue",
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=1
                )
            ),
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                step_function_state_machine_parameters=pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
                    invocation_type="REQUEST_RESPONSE"
                )
            ),
            log_configuration=pipes.CfnPipe.PipeLogConfigurationProperty(
                cloudwatch_logs_log_destination=pipes.CfnPipe.CloudwatchLogsLogDestinationProperty(
                    log_group_arn=pipe_logs.log_group_arn
                ),
                level="ERROR",
            ),
        )
        pipe.node.add_dependency(role)
        book.dead_letter(
            pipeline,
            "InputDeadLetterQueueAlarm",
            input_dlq,
            consumer="the pipe's log group (why executions could not start or failed)",
            redrive_command=hint,
        )
        book.message_age(pipeline, "InputMessageAgeAlarm", input_queue, 1800, consumer="the pipe")

        p99 = cloudwatch.Stats.percentile(99)
        widgets: list[cloudwatch.IWidget] = [
            c.header("FilterPipeline", pipeline.node.path, "4 stage(s)"),
            *c.queue_widgets("Input", input_queue, input_dlq),
            c.graph(
                "State machine: executions",
                [
                    machine.metric_started(period=c.MINUTE, statistic=c.SUM, label="Started"),
                    machine.metric_succeeded(period=c.MINUTE, statistic=c.SUM, label="Succeeded"),
                    machine.metric_failed(period=c.MINUTE, statistic=c.SUM, label="Failed"),
                    machine.metric_timed_out(period=c.MINUTE, statistic=c.SUM, label="Timed out"),
                ],
            ),
            c.graph(
                "State machine: execution time (ms)",
                [machine.metric_time(period=c.MINUTE, statistic=p99, label="p99")],
            ),
        ]
        for name, function in self.functions.items():
            widgets += c.function_widgets(name, function, 10)
        widgets += [
            c.dead_letter_widget("Failed items", dlq),
            self._rejected_widget(),
            c.alarm_widget(book.alarms, 7),
        ]
        c.add_segment(self.board, widgets)
        self._outputs(input_queue)
        CfnOutput(self, "StateMachineArn", value=machine.state_machine_arn)
