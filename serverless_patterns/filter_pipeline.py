"""FilterPipeline: pipes and filters.

A processing task is split into single-purpose stages (filters) joined by durable connectors
(pipes). Each stage transforms one item, takes it out of the pipeline with a reason, or fails;
nothing that failed is lost, and where it failed is obvious.

Two connectors, one stage contract (:mod:`serverless_patterns.stage`):

* ``Connector.QUEUES`` (choreography): every stage is a :class:`QueueWorker` with its own queue
  and dead-letter queue; the stage helper sends each result to the next stage's queue, the last
  stage's to ``output``, and filtered items to ``rejected``.
* ``Connector.STATE_MACHINE`` (orchestration): one Step Functions workflow runs the stages in
  order, retries transient Lambda errors, sends a failed item with its stage name to the
  pipeline's dead-letter queue (Catch per stage), sends filtered items to ``rejected`` (Choice
  per stage) and publishes accepted items to ``output``. An EventBridge Pipe starts it for each
  message of the input queue (an Express workflow synchronously, so the pipe only deletes a
  message once its execution ended); a bucket source starts it through an EventBridge rule.
"""

from __future__ import annotations

import atexit
import enum
import functools
import hashlib
import importlib.resources
import re
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from aws_cdk import (
    Annotations,
    AssetHashType,
    Duration,
    IResolvable,
    Names,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._typecheck import check_fields, checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
    only,
)
from serverless_patterns.functions import (
    LAYER_ARCHITECTURES,
    function_timeout_seconds,
    is_supported_python_runtime,
    missing_powertools_layer,
    scope_beside,
    supported_python_runtimes,
    supported_runtime_names,
)
from serverless_patterns.nag import acknowledge, acknowledge_all, acknowledge_created
from serverless_patterns.queue_worker import ALARM_KINDS as QUEUE_WORKER_ALARM_KINDS
from serverless_patterns.queue_worker import QueueWorker
from serverless_patterns.queues import (
    DEAD_LETTER_RETENTION,
    configured_dead_letter_queue,
    configured_visibility_seconds,
    dead_letter_queue,
    encryption_key_of,
    queue_with_dead_letter,
    remember_encryption_key,
)
from serverless_patterns.stage import NEXT_ENV, REJECTED_ENV, STAGE_ENV, STAGE_KEY

#: Stage names end up in construct ids, state names, metric dimensions and messages.
STAGE_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
#: The longest an Express workflow execution may run.
EXPRESS_MAX_SECONDS = 300
_TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
_DEFAULT_RETRY_ATTEMPTS = 3
_INPUT_MAX_RECEIVE_COUNT = 5
_REJECTED_AGE_ALARM = Duration.days(7)  # half of the 14 days a rejected item is kept
_SOURCE_AGE_ALARM = Duration.hours(1)
_INPUT_RETENTION = Duration.days(4)
_EXPRESS_MAX_DURATION = Duration.seconds(EXPRESS_MAX_SECONDS)
_STANDARD_EXECUTION_TIMEOUT = Duration.days(1)
_ONE_SECOND = Duration.seconds(1)
_ONE_MINUTE = Duration.minutes(1)
_SUM = cloudwatch.Stats.SUM
_DISCARD = sfn.JsonPath.DISCARD
#: The kinds of alarm a FilterPipeline has (its ``alarm_settings`` keys).
ALARM_KINDS = (
    AlarmKind.DEAD_LETTER,
    AlarmKind.MESSAGE_AGE,
    AlarmKind.EXECUTION_FAILURES,
    *FUNCTION_KINDS,
)
_STAGE_LAYER_ID = "PipelineStageLayer"


