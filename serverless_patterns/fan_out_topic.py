"""FanOutTopic: the fan-out pattern.

Many sources (S3 among them) trigger one target per event. An SNS topic in between delivers
each message to every subscriber in parallel and retries deliveries; each subscription keeps
what it could not deliver in a dead-letter queue of its own, so one broken subscriber neither
loses messages nor holds up the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from aws_cdk import Annotations, ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._typecheck import check_keywords, checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
    only,
    redrive_hint,
)
from serverless_patterns.functions import (
    async_failure_destination,
    check_role,
    check_same_environment,
    function_timeout_seconds,
    scope_beside,
)
from serverless_patterns.queue_worker import ALARM_KINDS as QUEUE_WORKER_ALARM_KINDS
from serverless_patterns.queue_worker import QueueWorker
from serverless_patterns.queues import dead_letter_queue, queue_with_dead_letter

FilterScope = Literal["MessageAttributes", "MessageBody"]
FilterValue = sns.SubscriptionFilter | sns.FilterOrPolicy
#: SNS's own JSON form of one key's values: strings, numbers, true/false/null and operator
#: objects (``{"prefix": "ord-"}``, ``{"numeric": [">", 0]}``, ...).
JsonFilterValues = Sequence[str | int | float | bool | Mapping[str, Any] | None]
#: A filter policy: key -> CDK filter, or SNS's JSON form (a list of values, or under the
#: ``MessageBody`` scope a nested object of keys).
FilterPolicy = Mapping[str, FilterValue | JsonFilterValues | Mapping[str, Any]]

#: SNS limits on one filter policy.
MAX_FILTER_KEYS = 5
MAX_FILTER_COMBINATIONS = 150
_SUBSCRIBER_QUEUE_VISIBILITY = Duration.seconds(30)
#: The kinds of alarm a FanOutTopic has (its ``alarm_settings`` keys).
ALARM_KINDS = (
    AlarmKind.DELIVERY_FAILURES,
    AlarmKind.DEAD_LETTER,
    AlarmKind.MESSAGE_AGE,
    *FUNCTION_KINDS,
)
_SUBSCRIBER_QUEUE_RETENTION = Duration.days(4)
_SUBSCRIBER_QUEUE_RECEIVES = 5
_MAX_EVENT_AGE = Duration.hours(6)
_FIVE_MINUTES = Duration.minutes(5)
_SUM = cloudwatch.Stats.SUM
#: QueueWorker arguments that add_worker decides from the topic.
_DECIDED_BY_TOPIC = ("queue", "fifo", "dead_letter_queue")


class FanOutTopic(Construct):
    """An encrypted SNS topic whose subscribers each get their own dead-letter queue.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        topic: an existing topic to fan out from. ``fifo``, ``content_based_deduplication``
            and ``encryption_key`` only shape a created topic and cannot be combined with it.
            Default: a new topic.
        fifo: create a FIFO topic (ordered, deduplicated; subscribers must be FIFO queues).
            Default False.
        content_based_deduplication: FIFO only; deduplicate by body hash. Default False.
        encryption_key: KMS key of the created topic. Default: a new customer-managed key with
            rotation (SNS's AWS-managed key cannot be used by S3 or other publishing services).
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``DELIVERY_FAILURES``,
            ``DEAD_LETTER`` (subscription DLQs, failure destinations, workers' DLQs),
            ``MESSAGE_AGE`` (workers' queues), and ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``,
            ``FUNCTION_DURATION`` of Lambda subscribers and workers (see
            :class:`~serverless_patterns.AlarmKind`); a worker's own ``alarm_settings`` replace
            these for it. Default: every alarm, with the kind's defaults.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic | None = None,
        fifo: bool = False,
        content_based_deduplication: bool = False,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
    ) -> None:
        problems = Problems("FanOutTopic", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        if topic is not None:
            for name, value in {
                "fifo": fifo,
                "content_based_deduplication": content_based_deduplication,
                "encryption_key": encryption_key,
            }.items():
                if value not in (None, False):
                    problems.add(
                        name,
                        value,
                        "only shapes a topic this construct creates, but topic= was given",
                        "leave it out, or drop topic=",
                    )
        if content_based_deduplication and not fifo:
            problems.add(
                "content_based_deduplication", True, "needs a FIFO topic", "fifo=True, or False"
            )
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        path = _tree.path(self)
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self.subscriptions: list[sns.Subscription] = []
        """Every subscription added, in order."""
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        """Subscriber id -> the DLQ of its subscription (messages SNS could not deliver)."""
        self.workers: dict[str, QueueWorker] = {}
        """Subscriber id -> QueueWorker added with :meth:`add_worker`."""
        self._book = AlarmBook(settings, alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = self._book.alarms
        """Every alarm of this construct, including those of its workers."""
        self._lambda_subscribers: dict[str, tuple[lambda_.IFunction, sqs.IQueue]] = {}
        self._queue_subscribers: dict[str, tuple[sqs.IQueue, sqs.IQueue | None]] = {}

        if topic is None:
            self.encryption_key: kms.IKey | None = encryption_key or kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                description=f"Encrypts the messages of {path}",
            )
            """The topic's KMS key (None for an existing topic)."""
            created = sns.Topic(
                self,
                "Topic",
                master_key=self.encryption_key,
                fifo=fifo or None,
                content_based_deduplication=content_based_deduplication or None,
                enforce_ssl=True,
                signature_version="2",
                tracing_config=sns.TracingConfig.ACTIVE,
            )
            self.topic: sns.ITopic = created
            """The topic publishers send to."""
            self.fifo = fifo
            """Whether the topic is FIFO."""
        else:
            self.topic = topic
            self.encryption_key = getattr(topic, "master_key", None)
            self.fifo = bool(topic.fifo)

        self._book.occurrence(
            AlarmKind.DELIVERY_FAILURES,
            self,
            "NotificationsFailedAlarm",
            metric=self.topic.metric_number_of_notifications_failed(
                period=_FIVE_MINUTES, statistic=_SUM
            ),
            describe=lambda count: (
                f"{path}: SNS failed to deliver at least {number(count)} "
                "notification(s) to a subscriber (after its retries). First: the topic's "
                "delivery status logs and each subscription's dead-letter queue, where the "
                f"undelivered messages wait; then `{redrive_hint(self)}`."
            ),
        )
        self._book.occurrence(
            AlarmKind.DELIVERY_FAILURES,
            self,
            "RedriveFailedAlarm",
            metric=self.topic.metric(
                "NumberOfNotificationsFailedToRedriveToDlq",
                period=_FIVE_MINUTES,
                statistic=_SUM,
            ),
            describe=lambda count: (
                f"{path}: at least {number(count)} undeliverable message(s) could "
                "not be moved to a subscription's dead-letter queue and are lost. First: the "
                "DLQ's policy and key (SNS must be allowed to send and to use the key)."
            ),
        )

    # --- subscribers -----------------------------------------------------------------------

    @checked
    def add_lambda_subscriber(
        self,
        function: lambda_.IFunction,
        *,
        id: str | None = None,
        filter_policy: FilterPolicy | None = None,
        filter_policy_scope: FilterScope = "MessageAttributes",
        max_event_age: Duration = _MAX_EVENT_AGE,
        retry_attempts: int = 2,
    ) -> sns.Subscription:
        """SNS invokes ``function`` directly (asynchronously), for every matching message.

        Creates two queues, both alarmed: the subscription's DLQ (messages SNS could not
        deliver) and the function's on-failure destination (invocations that failed after
        Lambda's retries), so a failure at either step is kept.

        Args:
            function: the subscriber; a standard (not FIFO) topic only.
            id: subscriber id, part of the logical ids. Default: the function's construct id.
            filter_policy: SNS filter policy; see ``filter_policy_scope``. Default: every message.
            filter_policy_scope: ``"MessageAttributes"`` (flat: attribute -> SubscriptionFilter)
                or ``"MessageBody"`` (payload-based, may nest with ``FilterOrPolicy.policy``).
            max_event_age: how long Lambda keeps retrying an event, 60 s..6 h. Default 6 hours.
            retry_attempts: Lambda's retries of a failed invocation, 0..2. Default 2.
        """
        subscriber_id = id or _tree.construct_id(function)
        problems = self._problems()
        if self.fifo:
            problems.add(
                "function",
                function,
                "cannot subscribe to a FIFO topic: SNS FIFO topics deliver only to SQS queues",
                "add_queue_subscriber/add_worker with a FIFO queue, or a standard topic",
            )
        policy = _check_filter_policy(problems, filter_policy, filter_policy_scope)
        problems.check_duration("max_event_age", max_event_age, 60, 6 * 3600)
        problems.check_range("retry_attempts", retry_attempts, 0, 2)
        check_role(problems, "function", function, "its on-failure destination")
        check_same_environment(problems, "function", self, function)
        self._check_new_subscriber(problems, subscriber_id)
        problems.raise_if_any()

        dlq = self._subscription_dead_letter_queue(subscriber_id)
        # What refers to the function lives beside it: in its stack when that is another one.
        side = scope_beside(self, function)
        destination = async_failure_destination(
            side,
            function,
            queue_id=f"{subscriber_id}InvokeFailureQueue",
            config_id=f"{subscriber_id}InvokeConfig",
            alarm_id=f"{subscriber_id}InvokeFailureAlarm",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            invoked_by=_tree.path(self),
            book=self._book,
            owner=self,
        )
        self._book.function_health(
            side,
            subscriber_id,
            function,
            timeout_seconds=function_timeout_seconds(function),
            after_failure=(
                f"Failed invocations are retried {retry_attempts} time(s), then kept in "
                f"{_tree.path(destination.queue)}."
            ),
        )
        self._lambda_subscribers[subscriber_id] = (function, destination.queue)
        # The subscription and its invoke permission belong to this construct (stable ids), and
        # the permission names the function as the EventInvokeConfig does.
        permission = lambda_.CfnPermission(
            side,
            f"{subscriber_id}InvokePermission",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="sns.amazonaws.com",
            source_arn=self.topic.topic_arn,
        )
        subscription = sns.Subscription(
            side,
            f"{subscriber_id}Subscription",
            topic=self.topic,
            protocol=sns.SubscriptionProtocol.LAMBDA,
            endpoint=function.function_arn,
            dead_letter_queue=dlq,
            **_filter_arguments(policy, filter_policy_scope),
        )
        subscription.node.add_dependency(permission)
        self.subscriptions.append(subscription)
        return subscription

    @checked
    def add_queue_subscriber(
        self,
        queue: sqs.IQueue | None = None,
        *,
        id: str | None = None,
        filter_policy: FilterPolicy | None = None,
        filter_policy_scope: FilterScope = "MessageAttributes",
        raw_message_delivery: bool = True,
    ) -> sqs.IQueue:
        """SNS delivers matching messages to ``queue`` (created, encrypted, with a DLQ, if None).

        Args:
            queue: the subscriber queue; FIFO exactly when the topic is. Default: a new
                encrypted, TLS-only queue (FIFO for a FIFO topic) with its own DLQ.
            id: subscriber id, part of the logical ids. Default: the queue's construct id, or
                ``QueueSubscriber<n>`` for a created queue.
            filter_policy: as for :meth:`add_lambda_subscriber`.
            filter_policy_scope: as for :meth:`add_lambda_subscriber`.
            raw_message_delivery: deliver the message body as is, without the SNS envelope.
                Default True.
        """
        subscriber_id = id or (
            _tree.construct_id(queue)
            if queue is not None
            else f"QueueSubscriber{len(self.subscriptions) + 1}"
        )
        problems = self._problems()
        if queue is not None and getattr(queue, "encryption_type", None) == (
            sqs.QueueEncryption.KMS_MANAGED
        ):
            problems.add(
                "queue",
                queue,
                "is encrypted with the AWS-managed key aws/sqs, which SNS cannot use to deliver",
                "a queue with SSE-SQS or a customer-managed key whose policy allows SNS",
            )
        if queue is not None and queue.fifo != self.fifo:
            kind = "a FIFO" if queue.fifo else "a standard"
            problems.add(
                "queue",
                queue,
                f"is {kind} queue but the topic is {'FIFO' if self.fifo else 'standard'}",
                f"a {'FIFO' if self.fifo else 'standard'} queue, or leave it out",
            )
        policy = _check_filter_policy(problems, filter_policy, filter_policy_scope)
        self._check_new_subscriber(problems, subscriber_id)
        problems.raise_if_any()

        if queue is None:
            created = queue_with_dead_letter(
                _tree.created(Construct(self, subscriber_id), self, subscriber_id),
                visibility_timeout=_SUBSCRIBER_QUEUE_VISIBILITY,
                max_receive_count=_SUBSCRIBER_QUEUE_RECEIVES,
                retention_period=_SUBSCRIBER_QUEUE_RETENTION,
                fifo=self.fifo,
            )
            queue = created.queue
            self._book.dead_letter(
                self,
                f"{subscriber_id}QueueDeadLetterAlarm",
                created.dead_letter_queue,
                consumer="the logs of the queue's consumer",
                redrive=self,
            )
            self._queue_subscribers[subscriber_id] = (queue, created.dead_letter_queue)
        else:
            self._queue_subscribers[subscriber_id] = (queue, None)
        self._subscribe_queue(
            queue, subscriber_id, policy, filter_policy_scope, raw_message_delivery
        )
        return queue

    @checked
    def add_worker(
        self,
        handler: lambda_.IFunction,
        *,
        id: str | None = None,
        filter_policy: FilterPolicy | None = None,
        filter_policy_scope: FilterScope = "MessageAttributes",
        raw_message_delivery: bool = True,
        **queue_worker_options: Any,
    ) -> QueueWorker:
        """The durable fan-out: SNS -> an SQS queue -> ``handler``, as a :class:`QueueWorker`.

        Args:
            handler: the consumer function.
            id: subscriber id; also the QueueWorker's construct id. Default: the handler's
                construct id + ``"Worker"``.
            filter_policy: as for :meth:`add_queue_subscriber`.
            filter_policy_scope: as for :meth:`add_queue_subscriber`.
            raw_message_delivery: as for :meth:`add_queue_subscriber`.
            queue_worker_options: any other :class:`QueueWorker` argument (``batch_size``,
                ``max_concurrency``, ...). ``fifo`` follows the topic; ``alarm_topic`` defaults
                to this construct's.
        """
        subscriber_id = id or f"{_tree.construct_id(handler)}Worker"
        problems = self._problems()
        check_keywords(
            lambda: problems.prefix,
            QueueWorker.__init__,
            {k: v for k, v in queue_worker_options.items() if k not in _DECIDED_BY_TOPIC},
            skip=("scope", "id", "handler", *_DECIDED_BY_TOPIC),
        )
        for reserved in _DECIDED_BY_TOPIC:
            if reserved in queue_worker_options:
                problems.add(
                    reserved,
                    queue_worker_options[reserved],
                    "is decided by the topic for a worker",
                    "leave it out (use add_queue_subscriber for an existing queue)",
                )
        policy = _check_filter_policy(problems, filter_policy, filter_policy_scope)
        self._check_new_subscriber(problems, subscriber_id)
        problems.raise_if_any()

        queue_worker_options.setdefault("alarm_topic", self.alarm_topic)
        queue_worker_options.setdefault(
            "alarm_settings", only(self._book.settings, QUEUE_WORKER_ALARM_KINDS)
        )
        worker = QueueWorker(
            self, subscriber_id, handler=handler, fifo=self.fifo, **queue_worker_options
        )
        self.workers[subscriber_id] = worker
        for alarm in worker.alarms:
            self._book.add(alarm)
        self._subscribe_queue(
            worker.queue, subscriber_id, policy, filter_policy_scope, raw_message_delivery
        )
        return worker

    # --- sources and publishers ------------------------------------------------------------

    @checked
    def add_s3_source(
        self,
        bucket: s3.IBucket,
        *event_types: s3.EventType,
        prefix: str | None = None,
        suffix: str | None = None,
    ) -> None:
        """Publish ``bucket``'s event notifications of ``event_types`` to the topic.

        The topic policy (and, for a key created here, the key policy) allows
        ``s3.amazonaws.com`` to publish for exactly this bucket and account.

        For a bucket of this app with an explicit ``bucket_name`` (it may contain
        ``Aws.ACCOUNT_ID``/``Aws.REGION``), the notification is a property of the bucket itself
        and the policies name its ARN: no custom resource, and it deploys to local emulators.
        Otherwise S3 needs the policy before the bucket is configured while the policy needs
        the bucket's generated name, so CDK's notifications custom resource (a CDK-managed
        Lambda function) configures the bucket afterwards.

        Args:
            bucket: the source bucket.
            event_types: one or more ``s3.EventType`` (e.g. ``OBJECT_CREATED``). Required.
            prefix: only keys starting with this. Default: all keys.
            suffix: only keys ending with this. Default: all keys.
        """
        problems = self._problems()
        if not event_types:
            problems.add(
                "event_types",
                (),
                "is empty: the bucket would publish nothing",
                "one or more s3.EventType, e.g. s3.EventType.OBJECT_CREATED",
            )
        if self.fifo:
            problems.add(
                "bucket",
                bucket,
                "cannot publish to a FIFO topic: S3 notifications go to standard topics only",
                "a standard topic",
            )
        problems.raise_if_any()

        stack = Stack.of(self)
        cfn_bucket = bucket.node.default_child
        native = (
            isinstance(cfn_bucket, s3.CfnBucket)
            and stack.resolve(cfn_bucket.bucket_name) is not None
        )
        source_arn = (
            stack.format_arn(
                service="s3",
                region="",
                account="",
                resource=str(cfn_bucket.bucket_name),  # type: ignore[union-attr]
                arn_format=ArnFormat.NO_RESOURCE_NAME,
            )
            if native
            else bucket.bucket_arn
        )
        self._allow_s3_to_publish(source_arn, stack.account)
        if native:
            assert isinstance(cfn_bucket, s3.CfnBucket)
            _add_topic_configurations(
                cfn_bucket,
                self.topic,
                [str(stack.resolve(event_type)) for event_type in event_types],
                prefix,
                suffix,
            )
            policy = self.topic.node.try_find_child("Policy")
            if policy is not None:  # S3 checks that it may publish when the bucket is configured
                bucket.node.add_dependency(policy)
        else:
            key_filters = (
                [s3.NotificationKeyFilter(prefix=prefix, suffix=suffix)] if prefix or suffix else []
            )
            for event_type in event_types:
                bucket.add_event_notification(
                    event_type, s3_notifications.SnsDestination(self.topic), *key_filters
                )

    def _allow_s3_to_publish(self, source_arn: str, account: str) -> None:
        conditions = {
            "ArnLike": {"aws:SourceArn": source_arn},
            "StringEquals": {"aws:SourceAccount": account},
        }
        statement = iam.PolicyStatement(
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions=conditions,
        )
        if not self.topic.add_to_resource_policy(statement).statement_added:
            # Resolved now: a warning is plain text, a token would print as ${Token[...]}.
            rendered = json.dumps(Stack.of(self).resolve(statement.to_statement_json()))
            Annotations.of(self).add_warning_v2(
                "serverless-patterns:imported-topic-s3-policy",
                "The topic is imported, so its topic policy cannot be changed here: add this "
                f"statement to it yourself, or S3 cannot publish to it: {rendered}",
            )
        if isinstance(self.encryption_key, kms.Key):
            self.encryption_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions=conditions,
                )
            )
        elif self.encryption_key is not None:
            Annotations.of(self).add_warning_v2(
                "serverless-patterns:s3-source-key-policy",
                "The topic's key was given: allow s3.amazonaws.com kms:GenerateDataKey* and "
                "kms:Decrypt on it, or S3 cannot publish to the encrypted topic.",
            )

    @checked
    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish to the topic (and to use its key)."""
        return self.topic.grant_publish(grantee)

    # --- internals -------------------------------------------------------------------------

    def _problems(self) -> Problems:
        return Problems.of("FanOutTopic", self)

    def _check_new_subscriber(self, problems: Problems, subscriber_id: str) -> None:
        if subscriber_id in self.dead_letter_queues:
            problems.add(
                "id",
                subscriber_id,
                "is already used by another subscriber of this topic",
                "a unique id per subscriber (pass id=...)",
            )

    def _subscription_dead_letter_queue(self, subscriber_id: str) -> sqs.Queue:
        dlq = dead_letter_queue(self, f"{subscriber_id}SubscriptionDeadLetterQueue", fifo=self.fifo)
        self.dead_letter_queues[subscriber_id] = dlq
        self._book.dead_letter(
            self,
            f"{subscriber_id}SubscriptionDeadLetterAlarm",
            dlq,
            consumer="the topic's delivery status logs (why SNS could not deliver)",
            redrive=self,
        )
        return dlq

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This topic's dashboard segment: published and delivered, each Lambda subscriber,
        queue subscribers, subscription DLQs, alarms (workers have segments of their own)."""
        widgets: list[cloudwatch.IWidget] = [
            dashboards.header("FanOutTopic", self),
            *dashboards.topic_widgets("Topic", self.topic),
        ]
        for name, (function, failures) in self._lambda_subscribers.items():
            widgets += dashboards.function_widgets(
                name, function, function_timeout_seconds(function)
            )
            widgets.append(dashboards.dead_letter_widget(f"{name}: invocations failed", failures))
        for name, (queue, dlq) in self._queue_subscribers.items():
            widgets += dashboards.queue_widgets(name, queue, dlq)
        for name, dlq in self.dead_letter_queues.items():
            widgets.append(dashboards.dead_letter_widget(f"{name}: undeliverable", dlq))
        return [*widgets, *dashboards.alarm_widget(self.alarms)]

    def _subscribe_queue(
        self,
        queue: sqs.IQueue,
        subscriber_id: str,
        filter_policy: CheckedPolicy | None,
        filter_policy_scope: FilterScope,
        raw_message_delivery: bool,
    ) -> None:
        dlq = self._subscription_dead_letter_queue(subscriber_id)
        subscription = self.topic.add_subscription(
            subscriptions.SqsSubscription(
                queue,
                dead_letter_queue=dlq,
                raw_message_delivery=raw_message_delivery,
                **_filter_arguments(filter_policy, filter_policy_scope),
            )
        )
        self.subscriptions.append(subscription)


# --- filter policies -------------------------------------------------------------------------


#: SNS's filter operators and what each takes.
_OPERATORS = {
    "prefix": "a string",
    "suffix": "a string",
    "equals-ignore-case": "a string",
    "cidr": "an IP address range",
    "exists": "true or false",
    "anything-but": "a value, a list of values, or {'prefix': ...}/{'suffix': ...}",
    "numeric": "a list of comparisons, e.g. ['>', 0, '<=', 5]",
}
_COMPARISONS = ("=", "<", "<=", ">", ">=")
_NUMERIC_LIMIT = 1e9  # SNS matches numbers from -10^9 to 10^9

CheckedPolicy = dict[str, FilterValue]


def _filter_arguments(policy: CheckedPolicy | None, scope: FilterScope) -> dict[str, Any]:
    if policy is None:
        return {}
    if scope == "MessageAttributes":
        return {"filter_policy": {key: _as_subscription_filter(v) for key, v in policy.items()}}
    return {
        "filter_policy_with_message_body": {
            key: _as_filter_or_policy(value) for key, value in policy.items()
        }
    }


def _as_subscription_filter(value: FilterValue) -> sns.SubscriptionFilter:
    if isinstance(value, sns.Filter):
        return value.filter_doc
    return cast(sns.SubscriptionFilter, value)  # a Policy is refused or walked before this


def _leaves(policy: Mapping[str, FilterValue], path: str = "") -> list[tuple[str, FilterValue]]:
    found: list[tuple[str, FilterValue]] = []
    for key, value in policy.items():
        if isinstance(value, sns.Policy):
            found += _leaves(value.policy_doc, f"{path}{key}.")
        else:
            found.append((f"{path}{key}", value))
    return found


def _check_filter_policy(
    problems: Problems, policy: FilterPolicy | None, scope: str
) -> CheckedPolicy | None:
    """SNS's documented limits, checked at synth time instead of at deploy time.

    Returns the policy in CDK's form: SNS's JSON form (lists of values, nested objects under
    ``MessageBody``) is taken as SNS documents it and converted.
    """
    if scope not in ("MessageAttributes", "MessageBody"):
        problems.add(
            "filter_policy_scope",
            scope,
            "is not a filter policy scope",
            "'MessageAttributes', 'MessageBody'",
        )
        return None
    if policy is None:
        return None
    converted = {key: _from_json(problems, key, value, scope) for key, value in policy.items()}
    if scope == "MessageAttributes":
        nested = [key for key, value in converted.items() if isinstance(value, sns.Policy)]
        if nested:
            problems.add(
                "filter_policy",
                nested,
                "nests a policy under the MessageAttributes scope (attributes are flat)",
                "SubscriptionFilter values or lists of values, or "
                "filter_policy_scope='MessageBody'",
            )
            return None
    leaves = _leaves(converted)
    values = {path: len(_as_subscription_filter(value).conditions) for path, value in leaves}
    # As SNS counts a payload policy's complexity: each key's values times its nesting depth.
    counts = {path: count * (path.count(".") + 1) for path, count in values.items()}
    empty = sorted(path for path, count in values.items() if count == 0)
    if empty:
        problems.add(
            "filter_policy",
            empty,
            "has an empty value list (it would match nothing)",
            "at least one value per key",
        )
    if len(leaves) > MAX_FILTER_KEYS:
        problems.add(
            "filter_policy",
            sorted(counts),
            f"has {len(leaves)} keys",
            f"at most {MAX_FILTER_KEYS} keys",
        )
    combinations = math.prod(max(count, 1) for count in counts.values())
    if combinations > MAX_FILTER_COMBINATIONS:
        problems.add(
            "filter_policy",
            {path: count for path, count in sorted(counts.items())},
            f"has {combinations} combinations of values (the product of the value counts, "
            "each times its key's nesting depth)",
            f"at most {MAX_FILTER_COMBINATIONS}",
        )
    return converted


def _from_json(problems: Problems, path: str, value: object, scope: str) -> FilterValue:
    """One key of a policy in CDK's form; SNS's JSON form is checked and converted."""
    if isinstance(value, sns.SubscriptionFilter | sns.FilterOrPolicy):
        return value
    if isinstance(value, Mapping):
        if path.startswith("$") or any(str(key).startswith("$") for key in value):
            problems.add(
                "filter_policy",
                path,
                "uses an operator key ($or) that this construct does not check",
                "plain keys; subscribe twice for OR across keys",
            )
        nested = {
            str(key): _as_filter_or_policy(_from_json(problems, f"{path}.{key}", inner, scope))
            for key, inner in value.items()
        }
        return sns.FilterOrPolicy.policy(nested)
    values = list(cast(Sequence[object], value))
    for element in values:
        _check_json_value(problems, path, element)
    conditions = sns.SubscriptionFilter(conditions=values)
    return conditions if scope == "MessageAttributes" else sns.FilterOrPolicy.filter(conditions)


def _as_filter_or_policy(value: FilterValue) -> sns.FilterOrPolicy:
    if isinstance(value, sns.FilterOrPolicy):
        return value
    return sns.FilterOrPolicy.filter(value)


def _check_json_value(problems: Problems, path: str, element: object) -> None:
    if isinstance(element, int | float) and not isinstance(element, bool):
        if abs(element) > _NUMERIC_LIMIT:
            problems.add(
                f"filter_policy[{path!r}]", element, "is outside SNS's numbers", "-10^9..10^9"
            )
        return
    if not isinstance(element, Mapping):
        return  # strings, true, false, null
    operators = ", ".join(f"{{{name!r}: {shape}}}" for name, shape in _OPERATORS.items())
    if len(element) != 1 or next(iter(element)) not in _OPERATORS:
        problems.add(
            f"filter_policy[{path!r}]",
            dict(element),
            "is not an SNS filter operator",
            f"values, or one operator per object: {operators}",
        )
        return
    operator, operand = next(iter(element.items()))
    if operator == "exists" and not isinstance(operand, bool):
        problems.add(f"filter_policy[{path!r}]", dict(element), "needs true or false", "exists")
    if operator in ("prefix", "suffix", "equals-ignore-case", "cidr") and not isinstance(
        operand, str
    ):
        problems.add(
            f"filter_policy[{path!r}]", dict(element), f"needs a string for {operator}", "a string"
        )
    if operator == "anything-but" and not _is_anything_but_operand(operand):
        problems.add(
            f"filter_policy[{path!r}]",
            dict(element),
            "is not an anything-but condition",
            "a string or number, a list of them, or {'prefix': '...'} / {'suffix': '...'}",
        )
    if operator == "numeric" and not _is_numeric_condition(operand):
        problems.add(
            f"filter_policy[{path!r}]",
            dict(element),
            "is not a numeric condition",
            "['>', 0], ['>=', 0, '<', 10] or ['=', 5]: comparisons and numbers in -10^9..10^9",
        )


def _is_anything_but_operand(operand: object) -> bool:
    def plain(value: object) -> bool:
        return isinstance(value, str | int | float) and not isinstance(value, bool)

    if plain(operand):
        return True
    if isinstance(operand, list | tuple):
        return bool(operand) and all(plain(value) for value in operand)
    if isinstance(operand, Mapping) and len(operand) == 1:
        key, value = next(iter(operand.items()))
        return key in ("prefix", "suffix") and isinstance(value, str)
    return False


def _is_numeric_condition(operand: object) -> bool:
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        return False
    pairs = [operand[index : index + 2] for index in range(0, len(operand), 2)]
    return all(
        comparison in _COMPARISONS
        and isinstance(number, int | float)
        and not isinstance(number, bool)
        and abs(number) <= _NUMERIC_LIMIT
        for comparison, number in pairs
    )


def _add_topic_configurations(
    bucket: s3.CfnBucket,
    topic: sns.ITopic,
    events: list[str],
    prefix: str | None,
    suffix: str | None,
) -> None:
    rules = [
        s3.CfnBucket.FilterRuleProperty(name=name, value=value)
        for name, value in (("prefix", prefix), ("suffix", suffix))
        if value
    ]
    key_filter = (
        s3.CfnBucket.NotificationFilterProperty(
            s3_key=s3.CfnBucket.S3KeyFilterProperty(rules=rules)
        )
        if rules
        else None
    )
    existing = bucket.notification_configuration
    topics = list(getattr(existing, "topic_configurations", None) or [])
    topics += [
        s3.CfnBucket.TopicConfigurationProperty(
            event=event, topic=topic.topic_arn, filter=key_filter
        )
        for event in events
    ]
    bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        topic_configurations=topics,
        queue_configurations=getattr(existing, "queue_configurations", None),
        lambda_configurations=getattr(existing, "lambda_configurations", None),
        event_bridge_configuration=getattr(existing, "event_bridge_configuration", None),
    )
