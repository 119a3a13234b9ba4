"""QueueWorker: the messaging pattern.

An SQS queue buffers work for a Lambda consumer. When the consumer fails or is offline the
messages wait in the queue; a message that keeps failing moves to a dead-letter queue after
``max_receive_count`` receives, so nothing is lost and nothing blocks the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._event_filters import SQS_KEYS, checked_filters
from serverless_patterns._typecheck import checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
)
from serverless_patterns.functions import (
    check_same_environment,
    claim_event_source,
    function_role,
    function_timeout_seconds,
    mark_event_source,
    scope_beside,
)
from serverless_patterns.nag import acknowledge, acknowledge_created
from serverless_patterns.queues import (
    SQS_DEFAULT_VISIBILITY_SECONDS,
    configured_dead_letter_queue,
    configured_retention_seconds,
    configured_visibility_seconds,
    queue_with_dead_letter,
)

_DEFAULT_BATCH_SIZE = 10
_DEFAULT_MAX_RECEIVE_COUNT = 5
_DEFAULT_RETENTION = Duration.days(4)
_VISIBILITY_PER_FUNCTION_TIMEOUT = 6  # AWS guidance for SQS event sources
_MAX_VISIBILITY_SECONDS = 12 * 3600
#: The kinds of alarm a QueueWorker has (its ``alarm_settings`` keys).
ALARM_KINDS = (AlarmKind.DEAD_LETTER, AlarmKind.MESSAGE_AGE, *FUNCTION_KINDS)


class QueueWorker(Construct):
    """An SQS queue with a dead-letter queue, consumed in batches by a Lambda function.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        handler: the consumer. It should report partial batch failures (Powertools'
            ``process_partial_response``): the event source mapping has
            ``ReportBatchItemFailures`` on, so only failed messages are retried.
        queue: an existing queue to consume instead of creating one. It must have a redrive
            policy; pass its DLQ as ``dead_letter_queue`` unless it is a ``Queue`` of this app
            created with ``dead_letter_queue=``. Options that only shape a created queue
            (``fifo``, ``content_based_deduplication``, ``max_receive_count``,
            ``visibility_timeout``, ``retention_period``, ``encryption_key``) cannot be combined
            with it. Default: a new encrypted, TLS-only queue.
        dead_letter_queue: the DLQ of an existing ``queue`` (for its alarm). Default: the one
            created with the queue, or the DLQ of the given ``Queue``.
        batch_size: messages per invocation, 1..10000 (1..10 for FIFO). Above 10 needs a
            ``max_batching_window`` of at least 1 second. Default 10.
        max_batching_window: how long to gather a batch, 0..300 seconds; not for FIFO.
            Default none (invoke as soon as messages are there).
        max_receive_count: receives before a message moves to the DLQ, >= 1. Default 5.
        visibility_timeout: the queue's visibility timeout, >= the function timeout and at most
            12 hours. Default 6x the function timeout plus the batching window (AWS guidance),
            which needs the function's timeout: an imported function needs an explicit value.
        max_concurrency: most concurrent invocations by this event source, 2..1000.
            Default none (scales with the queue).
        fifo: create a FIFO queue (and FIFO DLQ). Default False.
        content_based_deduplication: FIFO only; deduplicate by body hash. Default False.
        retention_period: how long the main queue keeps a message, 1 minute..14 days.
            Default 4 days (the DLQ always keeps 14 days).
        encryption_key: a customer-managed KMS key for both queues. Default SSE-SQS.
        message_age_alarm_threshold: age of the oldest message that means a backlog. Default
            ``max_receive_count`` x visibility timeout: the longest a message can legitimately
            spend being retried before it is dead-lettered.
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``DEAD_LETTER``,
            ``MESSAGE_AGE``, ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``,
            ``FUNCTION_DURATION`` (see :class:`~serverless_patterns.AlarmKind`); a kind's
            threshold, evaluation periods, or ``enabled=False``. Default: every alarm, with
            the kind's defaults.
        enabled: whether the event source mapping polls. Default True.
        filters: event filter patterns, ``lambda_.FilterCriteria.filter({...})`` or the pattern
            as a dict, on ``body`` (``{"body": {"type": ["order"]}}``, a JSON body) or the
            message's metadata (``attributes``, ``messageAttributes``, ...); every leaf a list;
            1..5 filters (10 with a raised quota). **Lambda deletes a message that matches no
            filter**: filter only what this queue should never deliver. Default: every message.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: lambda_.IFunction,
        queue: sqs.IQueue | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        max_batching_window: Duration | None = None,
        max_receive_count: int | None = None,
        visibility_timeout: Duration | None = None,
        max_concurrency: int | None = None,
        fifo: bool = False,
        content_based_deduplication: bool = False,
        retention_period: Duration | None = None,
        encryption_key: kms.IKey | None = None,
        message_age_alarm_threshold: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
        enabled: bool = True,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        problems = Problems("QueueWorker", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        age_setting = settings.get(AlarmKind.MESSAGE_AGE)
        if message_age_alarm_threshold is not None and age_setting and age_setting.threshold:
            problems.add(
                "message_age_alarm_threshold",
                message_age_alarm_threshold,
                "is also given as alarm_settings[AlarmKind.MESSAGE_AGE].threshold",
                "one of the two",
            )
        filter_criteria = checked_filters(problems, "filters", filters, keys=SQS_KEYS)
        function_timeout = function_timeout_seconds(handler)
        window = _tree.exact_seconds(max_batching_window) if max_batching_window else 0
        # A given queue is FIFO or not by itself; fifo= only shapes a created one.
        _check_batching(problems, batch_size, window, fifo or bool(queue and queue.fifo))
        check_same_environment(problems, "handler", scope, handler)
        problems.check_duration(
            "message_age_alarm_threshold", message_age_alarm_threshold, 60, 14 * 86400
        )
        problems.check_range("max_receive_count", max_receive_count, 1, 1000)
        problems.check_range("max_concurrency", max_concurrency, 2, 1000)
        problems.check_duration("retention_period", retention_period, 60, 14 * 86400)
        if content_based_deduplication and not fifo:
            problems.add(
                "content_based_deduplication", True, "needs a FIFO queue", "fifo=True, or False"
            )
        if visibility_timeout is not None:
            _check_visibility(problems, visibility_timeout, function_timeout)
        elif queue is None and function_timeout is None:
            problems.add(
                "visibility_timeout",
                None,
                "cannot be derived: the handler is an imported function whose timeout is unknown",
                "an explicit Duration >= the function's timeout",
            )
        if queue is not None:
            claim_event_source(problems, "handler", handler, queue)
            _check_given_visibility(problems, queue, function_timeout)
            _check_existing_queue(
                problems,
                queue,
                dead_letter_queue,
                fifo=fifo,
                content_based_deduplication=content_based_deduplication,
                max_receive_count=max_receive_count,
                visibility_timeout=visibility_timeout,
                retention_period=retention_period,
                encryption_key=encryption_key,
            )
        elif dead_letter_queue is not None:
            problems.add(
                "dead_letter_queue",
                dead_letter_queue,
                "only applies to an existing queue",
                "leave it out: the created queue gets its own DLQ",
            )
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)

        receive_count = max_receive_count or _DEFAULT_MAX_RECEIVE_COUNT
        if queue is None:
            if visibility_timeout is not None:
                visibility = visibility_timeout
                visibility_seconds = _tree.whole_seconds(visibility_timeout)
            else:
                visibility_seconds = (
                    _VISIBILITY_PER_FUNCTION_TIMEOUT * (function_timeout or 0) + window
                )
                visibility = Duration.seconds(visibility_seconds)
            pair = queue_with_dead_letter(
                self,
                visibility_timeout=visibility,
                max_receive_count=receive_count,
                retention_period=retention_period or _DEFAULT_RETENTION,
                fifo=fifo,
                content_based_deduplication=content_based_deduplication,
                encryption_key=encryption_key,
            )
            self.queue: sqs.IQueue = pair.queue
            """The queue the function consumes."""
            self.dead_letter_queue: sqs.IQueue = pair.dead_letter_queue
            """Where messages go after ``max_receive_count`` failed receives."""
        else:
            self.queue = queue
            configured = queue.dead_letter_queue if isinstance(queue, sqs.Queue) else None
            known = dead_letter_queue or (configured.queue if configured else None)
            assert known is not None  # validated above
            self.dead_letter_queue = known
            if configured is not None:
                receive_count = int(configured.max_receive_count)
            visibility_seconds = _visibility_seconds_of(queue, function_timeout)

        self.function = handler
        """The consumer function."""

        if function_role(handler) is not None:
            self.queue.grant_consume_messages(handler)
        else:
            Annotations.of(self).add_warning_v2(
                "serverless-patterns:imported-function-without-role",
                "The handler is an imported function without a role: grant it "
                f"sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and "
                f"sqs:GetQueueAttributes on {_tree.path(self.queue)} yourself.",
            )
        beside = scope_beside(self, handler)
        self.event_source_mapping = lambda_.EventSourceMapping(
            beside,
            "EventSourceMapping",
            target=handler,
            event_source_arn=self.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
            enabled=enabled,
            filters=filter_criteria,
        )
        """The SQS event source mapping (``ReportBatchItemFailures`` on). It lives in the
        handler's stack when that is another one (see ``functions.scope_beside``)."""
        _tree.created(self.event_source_mapping, beside, "EventSourceMapping")
        mark_event_source(handler, self.queue)
        acknowledge_created(
            self.event_source_mapping,
            cdk_nag={
                "Serverless-LambdaEventSourceMappingDestination": (
                    "SQS event source mappings have no OnFailure destination: the queue's "
                    "redrive policy moves failing messages to the dead-letter queue, which is "
                    "alarmed on."
                ),
            },
            cfn_lint={
                "ES1001": (
                    "SQS event source mappings have no OnFailure destination: the queue's "
                    "redrive policy is the failure path."
                ),
            },
        )
        if isinstance(handler, lambda_.Function):
            acknowledge(
                handler,
                "Serverless-LambdaDLQ",
                f"Invoked synchronously by the SQS event source mapping of {_tree.path(self)}: "
                "a failed message stays in the queue and moves to its dead-letter queue. (Give "
                "the function an on-failure destination if something also invokes it "
                "asynchronously.)",
            )

        age_threshold: Duration | float = message_age_alarm_threshold or (
            receive_count * visibility_seconds
        )
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self._function_timeout = function_timeout
        book = AlarmBook(settings, alarm_topic)
        consumer = f"the function {_tree.path(handler)}"
        self.dead_letter_alarm = book.dead_letter(
            self,
            "DeadLetterQueueAlarm",
            self.dead_letter_queue,
            consumer=f"the logs of {consumer}",
            redrive=self,
        )
        """ALARM when any message is in the DLQ (None when that kind is turned off)."""
        self.message_age_alarm = book.message_age(
            self, "MessageAgeAlarm", self.queue, age_threshold, consumer=consumer
        )
        """ALARM when the oldest message in the queue is older than the threshold."""
        self.function_alarms: list[cloudwatch.Alarm] = book.function_health(
            beside,
            "Function",
            handler,
            timeout_seconds=function_timeout,
            after_failure=(
                "Failed messages are retried, then kept in the dead-letter queue "
                f"{_tree.path(self.dead_letter_queue)}."
            ),
        )
        """The function's error rate, throttles and duration alarms (shared with any other
        construct of the app that uses the same function)."""
        self.alarms: list[cloudwatch.Alarm] = book.alarms
        """Every alarm of this construct."""

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This worker's dashboard segment: queue flow and backlog, DLQ, function, alarms."""
        return [
            dashboards.header("QueueWorker", self),
            *dashboards.queue_widgets("Queue", self.queue, self.dead_letter_queue),
            *dashboards.function_widgets("Function", self.function, self._function_timeout),
            *dashboards.alarm_widget(self.alarms),
        ]

    @checked
    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to send messages to the queue (and use its key, if any)."""
        return self.queue.grant_send_messages(grantee)


def _check_batching(problems: Problems, batch_size: int, window: float, fifo: bool) -> None:
    if fifo:
        problems.check_range("batch_size", batch_size, 1, 10, context="for a FIFO queue")
        if window:
            problems.add(
                "max_batching_window",
                Duration.seconds(window),
                "is not allowed for a FIFO queue",
                "None",
            )
    else:
        problems.check_range("batch_size", batch_size, 1, 10000)
        if batch_size > 10 and window < 1 and batch_size <= 10000:
            problems.add(
                "max_batching_window",
                None if not window else Duration.seconds(window),
                f"must be at least 1 second when batch_size={batch_size} is above 10",
                "Duration.seconds(1)..Duration.seconds(300)",
            )
    if not float(window).is_integer():
        problems.add(
            "max_batching_window",
            Duration.seconds(window),
            "is not whole seconds",
            "0..300 seconds",
        )
    elif window > 300:
        problems.add(
            "max_batching_window", Duration.seconds(window), "is not allowed", "0..300 seconds"
        )


def _check_visibility(
    problems: Problems, visibility_timeout: Duration, function_timeout: float | None
) -> None:
    seconds = _tree.exact_seconds(visibility_timeout)
    if not float(seconds).is_integer():
        problems.add(
            "visibility_timeout", visibility_timeout, "is not whole seconds", "whole seconds"
        )
    elif function_timeout is not None and seconds < function_timeout:
        problems.add(
            "visibility_timeout",
            visibility_timeout,
            f"is shorter than the function timeout ({number(function_timeout)} s): messages "
            "would be received again while still being processed",
            f"{number(function_timeout)}..{_MAX_VISIBILITY_SECONDS} seconds",
        )
    else:
        problems.check_duration(
            "visibility_timeout", visibility_timeout, 0, _MAX_VISIBILITY_SECONDS
        )


def _check_existing_queue(
    problems: Problems,
    queue: sqs.IQueue,
    dead_letter_queue: sqs.IQueue | None,
    **created_queue_options: object,
) -> None:
    for name, value in created_queue_options.items():
        if value not in (None, False):
            problems.add(
                name,
                value,
                "only shapes a queue this construct creates, but queue= was given",
                "leave it out, or drop queue=",
            )
    known = dead_letter_queue or configured_dead_letter_queue(queue)
    if known is None:
        problems.add(
            "queue",
            queue,
            "has no known dead-letter queue: failing messages would be retried until they expire",
            "a Queue created with dead_letter_queue=, or pass its DLQ as dead_letter_queue=",
        )
    elif bool(known.fifo) != bool(queue.fifo):
        problems.add(
            "dead_letter_queue" if dead_letter_queue is not None else "queue",
            known,
            f"is {'a FIFO' if known.fifo else 'a standard'} dead-letter queue of "
            f"{'a FIFO' if queue.fifo else 'a standard'} queue, which SQS refuses",
            "a DLQ of the same kind as its queue",
        )
    else:
        kept, dead_kept = configured_retention_seconds(queue), configured_retention_seconds(known)
        if kept is not None and dead_kept is not None and dead_kept < kept:
            problems.add(
                "queue",
                queue,
                f"keeps messages {number(kept)} s but its dead-letter queue only "
                f"{number(dead_kept)} s: a message keeps its first enqueue time, so it would "
                "expire from the DLQ early",
                "a dead-letter queue that keeps messages at least as long as its queue",
            )


def _check_given_visibility(
    problems: Problems, queue: sqs.IQueue, function_timeout: float | None
) -> None:
    """Lambda refuses a mapping whose queue's visibility timeout is below the function's."""
    visibility = configured_visibility_seconds(queue)
    if visibility is not None and function_timeout is not None and visibility < function_timeout:
        problems.add(
            "queue",
            queue,
            f"has a visibility timeout of {number(visibility)} s, below the function timeout "
            f"({number(function_timeout)} s): Lambda refuses such a mapping",
            f"a queue whose visibility timeout is at least {number(function_timeout)} s "
            f"({number(6 * function_timeout)} s as AWS advises)",
        )


def _visibility_seconds_of(queue: sqs.IQueue, function_timeout: float | None) -> float:
    """Best knowledge of an existing queue's visibility timeout, for the age alarm default."""
    configured = configured_visibility_seconds(queue)
    if configured is not None:
        return configured
    return _VISIBILITY_PER_FUNCTION_TIMEOUT * (function_timeout or SQS_DEFAULT_VISIBILITY_SECONDS)