class Connector(enum.Enum):
    """How the stages of a :class:`FilterPipeline` are joined."""

    QUEUES = "QUEUES"
    """Choreography: an SQS queue (and DLQ) in front of every stage."""
    STATE_MACHINE = "STATE_MACHINE"
    """Orchestration: a Step Functions workflow invokes the stages in order."""


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One filter of a :class:`FilterPipeline`.

    Args:
        name: the stage's name: a letter, then letters, digits, ``_`` or ``-``; 1..32
            characters; unique in the pipeline (ignoring case, ``_`` and ``-``). It names the
            stage's constructs, states, metrics and rejected/failed messages: choose it once.
        handler: the stage function, written with :func:`serverless_patterns.stage.pipeline_stage`
            (or speaking its contract), on a Python runtime from python3.10 up. A ``Function``
            of this app gets the stage helper layer of its own stack, and the Powertools layer
            unless it carries one (a ``ServerlessFunction``, or AWS's public layer). With
            ``Connector.QUEUES`` it must be a ``Function`` of this app (the pipeline sets its
            environment) and serve this stage only.
        batch_size: QUEUES only: messages per invocation, 1..10. Default 10.
        max_concurrency: QUEUES only: most concurrent invocations, 2..1000. Default none.
        max_receive_count: QUEUES only: receives before a message moves to this stage's DLQ,
            1..1000. Default 5.
        retry_attempts: STATE_MACHINE only: retries of transient Lambda errors (service errors,
            throttling), 0..10, backing off from 1 s. Default 3. Errors the function raises are
            not retried: the item goes to the dead-letter queue.
    """

    name: str
    handler: lambda_.IFunction
    batch_size: int | None = None
    max_concurrency: int | None = None
    max_receive_count: int | None = None
    retry_attempts: int | None = None

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class PipelineStage:
    """What a :class:`FilterPipeline` built for one stage."""

    name: str
    function: lambda_.IFunction
    worker: QueueWorker | None
    """The stage's QueueWorker (``Connector.QUEUES``), else None."""
    task: tasks.LambdaInvoke | None
    """The stage's task state (``Connector.STATE_MACHINE``), else None."""
    dead_letter_queue: sqs.IQueue
    """Where this stage's failed items end: its own DLQ, or the pipeline's (state machine)."""

    @property
    def queue(self) -> sqs.IQueue | None:
        """The queue in front of the stage (``Connector.QUEUES``), else None."""
        return self.worker.queue if self.worker is not None else None


class FilterPipeline(Construct):
    """A chain of single-purpose stages, durable between stages and observable per stage.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        stages: the stages in order, at least one (see :class:`Stage`).
        connector: ``Connector.QUEUES`` (a queue and DLQ per stage) or
            ``Connector.STATE_MACHINE`` (a Step Functions workflow). Default QUEUES.
        source: where items come from: a standard queue whose message bodies are items (it
            must have a known DLQ, see ``source_dead_letter_queue``), or a bucket whose new
            objects become items ``{"bucket", "key", "size", "etag"}`` (through EventBridge:
            the construct turns EventBridge notifications on for a ``Bucket`` of this app and
            asks you to for an imported one). FIFO queues are refused: the pipeline does not
            carry message-group order across stages. Default: a new encrypted input queue with
            a DLQ (``input_queue``; allow producers with :meth:`grant_send`).
        source_dead_letter_queue: the DLQ of a ``source`` queue that is not a ``Queue`` of this
            app created with ``dead_letter_queue=``. Default: that queue's DLQ.
        output: where accepted items (the last stage's results) go: a standard topic or queue.
            Default none: the last stage is the sink (and with the state machine, the accepted
            item is the execution's output).
        rejected: the standard queue that receives filtered-out items as ``{"stage",
            "reason", "item"}``. Default: a new encrypted queue keeping them 14 days.
        state_machine_type: STATE_MACHINE only: ``EXPRESS`` (at most 5 minutes per item, paid
            by duration; the stages' function timeouts must add up to at most 300 s) or
            ``STANDARD`` (long stages, exactly-once state transitions; executions time out
            after one day). Default EXPRESS.
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``DEAD_LETTER``,
            ``MESSAGE_AGE`` (input, stage and rejected queues), ``EXECUTION_FAILURES`` (the
            state machine), and ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``,
            ``FUNCTION_DURATION`` of every stage (see :class:`~serverless_patterns.AlarmKind`).
            Default: every alarm, with the kind's defaults.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stages: Sequence[Stage],
        connector: Connector = Connector.QUEUES,
        source: sqs.IQueue | s3.IBucket | None = None,
        source_dead_letter_queue: sqs.IQueue | None = None,
        output: sns.ITopic | sqs.IQueue | None = None,
        rejected: sqs.IQueue | None = None,
        state_machine_type: sfn.StateMachineType | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
    ) -> None:
        problems = Problems("FilterPipeline", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        _check_stages(problems, stages, connector)
        source_queue = _as_queue(source)
        source_bucket = _as_bucket(source)
        _check_source(problems, source_queue, source_dead_letter_queue)
        _check_destinations(problems, output, rejected)
        if connector is Connector.QUEUES and state_machine_type is not None:
            problems.add(
                "state_machine_type",
                state_machine_type,
                "only applies to Connector.STATE_MACHINE",
                "leave it out, or connector=Connector.STATE_MACHINE",
            )
        workflow_type = state_machine_type or sfn.StateMachineType.EXPRESS
        if connector is Connector.STATE_MACHINE and workflow_type == sfn.StateMachineType.EXPRESS:
            _check_express_fits(problems, stages)
            if source_queue is not None:
                _check_source_outlasts_express(problems, source_queue)
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        self.connector = connector
        """How the stages are joined."""
        self.output = output
        """Where accepted items go, if anywhere."""
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self._book = AlarmBook(settings, alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = self._book.alarms
        """Every alarm of this construct, including each stage worker's."""
        self.state_machine: sfn.StateMachine | None = None
        """The workflow (``Connector.STATE_MACHINE``), else None."""
        self.dead_letter_queue: sqs.IQueue | None = None
        """The state machine's dead-letter queue for failed items, else None (each stage
        worker has its own)."""
        self.pipe: pipes.CfnPipe | None = None
        """The EventBridge Pipe from the input queue to the state machine, else None."""
        self.source_rule: events.Rule | None = None
        """The EventBridge rule that turns new objects of a bucket source into items."""
        self.source_rule_dead_letter_queue: sqs.IQueue | None = None
        """Where events the rule could not deliver go (bucket source only)."""
        self.stage_layers: list[lambda_.ILayerVersion] = []
        """The layers with :mod:`serverless_patterns.stage` that stage functions got: one per
        stack holding a stage ``Function`` (an imported function brings its own helper)."""
        for stage in stages:
            layer = _attach_stage_layer(stage.handler)
            if layer is not None and not any(layer is known for known in self.stage_layers):
                self.stage_layers.append(layer)

        self.rejected: sqs.IQueue = rejected or _rejected_queue(self)
        """Where filtered-out items go, as ``{"stage", "reason", "item"}``."""
        self._book.message_age(
            self,
            "RejectedAgeAlarm",
            self.rejected,
            _REJECTED_AGE_ALARM,
            consumer="whoever reviews rejected items",
        )

        self.stages: list[PipelineStage]
        """What was built for each stage, in order."""
        self.input_queue: sqs.IQueue | None
        """The queue items enter through (None for a bucket source)."""
        self.input_dead_letter_queue: sqs.IQueue | None
        """The DLQ of ``input_queue``, else None."""
        if connector is Connector.QUEUES:
            self.stages = self._join_with_queues(stages, source_queue, source_dead_letter_queue)
            first_queue = self.stages[0].queue
            assert first_queue is not None
            self.input_queue = None if source_bucket is not None else first_queue
            self.input_dead_letter_queue = (
                None if source_bucket is not None else self.stages[0].dead_letter_queue
            )
            if source_bucket is not None:
                self._start_from_bucket(
                    source_bucket,
                    targets.SqsQueue(
                        first_queue,
                        message=events.RuleTargetInput.from_object(_object_item()),
                        dead_letter_queue=self._rule_dead_letter_queue(),
                    ),
                )
        else:
            self.stages = self._join_with_state_machine(
                stages, workflow_type, from_queue=source_bucket is None
            )
            if source_bucket is not None:
                self.input_queue = None
                self.input_dead_letter_queue = None
                assert self.state_machine is not None
                self._start_from_bucket(
                    source_bucket,
                    targets.SfnStateMachine(
                        self.state_machine,
                        input=events.RuleTargetInput.from_object({"item": _object_item()}),
                        dead_letter_queue=self._rule_dead_letter_queue(),
                    ),
                )
            else:
                self._start_from_queue(source_queue, source_dead_letter_queue, workflow_type)
        for built in self.stages:  # each worker notifies the topic of its own alarms
            for alarm in built.worker.alarms if built.worker is not None else []:
                self._book.add(alarm)

    # --- connectors ----------------------------------------------------------------------------

    def _join_with_queues(
        self,
        stages: Sequence[Stage],
        source_queue: sqs.IQueue | None,
        source_dead_letter_queue: sqs.IQueue | None,
    ) -> list[PipelineStage]:
        container = _tree.created(Construct(self, "Stages"), self, "Stages")
        workers = [
            QueueWorker(
                container,
                stage.name,
                handler=stage.handler,
                queue=source_queue if index == 0 else None,
                dead_letter_queue=source_dead_letter_queue if index == 0 else None,
                batch_size=stage.batch_size or 10,
                max_concurrency=stage.max_concurrency,
                max_receive_count=stage.max_receive_count,
                alarm_topic=self.alarm_topic,
                alarm_settings=only(self._book.settings, QUEUE_WORKER_ALARM_KINDS),
            )
            for index, stage in enumerate(stages)
        ]
        rejected_url = self.rejected.queue_url
        for index, stage in enumerate(stages):
            function = stage.handler
            assert isinstance(function, lambda_.Function)  # validated
            if index + 1 < len(workers):
                next_destination = workers[index + 1].queue.queue_url
                grant_send(workers[index + 1].queue, function)
            else:
                next_destination = self._grant_output(function)
            grant_send(self.rejected, function)
            function.add_environment(STAGE_ENV, stage.name)
            function.add_environment(NEXT_ENV, next_destination)
            function.add_environment(REJECTED_ENV, rejected_url)
        return [
            PipelineStage(stage.name, stage.handler, worker, None, worker.dead_letter_queue)
            for stage, worker in zip(stages, workers, strict=True)
        ]

    def _grant_output(self, grantee: iam.IGrantable) -> str:
        """Allow ``grantee`` to deliver to ``output``; its URL or ARN ("" without output)."""
        queue, topic = _as_queue(self.output), _as_topic(self.output)
        if queue is not None:
            grant_send(queue, grantee)
            return queue.queue_url
        if topic is not None:
            return grant_publish(topic, grantee)
        return ""

    def _join_with_state_machine(
        self,
        stages: Sequence[Stage],
        workflow_type: sfn.StateMachineType,
        *,
        from_queue: bool,
    ) -> list[PipelineStage]:
        dlq = dead_letter_queue(self, "DeadLetterQueue")
        self.dead_letter_queue = dlq
        self._book.dead_letter(
            self,
            "DeadLetterQueueAlarm",
            dlq,
            consumer="the message's error (stage, cause) and the stage function's logs",
            redrive=self,
        )

        for stage in stages:
            self._book.function_health(
                scope_beside(self, stage.handler),
                f"{stage.name}Function",
                stage.handler,
                timeout_seconds=function_timeout_seconds(stage.handler),
                after_failure=(
                    "Service errors and throttles are retried; a failed item is kept with its "
                    f"stage and error in {_tree.path(dlq)}."
                ),
            )

        workflow = _tree.created(Construct(self, "Workflow"), self, "Workflow")
        filtered_end = sfn.Succeed(workflow, "Filtered out")
        failed_end = sfn.Succeed(
            workflow,
            "Dead-lettered",
            comment="The failed item and its stage are in the dead-letter queue, which alarms",
        )
        # JSONPath tokens: made once, used by every stage's states.
        item = sfn.JsonPath.object_at("$.item")
        error = sfn.JsonPath.object_at("$.error")
        reason = sfn.JsonPath.string_at("$.reason")
        accepted: sfn.IChainable = self._output_state(workflow, item)

        invocations: list[tasks.LambdaInvoke] = []
        next_state: sfn.IChainable = accepted
        for stage in reversed(stages):
            if isinstance(stage.handler, lambda_.Function):
                acknowledge(
                    stage.handler,
                    "Serverless-LambdaDLQ",
                    f"Invoked synchronously by the state machine of {_tree.path(self)}: a failed "
                    "item is caught and sent with its stage name to the pipeline's dead-letter "
                    "queue, which alarms.",
                )
            task = tasks.LambdaInvoke(
                workflow,
                stage.name,
                lambda_function=stage.handler,
                payload=sfn.TaskInput.from_object({STAGE_KEY: stage.name, "item": item}),
                output_path="$.Payload",
                retry_on_service_exceptions=False,
            )
            attempts = stage.retry_attempts
            if attempts is None:
                attempts = _DEFAULT_RETRY_ATTEMPTS
            if attempts:
                task.add_retry(
                    errors=_TRANSIENT_LAMBDA_ERRORS,
                    interval=_ONE_SECOND,
                    max_attempts=attempts,
                    backoff_rate=2,
                    jitter_strategy=sfn.JitterType.FULL,
                )
            failed = tasks.SqsSendMessage(
                workflow,
                f"{stage.name} failed",
                queue=dlq,
                message_body=sfn.TaskInput.from_object(
                    {"stage": stage.name, "item": item, "error": error}
                ),
                result_path=_DISCARD,
            ).next(failed_end)
            task.add_catch(failed, result_path="$.error")
            rejected = tasks.SqsSendMessage(
                workflow,
                f"{stage.name} rejected",
                queue=self.rejected,
                message_body=sfn.TaskInput.from_object(
                    {"stage": stage.name, "reason": reason, "item": item}
                ),
                result_path=_DISCARD,
            ).next(filtered_end)
            choice = (
                sfn.Choice(workflow, f"{stage.name} filtered?")
                .when(sfn.Condition.string_equals("$.outcome", "filtered"), rejected)
                .otherwise(next_state)
            )
            task.next(choice)
            invocations.append(task)
            next_state = task
        invocations.reverse()

        start: sfn.IChainable = next_state
        if from_queue:
            read = sfn.Pass(
                workflow,
                "Read message",
                comment="The pipe delivers a batch of one SQS message; its body is the item",
                input_path="$[0]",
                parameters={"item": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.body"))},
            )
            read.next(next_state)
            start = read

        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            # The vended-logs prefix keeps CloudWatch Logs' account-wide resource policy small.
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(self, max_length=200),
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine_log_group = log_group
        """The state machine's execution log group (level ALL, without item data)."""
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(start),
            state_machine_type=workflow_type,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                # Items are business data (orders, customers): the failed ones are kept in the
                # dead-letter queue with their error, so the logs need not carry them.
                include_execution_data=False,
            ),
            timeout=(
                _EXPRESS_MAX_DURATION
                if workflow_type == sfn.StateMachineType.EXPRESS
                else _STANDARD_EXECUTION_TIMEOUT
            ),
        )
        self.state_machine = state_machine
        _tree.created(state_machine, self, "StateMachine")
        if self.output is not None:
            self._grant_output(state_machine)
        self._acknowledge_state_machine_policy(state_machine, stages)
        self._book.occurrence(
            AlarmKind.EXECUTION_FAILURES,
            self,
            "ExecutionsFailedAlarm",
            metric=state_machine.metric_failed(period=_ONE_MINUTE, statistic=_SUM),
            describe=lambda count: (
                f"At least {number(count)} execution(s) of {_tree.path(state_machine)} failed "
                "outside a stage's Catch: an item may be lost or retried from the input queue. "
                "First: the failed execution's events (Step Functions console) and the "
                "state machine's log group."
            ),
        )
        self._book.occurrence(
            AlarmKind.EXECUTION_FAILURES,
            self,
            "ExecutionsTimedOutAlarm",
            metric=state_machine.metric_timed_out(period=_ONE_MINUTE, statistic=_SUM),
            describe=lambda count: (
                f"At least {number(count)} execution(s) of {_tree.path(state_machine)} timed "
                "out. First: which stage was running (the execution's events) and its "
                "function's duration; the item is retried from the input queue, if any."
            ),
        )
        return [
            PipelineStage(stage.name, stage.handler, None, task, dlq)
            for stage, task in zip(stages, invocations, strict=True)
        ]

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This pipeline's dashboard segment: input, the state machine and its stages'
        functions, rejected and dead-lettered items, alarms (queue stages are QueueWorkers,
        with segments of their own)."""
        widgets: list[cloudwatch.IWidget] = [
            dashboards.header("FilterPipeline", self, f"{len(self.stages)} stage(s)")
        ]
        if self.state_machine is not None:
            if self.input_queue is not None:
                widgets += dashboards.queue_widgets(
                    "Input", self.input_queue, self.input_dead_letter_queue
                )
            widgets += dashboards.state_machine_widgets("State machine", self.state_machine)
            for stage in self.stages:
                widgets += dashboards.function_widgets(
                    stage.name, stage.function, function_timeout_seconds(stage.function)
                )
            if self.dead_letter_queue is not None:
                widgets.append(
                    dashboards.dead_letter_widget("Failed items", self.dead_letter_queue)
                )
        widgets += dashboards.queue_widgets("Rejected", self.rejected, None)[:1]
        if self.source_rule_dead_letter_queue is not None:
            widgets.append(
                dashboards.dead_letter_widget(
                    "Source events undelivered", self.source_rule_dead_letter_queue
                )
            )
        return [*widgets, *dashboards.alarm_widget(self.alarms)]

    def _output_state(self, workflow: Construct, item: IResolvable) -> sfn.IChainable:
        accepted = sfn.Succeed(workflow, "Accepted", output_path="$.item")
        message = sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(item))
        queue, topic = _as_queue(self.output), _as_topic(self.output)
        if queue is not None:
            return tasks.SqsSendMessage(
                workflow,
                "Send to output",
                queue=queue,
                message_body=message,
                result_path=sfn.JsonPath.DISCARD,
            ).next(accepted)
        if topic is not None:
            return tasks.SnsPublish(
                workflow,
                "Publish to output",
                topic=topic,
                message=message,
                result_path=sfn.JsonPath.DISCARD,
            ).next(accepted)
        return accepted

    def _acknowledge_state_machine_policy(
        self, state_machine: sfn.StateMachine, stages: Sequence[Stage]
    ) -> None:
        policy = state_machine.role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        rules = {
            "AwsSolutions-IAM5[Resource::*]": (
                "Only the actions that support no resource-level permissions: X-Ray's "
                "PutTraceSegments/PutTelemetryRecords/GetSampling* and CloudWatch Logs' log "
                "delivery actions, which Step Functions needs for tracing and execution logs."
            )
        }
        keyed = [
            queue
            for queue in (self.rejected, _as_queue(self.output))
            if queue is not None and encryption_key_of(queue) is not None
        ]
        if keyed:
            rules["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"] = (
                "Step Functions' SQS integration grants kms:GenerateDataKey* on the key of an "
                "encrypted queue it sends to (only that key): "
                + ", ".join(_tree.path(queue) for queue in keyed)
            )
        stack = _tree.stack(self)
        for stage in stages:
            function = _tree.default_child(stage.handler)
            if isinstance(function, lambda_.CfnFunction):
                logical_id = stack.resolve(stack.get_logical_id(function))
                rules[f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]"] = (
                    f"Invoking versions and aliases of the stage function {stage.name} "
                    "(lambda:InvokeFunction on its ARN with a qualifier), nothing else."
                )
        acknowledge_all(policy, cdk_nag=rules)

    # --- sources ---------------------------------------------------------------------------------

    def _start_from_queue(
        self,
        source_queue: sqs.IQueue | None,
        source_dead_letter_queue: sqs.IQueue | None,
        workflow_type: sfn.StateMachineType,
    ) -> None:
        assert self.state_machine is not None
        express = workflow_type == sfn.StateMachineType.EXPRESS
        if source_queue is None:
            # A synchronous Express execution holds the message for up to 5 minutes.
            visibility_seconds = EXPRESS_MAX_SECONDS + 60 if express else 60
            pair = queue_with_dead_letter(
                _tree.created(Construct(self, "Input"), self, "Input"),
                visibility_timeout=Duration.seconds(visibility_seconds),
                max_receive_count=_INPUT_MAX_RECEIVE_COUNT,
                retention_period=_INPUT_RETENTION,
            )
            queue: sqs.IQueue = pair.queue
            dlq: sqs.IQueue = pair.dead_letter_queue
            age_threshold: Duration | float = _INPUT_MAX_RECEIVE_COUNT * visibility_seconds
        else:
            queue = source_queue
            known = source_dead_letter_queue or configured_dead_letter_queue(source_queue)
            assert known is not None  # validated
            dlq = known
            age_threshold = _SOURCE_AGE_ALARM
        self.input_queue = queue
        self.input_dead_letter_queue = dlq

        role = iam.Role(
            self,
            "PipeRole",
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": _tree.stack(self).account}},
            ),
            description=f"Execution role of the pipe of {_tree.path(self)}",
        )
        queue.grant_consume_messages(role)
        if express:
            self.state_machine.grant(role, "states:StartSyncExecution")
        else:
            self.state_machine.grant_start_execution(role)
        pipe_logs = logs.LogGroup(
            self,
            "PipeLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        pipe_logs.grant_write(role)
        self.pipe_log_group = pipe_logs
        """The pipe's log group (level ERROR)."""
        pipe = pipes.CfnPipe(
            self,
            "Pipe",
            role_arn=role.role_arn,
            source=queue.queue_arn,
            target=self.state_machine.state_machine_arn,
            description=f"Starts {_tree.path(self)} for each item of its input queue",
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=1
                )
            ),
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                step_function_state_machine_parameters=pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
                    invocation_type="REQUEST_RESPONSE" if express else "FIRE_AND_FORGET"
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
        self.pipe = pipe
        self._book.dead_letter(
            self,
            "InputDeadLetterQueueAlarm",
            dlq,
            consumer="the pipe's log group (why executions could not start or failed)",
            redrive=self,
        )
        self._book.message_age(
            self, "InputMessageAgeAlarm", queue, age_threshold, consumer="the pipe"
        )

    def _rule_dead_letter_queue(self) -> sqs.IQueue:
        dlq = dead_letter_queue(self, "SourceRuleDeadLetterQueue")
        self.source_rule_dead_letter_queue = dlq
        self._book.dead_letter(
            self,
            "SourceRuleDeadLetterQueueAlarm",
            dlq,
            consumer="the message attributes (ERROR_CODE, ERROR_MESSAGE EventBridge adds)",
            redrive=self,
        )
        return dlq

    def _start_from_bucket(self, bucket: s3.IBucket, target: events.IRuleTarget) -> None:
        if isinstance(bucket, s3.Bucket):
            cfn_bucket = bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        else:
            Annotations.of(self).add_warning_v2(
                "serverless-patterns:imported-bucket-eventbridge",
                f"The source bucket is imported: turn on its EventBridge notifications "
                f"yourself, or {_tree.path(self)} receives no objects.",
            )
        self.source_rule = events.Rule(
            self,
            "SourceRule",
            description=f"New objects of the source bucket become items of {_tree.path(self)}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}},
            ),
            targets=[target],
        )

    @checked
    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put items into the input queue."""
        if self.input_queue is None:
            raise ValueError(
                f"FilterPipeline at '{_tree.path(self)}': grant_send needs an input queue, but "
                "the source is a bucket (allowed: write objects to the bucket instead)"
            )
        return self.input_queue.grant_send_messages(grantee)


# --- the stage helper layer ------------------------------------------------------------------


class _StageLayer(lambda_.LayerVersion):
    """The stage helper layer; remembers the functions it was added to."""

    attached: set[str]


@functools.cache
def _stage_layer_directory() -> tuple[str, str]:
    """``python/serverless_patterns/{__init__,stage}.py`` in a folder, and its content hash.

    The layer carries only the runtime helper (the construct library itself needs aws-cdk-lib,
    which has no place in a function), under the import path stage code uses everywhere.
    """
    source = importlib.resources.files("serverless_patterns").joinpath("stage.py").read_bytes()
    init = b'"""serverless-patterns: the runtime stage helper only (FilterPipeline layer)."""\n'
    root = Path(tempfile.mkdtemp(prefix="serverless-patterns-stage-"))
    package = root / "python" / "serverless_patterns"
    package.mkdir(parents=True)
    (package / "__init__.py").write_bytes(init)
    (package / "stage.py").write_bytes(source)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return str(root), hashlib.sha256(init + b"\0" + source).hexdigest()


@checked
def stage_layer_for(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one layer with :mod:`serverless_patterns.stage`, created on first use.

    ``FilterPipeline`` adds it to its stage functions; add it yourself to a function you
    deploy elsewhere (the function also needs Powertools, which ``ServerlessFunction`` has).
    """
    stack = _tree.stack(scope)
    known = _tree.lookup(_STAGE_LAYERS, stack)
    if known is not None:
        return known
    existing = stack.node.try_find_child(_STAGE_LAYER_ID)
    if isinstance(existing, _StageLayer):
        return _tree.remember(_STAGE_LAYERS, stack, existing)
    directory, content_hash = _stage_layer_directory()
    layer = _StageLayer(
        stack,
        _STAGE_LAYER_ID,
        code=lambda_.Code.from_asset(
            directory, asset_hash=content_hash, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=supported_python_runtimes(),
        compatible_architectures=list(LAYER_ARCHITECTURES),
        description="serverless_patterns.stage: the FilterPipeline stage helper",
    )
    layer.attached = set()
    return _tree.remember(_STAGE_LAYERS, stack, layer)


#: Stack -> its stage helper layer (a construct of the stack, there for good once created).
_STAGE_LAYERS: weakref.WeakKeyDictionary[Stack, _StageLayer] = weakref.WeakKeyDictionary()


def _attach_stage_layer(handler: lambda_.IFunction) -> lambda_.ILayerVersion | None:
    """Add the stage layer of the function's own stack to a ``Function`` (once), and Powertools
    where the function has none (the helper imports it); return the stage layer."""
    if not isinstance(handler, lambda_.Function):
        return None
    layer = cast(_StageLayer, stage_layer_for(handler))
    path = _tree.path(handler)
    if path not in layer.attached:
        layer.attached.add(path)
        powertools = missing_powertools_layer(handler)  # the helper imports Powertools
        handler.add_layers(*([powertools] if powertools is not None else []), layer)
    return layer


# --- validation --------------------------------------------------------------------------------


def _check_stages(problems: Problems, stages: Sequence[Stage], connector: Connector) -> None:
    if not stages:
        problems.add("stages", list(stages), "is empty", "one or more Stage")
        return
    seen: dict[str, str] = {}
    functions: dict[str, str] = {}
    for stage in stages:
        if not STAGE_NAME_PATTERN.fullmatch(stage.name):
            problems.add(
                "Stage.name",
                stage.name,
                "cannot name resources, states and metrics",
                "a letter, then letters, digits, '_' or '-'; 1..32 characters",
            )
        key = stage.name.lower().replace("_", "").replace("-", "")
        if key in seen:
            problems.add(
                "Stage.name",
                stage.name,
                f"duplicates the stage {seen[key]!r} (names are compared ignoring case, '_' "
                "and '-')",
                "a name unique in the pipeline",
            )
        seen.setdefault(key, stage.name)
        if isinstance(stage.handler, lambda_.Function) and not is_supported_python_runtime(
            stage.handler.runtime
        ):
            problems.add(
                f"Stage({stage.name!r}).handler",
                stage.handler,
                f"runs {stage.handler.runtime.name}: the stage helper and Powertools layers are "
                "Python",
                f"a Python function on {supported_runtime_names()}",
            )
        if connector is Connector.QUEUES:
            _check_queue_stage(problems, stage, functions)
        else:
            _check_state_machine_stage(problems, stage)


def _check_queue_stage(problems: Problems, stage: Stage, functions: dict[str, str]) -> None:
    problems.check_range(f"Stage({stage.name!r}).batch_size", stage.batch_size, 1, 10)
    problems.check_range(f"Stage({stage.name!r}).max_concurrency", stage.max_concurrency, 2, 1000)
    problems.check_range(
        f"Stage({stage.name!r}).max_receive_count", stage.max_receive_count, 1, 1000
    )
    if stage.retry_attempts is not None:
        problems.add(
            f"Stage({stage.name!r}).retry_attempts",
            stage.retry_attempts,
            "only applies to Connector.STATE_MACHINE (a queue stage retries through its queue)",
            "leave it out, or use max_receive_count",
        )
    if not isinstance(stage.handler, lambda_.Function):
        problems.add(
            f"Stage({stage.name!r}).handler",
            stage.handler,
            "is an imported function: Connector.QUEUES sets the stage's environment (next "
            "queue, rejected queue), which only a Function of this app can receive",
            "a Function defined in this app, or connector=Connector.STATE_MACHINE",
        )
        return
    path = _tree.path(stage.handler)
    if path in functions:
        problems.add(
            f"Stage({stage.name!r}).handler",
            stage.handler,
            f"already serves the stage {functions[path]!r}: with Connector.QUEUES a function's "
            "environment names its one next queue",
            "one function per stage",
        )
    functions.setdefault(path, stage.name)


def _check_state_machine_stage(problems: Problems, stage: Stage) -> None:
    problems.check_range(f"Stage({stage.name!r}).retry_attempts", stage.retry_attempts, 0, 10)
    for option in ("batch_size", "max_concurrency", "max_receive_count"):
        value = getattr(stage, option)
        if value is not None:
            problems.add(
                f"Stage({stage.name!r}).{option}",
                value,
                "only applies to Connector.QUEUES (the state machine invokes a stage once "
                "per item)",
                "leave it out, or connector=Connector.QUEUES",
            )


def _check_express_fits(problems: Problems, stages: Sequence[Stage]) -> None:
    timeouts = {stage.name: function_timeout_seconds(stage.handler) for stage in stages}
    known = {name: seconds for name, seconds in timeouts.items() if seconds is not None}
    total = sum(known.values())
    if total > EXPRESS_MAX_SECONDS:
        listed = ", ".join(f"{name}={number(seconds)} s" for name, seconds in known.items())
        problems.add(
            "state_machine_type",
            "EXPRESS",
            f"cannot fit the stages in an Express execution: their function timeouts add up "
            f"to {number(total)} s ({listed}), more than the {EXPRESS_MAX_SECONDS} s an Express "
            "execution may run",
            f"function timeouts adding up to at most {EXPRESS_MAX_SECONDS} s, or "
            "state_machine_type=StateMachineType.STANDARD",
        )


def _check_source_outlasts_express(problems: Problems, source_queue: sqs.IQueue) -> None:
    """The pipe holds a message while its synchronous Express execution runs (up to 300 s)."""
    seconds = configured_visibility_seconds(source_queue)
    if seconds is not None and seconds < EXPRESS_MAX_SECONDS:
        problems.add(
            "source",
            source_queue,
            f"has a visibility timeout of {number(seconds)} s, shorter than an Express "
            "execution may run: a message would be received and started again while its "
            "execution runs",
            f"a visibility timeout of at least {EXPRESS_MAX_SECONDS} s (360 s leaves room for "
            "the pipe), or state_machine_type=StateMachineType.STANDARD",
        )


def _check_source(
    problems: Problems,
    source_queue: sqs.IQueue | None,
    source_dead_letter_queue: sqs.IQueue | None,
) -> None:
    if source_queue is not None:
        if source_queue.fifo:
            problems.add(
                "source",
                source_queue,
                "is a FIFO queue: the pipeline does not carry message-group order across "
                "stages, so the order the FIFO queue promises would be lost",
                "a standard queue",
            )
        if source_dead_letter_queue is None and configured_dead_letter_queue(source_queue) is None:
            problems.add(
                "source",
                source_queue,
                "has no known dead-letter queue: an item that keeps failing would be retried "
                "until it expires",
                "a Queue created with dead_letter_queue=, or pass its DLQ as "
                "source_dead_letter_queue=",
            )
    elif source_dead_letter_queue is not None:
        problems.add(
            "source_dead_letter_queue",
            source_dead_letter_queue,
            "only applies to a source queue",
            "leave it out: a created input queue gets its own DLQ",
        )


def _check_destinations(
    problems: Problems, output: sns.ITopic | sqs.IQueue | None, rejected: sqs.IQueue | None
) -> None:
    destination = _as_queue(output) or _as_topic(output)
    if destination is not None and destination.fifo:
        problems.add(
            "output",
            output,
            "is FIFO: accepted items carry no message group",
            "a standard topic or queue",
        )
    if rejected is not None and rejected.fifo:
        problems.add(
            "rejected",
            rejected,
            "is a FIFO queue: rejected items carry no message group",
            "a standard queue",
        )


# --- small helpers -----------------------------------------------------------------------------


def grant_send(queue: sqs.IQueue, grantee: iam.IGrantable) -> None:
    """``sqs:SendMessage`` on ``queue``, and on its key only what sending needs.

    ``IQueue.grant_send_messages`` also grants ``kms:ReEncrypt*`` and ``kms:GenerateDataKey*``:
    wildcards a stage that only sends has no use for.
    """
    iam.Grant.add_to_principal(
        grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[_queue_arn(queue)]
    )
    key = encryption_key_of(queue)
    if key is not None:
        key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")


def grant_publish(topic: sns.ITopic, grantee: iam.IGrantable) -> str:
    """``sns:Publish`` on ``topic``, and ``kms:GenerateDataKey``/``kms:Decrypt`` on its key;
    returns the topic's ARN."""
    arn = topic.topic_arn
    iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[arn])
    if topic.master_key is not None:
        topic.master_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
    return arn


#: Queue -> its ARN (a token fixed when the queue is made): stages send to the same queues.
_QUEUE_ARNS: weakref.WeakKeyDictionary[sqs.IQueue, str] = weakref.WeakKeyDictionary()


def _queue_arn(queue: sqs.IQueue) -> str:
    return _tree.lookup(_QUEUE_ARNS, queue) or _tree.remember(_QUEUE_ARNS, queue, queue.queue_arn)


# jsii interfaces are not runtime-checkable protocols: tell them apart by their ARN attribute.
def _as_queue(value: object) -> sqs.IQueue | None:
    return cast(sqs.IQueue, value) if _has(value, "queue_arn") else None


def _as_topic(value: object) -> sns.ITopic | None:
    return cast(sns.ITopic, value) if _has(value, "topic_arn") else None


def _as_bucket(value: object) -> s3.IBucket | None:
    return cast(s3.IBucket, value) if _has(value, "bucket_arn") else None


def _has(value: object, attribute: str) -> bool:
    """``hasattr(value, attribute)`` without reading it: reading a jsii property is a round
    trip (a class declares its properties; jsii's proxy of several interfaces, its parts)."""
    if hasattr(type(value), attribute):
        return True
    delegates = getattr(value, "_delegates", None)
    if isinstance(delegates, list):
        return any(_has(delegate, attribute) for delegate in delegates)
    return not hasattr(type(value), "__jsii_type__") and hasattr(value, attribute)


def _object_item() -> dict[str, str]:
    """The item a new object becomes: where it is, how big, which content."""
    return {
        "bucket": events.EventField.from_path("$.detail.bucket.name"),
        "key": events.EventField.from_path("$.detail.object.key"),
        "size": events.EventField.from_path("$.detail.object.size"),
        "etag": events.EventField.from_path("$.detail.object.etag"),
    }


def _rejected_queue(scope: Construct) -> sqs.Queue:
    queue = sqs.Queue(
        scope,
        "RejectedQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    remember_encryption_key(queue, None)
    reason = (
        "The rejected queue is the end of the filtered-out path: it keeps items 14 days for "
        "whoever reviews them and alarms when they wait longer than 7 days."
    )
    acknowledge_created(
        _tree.created(queue, scope, "RejectedQueue"),
        cdk_nag={"Serverless-SQSRedrivePolicy": reason, "AwsSolutions-SQS3": reason},
        cfn_lint={"ES6000": reason},
    )
    return queue
