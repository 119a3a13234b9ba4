"""A table of plausible mistakes across every construct, and what each must get.

Each row is a mistake a user could make on the first day (a number where a ``Duration`` goes,
an ARN string where a topic goes, a string where a list goes, a value AWS would refuse at
deploy time) and asserts the promised outcome: a ``TypeError`` for a wrong type, a
``ValueError`` for a wrong value, raised at construction and naming the construct path and the
argument; or, where the library cannot act, a warning on the construct. Never an
``AssertionError``, an ``AttributeError``, a jsii trace or silence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, Size
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match

from serverless_patterns import (
    CommandRouter,
    Connector,
    FanOutTopic,
    FilterPipeline,
    KinesisBatchConsumer,
    LegacyApiProxy,
    ProbeTarget,
    QueueWorker,
    ScheduledProbe,
    ServerlessFunction,
    Stage,
)
from tests.support import new_stack, user_function

ACCOUNT = "123456789012"
INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
URL = "https://shop.example.com/health"
LEGACY = "https://legacy.example.com"


def fn(stack: cdk.Stack, name: str = "Fn", **options: Any) -> lambda_.Function:
    return user_function(stack, name, **options)


def imported_fn(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_arn(
        stack, "Imported", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:imported"
    )


def imported_queue(stack: cdk.Stack, name: str = "queue", fifo: bool = False) -> sqs.IQueue:
    suffix = ".fifo" if fifo else ""
    return sqs.Queue.from_queue_arn(
        stack, f"Imported{name}", f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}{suffix}"
    )


def stages(stack: cdk.Stack) -> list[Stage]:
    return [
        Stage(name="validate", handler=fn(stack, "A")),
        Stage(name="enrich", handler=fn(stack, "B")),
    ]


def fan(stack: cdk.Stack, **options: Any) -> FanOutTopic:
    return FanOutTopic(stack, "Fan", **options)


def clicks(stack: cdk.Stack, **options: Any) -> KinesisBatchConsumer:
    return KinesisBatchConsumer(stack, "Clicks", handler=fn(stack, "Consumer"), **options)


def router(stack: cdk.Stack, **options: Any) -> CommandRouter:
    return CommandRouter(stack, "Router", **options)


def proxy(stack: cdk.Stack, **options: Any) -> LegacyApiProxy:
    return LegacyApiProxy(stack, "Legacy", legacy_base_url=LEGACY, **options)


def pool(stack: cdk.Stack) -> cognito.IUserPool:
    return cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_abcdefghi")


@dataclass(frozen=True)
class Mistake:
    """One plausible mistake and the outcome it must get."""

    name: str
    make: Callable[[cdk.Stack], object]
    outcome: type[Exception] | str  # an exception type, or "warning"
    argument: str
    path: str  # the construct path the message names ("" for an argument object)

    def __str__(self) -> str:
        return self.name


W, FAN, CLICKS, ROUTER, ORDERS, PROBE, LEGACY_PATH, FN = (
    "TestStack/W",
    "TestStack/Fan",
    "TestStack/Clicks",
    "TestStack/Router",
    "TestStack/Orders",
    "TestStack/Probe",
    "TestStack/Legacy",
    "TestStack/Fn",
)


def worker(**options: Any) -> Callable[[cdk.Stack], object]:
    def make(stack: cdk.Stack) -> object:
        handler = options.pop("handler", None) if "handler" in options else fn(stack)
        return QueueWorker(stack, "W", handler=handler, **options)

    return make


def pipeline(**options: Any) -> Callable[[cdk.Stack], object]:
    def make(stack: cdk.Stack) -> object:
        given = options.get("stages")
        built = given(stack) if callable(given) else stages(stack) if given is None else given
        rest = {k: v(stack) if callable(v) and k != "stages" else v for k, v in options.items()}
        rest.pop("stages", None)
        return FilterPipeline(stack, "Orders", stages=built, **rest)

    return make


def probe(**options: Any) -> Callable[[cdk.Stack], object]:
    def make(stack: cdk.Stack) -> object:
        targets = options.get("targets", [ProbeTarget(url=URL)])
        rest = {k: v for k, v in options.items() if k != "targets"}
        return ScheduledProbe(stack, "Probe", targets=targets, **rest)

    return make


def function(**options: Any) -> Callable[[cdk.Stack], object]:
    def make(stack: cdk.Stack) -> object:
        code = options.pop("code", INLINE) if "code" in options else INLINE
        return ServerlessFunction(stack, "Fn", code=code, **options)

    return make


def log_group(stack: cdk.Stack) -> logs.ILogGroup:
    return logs.LogGroup.from_log_group_name(stack, "Logs", "/my/logs")


def too_many_filter_keys() -> dict[str, list[str]]:
    return {f"k{index}": ["v"] for index in range(6)}


def too_many_combinations() -> dict[str, list[str]]:
    return {"a": [str(i) for i in range(20)], "b": [str(i) for i in range(10)]}


def six_second_timeout_stages(stack: cdk.Stack) -> list[Stage]:
    return [
        Stage(name=f"s{index}", handler=fn(stack, f"S{index}", timeout=Duration.minutes(2)))
        for index in range(3)
    ]


def other_region_function(stack: cdk.Stack) -> lambda_.IFunction:
    """A function of a stack in another region of the same app."""
    other = cdk.Stack(
        stack.node.scope, "Elsewhere", env=cdk.Environment(account=ACCOUNT, region="eu-west-1")
    )
    return user_function(other, "Far")


def env_stack() -> cdk.Stack:
    return cdk.Stack(
        new_stack().node.scope,
        "Home",
        env=cdk.Environment(account=ACCOUNT, region="us-east-1"),
    )


def other_account_function(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_attributes(
        stack,
        "Foreign",
        function_arn="arn:aws:lambda:us-east-1:111122223333:function:foreign",
        role=iam.Role.from_role_arn(stack, "ForeignRole", "arn:aws:iam::111122223333:role/f"),
    )


def short_visibility_queue(stack: cdk.Stack) -> sqs.IQueue:
    dlq = sqs.Queue(stack, "Dlq", retention_period=Duration.days(14))
    return sqs.Queue(
        stack,
        "Given",
        visibility_timeout=Duration.seconds(5),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )


def fifo_with_standard_dlq(stack: cdk.Stack) -> sqs.IQueue:
    dlq = sqs.Queue(stack, "Dlq")
    return sqs.Queue(
        stack,
        "Given",
        fifo=True,
        visibility_timeout=Duration.minutes(5),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )


def short_lived_dlq(stack: cdk.Stack) -> sqs.IQueue:
    dlq = sqs.Queue(stack, "Dlq", retention_period=Duration.days(1))
    return sqs.Queue(
        stack,
        "Given",
        visibility_timeout=Duration.minutes(5),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )


def well_made_queue(stack: cdk.Stack) -> sqs.IQueue:
    """A well-made queue of the user's, with its DLQ."""
    dlq = sqs.Queue(stack, "Dlq", retention_period=Duration.days(14))
    return sqs.Queue(
        stack,
        "Given",
        visibility_timeout=Duration.minutes(5),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )


def five_layers(stack: cdk.Stack) -> list[lambda_.ILayerVersion]:
    return [
        lambda_.LayerVersion.from_layer_version_arn(
            stack, f"L{index}", f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:l{index}:1"
        )
        for index in range(5)
    ]


MISTAKES = [
    # --- QueueWorker -----------------------------------------------------------------------
    Mistake(
        "qw batching window as int",
        worker(max_batching_window=5),
        TypeError,
        "max_batching_window",
        W,
    ),
    Mistake(
        "qw visibility as int", worker(visibility_timeout=180), TypeError, "visibility_timeout", W
    ),
    Mistake("qw handler as name", worker(handler="my-function"), TypeError, "handler", W),
    Mistake("qw handler None", worker(handler=None), TypeError, "handler", W),
    Mistake("qw batch size as str", worker(batch_size="10"), TypeError, "batch_size", W),
    Mistake("qw batch size as bool", worker(batch_size=True), TypeError, "batch_size", W),
    Mistake("qw batch size 0", worker(batch_size=0), ValueError, "batch_size", W),
    Mistake("qw batch size 20000", worker(batch_size=20000), ValueError, "batch_size", W),
    Mistake("qw big batch, no window", worker(batch_size=20), ValueError, "max_batching_window", W),
    Mistake("qw fifo batch 20", worker(fifo=True, batch_size=20), ValueError, "batch_size", W),
    Mistake(
        "qw fifo with window",
        worker(fifo=True, max_batching_window=Duration.seconds(5)),
        ValueError,
        "max_batching_window",
        W,
    ),
    Mistake("qw receive count 0", worker(max_receive_count=0), ValueError, "max_receive_count", W),
    Mistake("qw concurrency 1", worker(max_concurrency=1), ValueError, "max_concurrency", W),
    Mistake(
        "qw retention 15 days",
        worker(retention_period=Duration.days(15)),
        ValueError,
        "retention_period",
        W,
    ),
    Mistake(
        "qw dedup without fifo",
        worker(content_based_deduplication=True),
        ValueError,
        "content_based_deduplication",
        W,
    ),
    Mistake("qw queue as ARN", worker(queue="arn:aws:sqs:us-east-1:1:q"), TypeError, "queue", W),
    Mistake(
        "qw imported queue without DLQ",
        lambda s: QueueWorker(s, "W", handler=fn(s), queue=imported_queue(s)),
        ValueError,
        "queue",
        W,
    ),
    Mistake(
        "qw queue with fifo",
        lambda s: QueueWorker(
            s,
            "W",
            handler=fn(s),
            queue=imported_queue(s),
            dead_letter_queue=imported_queue(s, "d"),
            fifo=True,
        ),
        ValueError,
        "fifo",
        W,
    ),
    Mistake(
        "qw dlq without queue",
        lambda s: QueueWorker(s, "W", handler=fn(s), dead_letter_queue=imported_queue(s)),
        ValueError,
        "dead_letter_queue",
        W,
    ),
    Mistake(
        "qw alarm topic as ARN",
        worker(alarm_topic="arn:aws:sns:us-east-1:1:t"),
        TypeError,
        "alarm_topic",
        W,
    ),
    Mistake("qw misspelled option", worker(batchsize=10), TypeError, "batchsize", W),
    Mistake(
        "qw handler by position", lambda s: QueueWorker(s, "W", fn(s)), TypeError, "by position", W
    ),
    Mistake(
        "qw visibility below function timeout",
        worker(visibility_timeout=Duration.seconds(5)),
        ValueError,
        "visibility_timeout",
        W,
    ),
    Mistake(
        "qw imported function, no visibility",
        lambda s: QueueWorker(s, "W", handler=imported_fn(s)),
        ValueError,
        "visibility_timeout",
        W,
    ),
    Mistake(
        "qw key as alias string",
        worker(encryption_key="alias/orders"),
        TypeError,
        "encryption_key",
        W,
    ),
    Mistake("qw enabled as str", worker(enabled="yes"), TypeError, "enabled", W),
    Mistake(
        "qw age threshold as int",
        worker(message_age_alarm_threshold=600),
        TypeError,
        "message_age_alarm_threshold",
        W,
    ),
    Mistake(
        "qw filter on a message field",
        worker(filters=[{"type": ["order"]}]),
        ValueError,
        "filters[0]",
        W,
    ),
    Mistake(
        "qw function in another region",
        lambda s: QueueWorker(s, "W", handler=other_region_function(s)),
        ValueError,
        "handler",
        "Home/W",
    ),
    Mistake(
        "qw imported function of another account",
        lambda s: QueueWorker(
            s, "W", handler=other_account_function(s), visibility_timeout=Duration.minutes(3)
        ),
        ValueError,
        "handler",
        "Home/W",
    ),
    Mistake(
        "qw given queue shorter than the function",
        lambda s: QueueWorker(s, "W", handler=fn(s), queue=short_visibility_queue(s)),
        ValueError,
        "queue",
        W,
    ),
    Mistake(
        "qw imported fifo queue batch 20",
        lambda s: QueueWorker(
            s,
            "W",
            handler=fn(s),
            queue=imported_queue(s, fifo=True),
            dead_letter_queue=imported_queue(s, "d", fifo=True),
            batch_size=20,
            max_batching_window=Duration.seconds(1),
        ),
        ValueError,
        "batch_size",
        W,
    ),
    Mistake(
        "qw fifo queue with a standard DLQ",
        lambda s: QueueWorker(s, "W", handler=fn(s), queue=fifo_with_standard_dlq(s)),
        ValueError,
        "queue",
        W,
    ),
    Mistake(
        "qw DLQ keeps messages shorter",
        lambda s: QueueWorker(s, "W", handler=fn(s), queue=short_lived_dlq(s)),
        ValueError,
        "queue",
        W,
    ),
    Mistake(
        "qw age threshold zero",
        worker(message_age_alarm_threshold=Duration.seconds(0)),
        ValueError,
        "message_age_alarm_threshold",
        W,
    ),
    Mistake(
        "qw the same queue and function twice",
        lambda s: [
            q := well_made_queue(s),
            QueueWorker(s, "First", handler=(f := fn(s)), queue=q),
            QueueWorker(s, "W", handler=f, queue=q),
        ],
        ValueError,
        "handler",
        W,
    ),
    # --- FanOutTopic -----------------------------------------------------------------------
    Mistake(
        "fan topic as ARN",
        lambda s: fan(s, topic="arn:aws:sns:us-east-1:1:t"),
        TypeError,
        "topic",
        FAN,
    ),
    Mistake("fan fifo as str", lambda s: fan(s, fifo="true"), TypeError, "fifo", FAN),
    Mistake(
        "fan topic with key",
        lambda s: fan(
            s,
            topic=sns.Topic.from_topic_arn(s, "T", f"arn:aws:sns:us-east-1:{ACCOUNT}:t"),
            encryption_key=cdk.aws_kms.Key(s, "K"),
        ),
        ValueError,
        "encryption_key",
        FAN,
    ),
    Mistake(
        "fan dedup without fifo",
        lambda s: fan(s, content_based_deduplication=True),
        ValueError,
        "content_based_deduplication",
        FAN,
    ),
    Mistake(
        "fan lambda as name",
        lambda s: fan(s).add_lambda_subscriber("fn"),
        TypeError,
        "function",
        FAN,
    ),  # type: ignore[arg-type]
    Mistake(
        "fan filter value not a list",
        lambda s: fan(s).add_lambda_subscriber(fn(s), filter_policy={"type": "OrderPlaced"}),  # type: ignore[dict-item]
        TypeError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter 6 keys",
        lambda s: fan(s).add_queue_subscriber(filter_policy=too_many_filter_keys()),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter empty list",
        lambda s: fan(s).add_queue_subscriber(filter_policy={"type": []}),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter 200 combinations",
        lambda s: fan(s).add_queue_subscriber(filter_policy=too_many_combinations()),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter misspelled operator",
        lambda s: fan(s).add_queue_subscriber(filter_policy={"sku": [{"prefx": "A-"}]}),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter numeric garbled",
        lambda s: fan(s).add_queue_subscriber(filter_policy={"total": [{"numeric": ["over", 5]}]}),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter number beyond SNS",
        lambda s: fan(s).add_queue_subscriber(filter_policy={"total": [10**12]}),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan nested filter on attributes",
        lambda s: fan(s).add_queue_subscriber(filter_policy={"order": {"type": ["x"]}}),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan filter scope misspelled",
        lambda s: fan(s).add_queue_subscriber(filter_policy_scope="Body"),  # type: ignore[arg-type]
        ValueError,
        "filter_policy_scope",
        FAN,
    ),
    Mistake(
        "fan event age as int",
        lambda s: fan(s).add_lambda_subscriber(fn(s), max_event_age=3600),  # type: ignore[arg-type]
        TypeError,
        "max_event_age",
        FAN,
    ),
    Mistake(
        "fan event age 7 hours",
        lambda s: fan(s).add_lambda_subscriber(fn(s), max_event_age=Duration.hours(7)),
        ValueError,
        "max_event_age",
        FAN,
    ),
    Mistake(
        "fan retries 3",
        lambda s: fan(s).add_lambda_subscriber(fn(s), retry_attempts=3),
        ValueError,
        "retry_attempts",
        FAN,
    ),
    Mistake(
        "fan imported function without role",
        lambda s: fan(s).add_lambda_subscriber(imported_fn(s)),
        ValueError,
        "function",
        FAN,
    ),
    Mistake(
        "fan lambda on fifo topic",
        lambda s: fan(s, fifo=True).add_lambda_subscriber(fn(s)),
        ValueError,
        "function",
        FAN,
    ),
    Mistake(
        "fan queue as ARN",
        lambda s: fan(s).add_queue_subscriber("arn:aws:sqs:us-east-1:1:q"),  # type: ignore[arg-type]
        TypeError,
        "queue",
        FAN,
    ),
    Mistake(
        "fan fifo queue on standard topic",
        lambda s: fan(s).add_queue_subscriber(imported_queue(s, fifo=True)),
        ValueError,
        "queue",
        FAN,
    ),
    Mistake(
        "fan duplicate subscriber id",
        lambda s: [f := fan(s), f.add_queue_subscriber(id="A"), f.add_queue_subscriber(id="A")],
        ValueError,
        "id",
        FAN,
    ),
    Mistake(
        "fan worker with queue",
        lambda s: fan(s).add_worker(fn(s), queue=imported_queue(s)),
        ValueError,
        "queue",
        FAN,
    ),
    Mistake(
        "fan worker batch as str",
        lambda s: fan(s).add_worker(fn(s), batch_size="5"),
        TypeError,
        "batch_size",
        FAN,
    ),
    Mistake(
        "fan worker misspelled option",
        lambda s: fan(s).add_worker(fn(s), batchsize=5),
        TypeError,
        "batchsize",
        FAN,
    ),
    Mistake(
        "fan s3 without event types",
        lambda s: fan(s).add_s3_source(s3.Bucket(s, "B")),
        ValueError,
        "event_types",
        FAN,
    ),
    Mistake(
        "fan s3 event type as str",
        lambda s: fan(s).add_s3_source(s3.Bucket(s, "B"), "OBJECT_CREATED"),  # type: ignore[arg-type]
        TypeError,
        "event_types[0]",
        FAN,
    ),
    Mistake(
        "fan s3 bucket as name",
        lambda s: fan(s).add_s3_source("my-bucket", s3.EventType.OBJECT_CREATED),  # type: ignore[arg-type]
        TypeError,
        "bucket",
        FAN,
    ),
    Mistake(
        "fan s3 into imported topic",
        lambda s: fan(
            s, topic=sns.Topic.from_topic_arn(s, "T", f"arn:aws:sns:us-east-1:{ACCOUNT}:t")
        ).add_s3_source(s3.Bucket(s, "B"), s3.EventType.OBJECT_CREATED),
        "warning",
        "topic policy",
        FAN,
    ),
    Mistake(
        "fan anything-but prefix number",
        lambda s: fan(s).add_queue_subscriber(
            filter_policy={"sku": [{"anything-but": {"prefix": 1}}]}
        ),
        ValueError,
        "filter_policy",
        FAN,
    ),
    Mistake(
        "fan queue on aws/sqs key",
        lambda s: fan(s).add_queue_subscriber(
            sqs.Queue(s, "Managed", encryption=sqs.QueueEncryption.KMS_MANAGED)
        ),
        ValueError,
        "queue",
        FAN,
    ),
    Mistake(
        "fan lambda of another account",
        lambda s: FanOutTopic(s, "Fan").add_lambda_subscriber(other_account_function(s)),
        ValueError,
        "function",
        "Home/Fan",
    ),
    # --- KinesisBatchConsumer --------------------------------------------------------------
    Mistake(
        "kin imported function without role",
        lambda s: KinesisBatchConsumer(s, "Clicks", handler=imported_fn(s)),
        ValueError,
        "handler",
        CLICKS,
    ),
    Mistake(
        "kin stream as ARN",
        lambda s: clicks(s, stream="arn:aws:kinesis:x"),
        TypeError,
        "stream",
        CLICKS,
    ),
    Mistake(
        "kin stream mode upper case",
        lambda s: clicks(s, stream_mode="ON_DEMAND"),
        ValueError,
        "stream_mode",
        CLICKS,
    ),
    Mistake(
        "kin shards on demand",
        lambda s: clicks(s, shard_count=2),
        ValueError,
        "shard_count",
        CLICKS,
    ),
    Mistake(
        "kin shards with CDK's on-demand enum",
        lambda s: clicks(s, stream_mode=kinesis.StreamMode.ON_DEMAND, shard_count=2),
        ValueError,
        "shard_count",
        CLICKS,
    ),
    Mistake(
        "kin retention 1 hour",
        lambda s: clicks(s, retention=Duration.hours(1)),
        ValueError,
        "retention",
        CLICKS,
    ),
    Mistake("kin batch 0", lambda s: clicks(s, batch_size=0), ValueError, "batch_size", CLICKS),
    Mistake(
        "kin record age as int",
        lambda s: clicks(s, max_record_age=3600),
        TypeError,
        "max_record_age",
        CLICKS,
    ),
    Mistake(
        "kin record age negative",
        lambda s: clicks(s, max_record_age=-5),
        TypeError,
        "max_record_age",
        CLICKS,
    ),
    Mistake(
        "kin retries -2",
        lambda s: clicks(s, retry_attempts=-2),
        ValueError,
        "retry_attempts",
        CLICKS,
    ),
    Mistake(
        "kin parallelization 11",
        lambda s: clicks(s, parallelization_factor=11),
        ValueError,
        "parallelization_factor",
        CLICKS,
    ),
    Mistake(
        "kin tumbling window 16 min",
        lambda s: clicks(s, tumbling_window=Duration.minutes(16)),
        ValueError,
        "tumbling_window",
        CLICKS,
    ),
    Mistake(
        "kin starting position as str",
        lambda s: clicks(s, starting_position="LATEST"),
        TypeError,
        "starting_position",
        CLICKS,
    ),
    Mistake(
        "kin at timestamp without time",
        lambda s: clicks(s, starting_position=lambda_.StartingPosition.AT_TIMESTAMP),
        ValueError,
        "starting_position_timestamp",
        CLICKS,
    ),
    Mistake(
        "kin filter leaf not a list",
        lambda s: clicks(s, filters=[{"data": {"type": "click"}}]),
        ValueError,
        "filters[0]",
        CLICKS,
    ),
    Mistake(
        "kin filter on partition key",
        lambda s: clicks(s, filters=[{"partitionKey": ["a"]}]),
        ValueError,
        "filters[0]",
        CLICKS,
    ),
    Mistake(
        "kin filter misspelled operator",
        lambda s: clicks(s, filters=[{"data": {"type": [{"prefx": "a"}]}}]),
        ValueError,
        "filters[0]",
        CLICKS,
    ),
    Mistake(
        "kin filters as str",
        lambda s: clicks(s, filters='{"data": {}}'),
        TypeError,
        "filters",
        CLICKS,
    ),
    Mistake(
        "kin eleven filters",
        lambda s: clicks(s, filters=[{"data": {"n": [i]}} for i in range(11)]),
        ValueError,
        "filters",
        CLICKS,
    ),
    Mistake(
        "kin misspelled option", lambda s: clicks(s, batchsize=10), TypeError, "batchsize", CLICKS
    ),
    Mistake(
        "kin duplicate consumer id",
        lambda s: clicks(s).add_consumer(fn(s, "Other"), id="Consumer"),
        ValueError,
        "id",
        CLICKS,
    ),
    Mistake(
        "kin ingest throttle 0",
        lambda s: clicks(s).add_ingest_api(throttle_rate=0),
        ValueError,
        "throttle_rate",
        CLICKS,
    ),
    Mistake(
        "kin ingest key length 300",
        lambda s: clicks(s).add_ingest_api(partition_key_max_length=300),
        ValueError,
        "partition_key_max_length",
        CLICKS,
    ),
    Mistake(
        "kin ingest twice",
        lambda s: [c := clicks(s), c.add_ingest_api(), c.add_ingest_api()],
        ValueError,
        "add_ingest_api",
        CLICKS,
    ),
    Mistake(
        "kin ingest auth as str",
        lambda s: clicks(s).add_ingest_api(authorization_type="IAM"),  # type: ignore[arg-type]
        TypeError,
        "authorization_type",
        CLICKS,
    ),
    Mistake(
        "kin consumer in another region",
        lambda s: KinesisBatchConsumer(s, "Clicks", handler=other_region_function(s)),
        ValueError,
        "handler",
        "Home/Clicks",
    ),
    Mistake(
        "kin the same function twice on the stream",
        lambda s: [c := clicks(s), c.add_consumer(c.function, id="Again")],
        ValueError,
        "handler",
        CLICKS,
    ),
    # --- CommandRouter ---------------------------------------------------------------------
    Mistake(
        "cmd auth lower case",
        lambda s: router(s, authorization="iam"),
        ValueError,
        "authorization",
        ROUTER,
    ),
    Mistake(
        "cmd jwt", lambda s: router(s, authorization="JWT"), ValueError, "authorization", ROUTER
    ),
    Mistake(
        "cmd cognito without pool",
        lambda s: router(s, authorization="COGNITO"),
        ValueError,
        "user_pool",
        ROUTER,
    ),
    Mistake(
        "cmd pool with IAM", lambda s: router(s, user_pool=pool(s)), ValueError, "user_pool", ROUTER
    ),
    Mistake(
        "cmd open without opt-in",
        lambda s: router(s, authorization="NONE"),
        ValueError,
        "authorization",
        ROUTER,
    ),
    Mistake(
        "cmd pool as id",
        lambda s: router(s, authorization="COGNITO", user_pool="us-east-1_abc"),
        TypeError,
        "user_pool",
        ROUTER,
    ),
    Mistake(
        "cmd throttle as str",
        lambda s: router(s, throttle_rate="100"),
        TypeError,
        "throttle_rate",
        ROUTER,
    ),
    Mistake(
        "cmd timeout as int",
        lambda s: router(s, router_timeout=29),
        TypeError,
        "router_timeout",
        ROUTER,
    ),
    Mistake(
        "cmd audience as str",
        lambda s: router(s, jwt_audience="aud"),
        TypeError,
        "jwt_audience",
        ROUTER,
    ),
    Mistake(
        "cmd api off with cognito",
        lambda s: router(s, api=False, authorization="COGNITO", user_pool=pool(s)),
        ValueError,
        "api",
        ROUTER,
    ),
    Mistake(
        "cmd name in camel case",
        lambda s: router(s).add_command("GetUser", fn(s)),
        ValueError,
        "name",
        ROUTER,
    ),
    Mistake(
        "cmd version without v",
        lambda s: router(s).add_command("get-user", fn(s), version="1"),
        ValueError,
        "version",
        ROUTER,
    ),
    Mistake(
        "cmd version twice",
        lambda s: [r := router(s), r.add_command("a", fn(s)), r.add_command("a", fn(s, "Fn2"))],
        ValueError,
        "version",
        ROUTER,
    ),
    Mistake(
        "cmd two defaults",
        lambda s: [
            r := router(s),
            r.add_command("a", fn(s), default=True),
            r.add_command("a", fn(s, "Fn2"), version="v2", default=True),
        ],
        ValueError,
        "default",
        ROUTER,
    ),
    Mistake(
        "cmd sync receiver outlasts router",
        lambda s: router(s).add_command("slow", fn(s, timeout=Duration.minutes(1))),
        ValueError,
        "handler",
        ROUTER,
    ),
    Mistake(
        "cmd receiver as ARN",
        lambda s: router(s).add_command("a", "arn:aws:lambda:us-east-1:1:function:f"),  # type: ignore[arg-type]
        TypeError,
        "handler",
        ROUTER,
    ),
    Mistake(
        "cmd async imported without role",
        lambda s: router(s).add_command("a", imported_fn(s), asynchronous=True),
        ValueError,
        "handler",
        ROUTER,
    ),
    Mistake(
        "cmd asynchronous as str",
        lambda s: router(s).add_command("a", fn(s), asynchronous="yes"),  # type: ignore[arg-type]
        TypeError,
        "asynchronous",
        ROUTER,
    ),
    Mistake(
        "cmd name as positional list",
        lambda s: router(s).add_command(["get-user"], fn(s)),  # type: ignore[arg-type]
        TypeError,
        "name",
        ROUTER,
    ),
    Mistake(
        "cmd custom authorizer enum",
        lambda s: router(s, authorization=apigateway.AuthorizationType.CUSTOM),
        ValueError,
        "authorization",
        ROUTER,
    ),
    Mistake(
        "cmd router outlasts API Gateway",
        lambda s: router(s, router_timeout=Duration.seconds(60)),
        ValueError,
        "router_timeout",
        ROUTER,
    ),
    # --- FilterPipeline --------------------------------------------------------------------
    Mistake("pipe connector as str", pipeline(connector="QUEUES"), TypeError, "connector", ORDERS),
    Mistake("pipe no stages", pipeline(stages=[]), ValueError, "stages", ORDERS),
    Mistake(
        "pipe one stage not in a list",
        pipeline(stages=lambda s: Stage(name="a", handler=fn(s))),
        TypeError,
        "stages",
        ORDERS,
    ),
    Mistake(
        "pipe functions as stages",
        pipeline(stages=lambda s: [fn(s)]),
        TypeError,
        "stages[0]",
        ORDERS,
    ),
    Mistake(
        "pipe stage name with space",
        pipeline(stages=lambda s: [Stage(name="fraud screen", handler=fn(s))]),
        ValueError,
        "Stage.name",
        ORDERS,
    ),
    Mistake(
        "pipe duplicate stage names",
        pipeline(
            stages=lambda s: [
                Stage(name="a-b", handler=fn(s)),
                Stage(name="A_B", handler=fn(s, "Fn2")),
            ]
        ),
        ValueError,
        "Stage.name",
        ORDERS,
    ),
    Mistake(
        "pipe imported function on queues",
        pipeline(stages=lambda s: [Stage(name="a", handler=imported_fn(s))]),
        ValueError,
        "handler",
        ORDERS,
    ),
    Mistake(
        "pipe one function two stages",
        pipeline(
            stages=lambda s: [Stage(name="a", handler=(f := fn(s))), Stage(name="b", handler=f)]
        ),
        ValueError,
        "handler",
        ORDERS,
    ),
    Mistake(
        "pipe queue stage batch 20",
        pipeline(stages=lambda s: [Stage(name="a", handler=fn(s), batch_size=20)]),
        ValueError,
        "batch_size",
        ORDERS,
    ),
    Mistake(
        "pipe retries on queue stage",
        pipeline(stages=lambda s: [Stage(name="a", handler=fn(s), retry_attempts=2)]),
        ValueError,
        "retry_attempts",
        ORDERS,
    ),
    Mistake(
        "pipe batch on state machine stage",
        pipeline(
            connector=Connector.STATE_MACHINE,
            stages=lambda s: [Stage(name="a", handler=fn(s), batch_size=5)],
        ),
        ValueError,
        "batch_size",
        ORDERS,
    ),
    Mistake(
        "pipe workflow type with queues",
        pipeline(state_machine_type=sfn.StateMachineType.STANDARD),
        ValueError,
        "state_machine_type",
        ORDERS,
    ),
    Mistake(
        "pipe workflow type as str",
        pipeline(connector=Connector.STATE_MACHINE, state_machine_type="EXPRESS"),
        TypeError,
        "state_machine_type",
        ORDERS,
    ),
    Mistake(
        "pipe fifo source",
        pipeline(
            source=lambda s: imported_queue(s, fifo=True),
            source_dead_letter_queue=lambda s: imported_queue(s, "d", fifo=True),
        ),
        ValueError,
        "source",
        ORDERS,
    ),
    Mistake(
        "pipe source without DLQ", pipeline(source=imported_queue), ValueError, "source", ORDERS
    ),
    Mistake(
        "pipe source as ARN",
        pipeline(source="arn:aws:sqs:us-east-1:1:q"),
        TypeError,
        "source",
        ORDERS,
    ),
    Mistake(
        "pipe fifo output",
        pipeline(output=lambda s: imported_queue(s, "out", fifo=True)),
        ValueError,
        "output",
        ORDERS,
    ),
    Mistake(
        "pipe express outlasted",
        pipeline(connector=Connector.STATE_MACHINE, stages=six_second_timeout_stages),
        ValueError,
        "state_machine_type",
        ORDERS,
    ),
    Mistake(
        "pipe stage on node",
        pipeline(
            stages=lambda s: [Stage(name="a", handler=fn(s, runtime=lambda_.Runtime.NODEJS_20_X))]
        ),
        ValueError,
        "handler",
        ORDERS,
    ),
    Mistake(
        "pipe stage on python3.9",
        pipeline(
            stages=lambda s: [Stage(name="a", handler=fn(s, runtime=lambda_.Runtime.PYTHON_3_9))]
        ),
        ValueError,
        "handler",
        ORDERS,
    ),
    Mistake(
        "pipe grant send on bucket source",
        lambda s: FilterPipeline(
            s, "Orders", stages=stages(s), source=s3.Bucket(s, "Source")
        ).grant_send(iam.AccountRootPrincipal()),
        ValueError,
        "grant_send",
        ORDERS,
    ),
    Mistake(
        "pipe source DLQ without source",
        pipeline(source_dead_letter_queue=imported_queue),
        ValueError,
        "source_dead_letter_queue",
        ORDERS,
    ),
    # --- ScheduledProbe and ProbeTarget ----------------------------------------------------
    Mistake("probe URL strings", probe(targets=[URL]), TypeError, "targets[0]", PROBE),
    Mistake(
        "probe one target not in a list",
        probe(targets=ProbeTarget(url=URL)),
        TypeError,
        "targets",
        PROBE,
    ),
    Mistake("probe no targets", probe(targets=[]), ValueError, "targets", PROBE),
    Mistake(
        "probe cron in words",
        probe(schedule="cron(every 5 minutes)"),
        ValueError,
        "schedule",
        PROBE,
    ),
    Mistake(
        "probe rate 1 minutes", probe(schedule="rate(1 minutes)"), ValueError, "schedule", PROBE
    ),
    Mistake("probe rate 5 minute", probe(schedule="rate(5 minute)"), ValueError, "schedule", PROBE),
    Mistake(
        "probe cron two day fields",
        probe(schedule="cron(0 9 * * MON *)"),
        ValueError,
        "schedule",
        PROBE,
    ),
    Mistake(
        "probe cron minute 60", probe(schedule="cron(60 * * * ? *)"), ValueError, "schedule", PROBE
    ),
    Mistake(
        "probe one-time schedule",
        probe(schedule="at(2027-01-01T09:00:00)"),
        ValueError,
        "schedule",
        PROBE,
    ),
    Mistake("probe schedule as int", probe(schedule=300), TypeError, "schedule", PROBE),
    Mistake(
        "probe schedule 30 s", probe(schedule=Duration.seconds(30)), ValueError, "schedule", PROBE
    ),
    Mistake(
        "probe emails as str",
        probe(alert_emails="ops@example.com"),
        TypeError,
        "alert_emails",
        PROBE,
    ),
    Mistake(
        "probe email without @",
        probe(alert_emails=["ops.example.com"]),
        ValueError,
        "alert_emails",
        PROBE,
    ),
    Mistake(
        "probe phone not E.164",
        probe(alert_phone_numbers=["030123"]),
        ValueError,
        "alert_phone_numbers",
        PROBE,
    ),
    Mistake(
        "probe topic as ARN",
        probe(alert_topic="arn:aws:sns:us-east-1:1:t"),
        TypeError,
        "alert_topic",
        PROBE,
    ),
    Mistake(
        "probe threshold 0", probe(failure_threshold=0), ValueError, "failure_threshold", PROBE
    ),
    Mistake(
        "probe names alike",
        probe(
            targets=[
                ProbeTarget(url=URL, name="shop-api"),
                ProbeTarget(url="https://b.example.com/", name="shop_api"),
            ]
        ),
        ValueError,
        "targets",
        PROBE,
    ),
    Mistake(
        "probe duplicate names",
        probe(targets=[ProbeTarget(url=URL), ProbeTarget(url=URL)]),
        ValueError,
        "targets",
        PROBE,
    ),
    Mistake(
        "probe ftp URL",
        probe(targets=[ProbeTarget(url="ftp://x.example.com/")]),
        ValueError,
        "targets",
        PROBE,
    ),
    Mistake(
        "probe URL with password",
        probe(targets=[ProbeTarget(url="https://u:p@x.example.com/")]),
        ValueError,
        "targets",
        PROBE,
    ),
    Mistake(
        "probe target outlasts function",
        probe(targets=[ProbeTarget(url=URL, timeout=Duration.seconds(58))]),
        ValueError,
        "timeout",
        PROBE,
    ),
    Mistake(
        "probe function timeout as int",
        probe(function_timeout=60),
        TypeError,
        "function_timeout",
        PROBE,
    ),
    Mistake("target URL as int", lambda s: ProbeTarget(url=5), TypeError, "url", ""),  # type: ignore[arg-type]
    Mistake(
        "target timeout as int",
        lambda s: ProbeTarget(url=URL, timeout=10),
        TypeError,
        "timeout",
        "",
    ),  # type: ignore[arg-type]
    Mistake(
        "target status as str",
        lambda s: ProbeTarget(url=URL, expected_status="200"),  # type: ignore[arg-type]
        TypeError,
        "expected_status",
        "",
    ),
    Mistake(
        "target headers as pairs",
        lambda s: ProbeTarget(url=URL, headers=[("X-Probe", "1")]),  # type: ignore[arg-type]
        TypeError,
        "headers",
        "",
    ),
    Mistake(
        "stage handler as name", lambda s: Stage(name="a", handler="fn"), TypeError, "handler", ""
    ),  # type: ignore[arg-type]
    Mistake(
        "stage batch as str",
        lambda s: Stage(name="a", handler=fn(s), batch_size="10"),  # type: ignore[arg-type]
        TypeError,
        "batch_size",
        "",
    ),
    Mistake(
        "probe name longer than a dimension",
        probe(targets=[ProbeTarget(url=URL, name="x" * 300)]),
        ValueError,
        "targets[0].name",
        PROBE,
    ),
    Mistake(
        "probe latency limit beyond the timeout",
        probe(targets=[ProbeTarget(url=URL, max_latency=Duration.seconds(30))]),
        ValueError,
        "targets[0].max_latency",
        PROBE,
    ),
    # --- LegacyApiProxy --------------------------------------------------------------------
    Mistake(
        "legacy URL without scheme",
        lambda s: LegacyApiProxy(s, "Legacy", legacy_base_url="legacy.example.com"),
        ValueError,
        "legacy_base_url",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy URL with password",
        lambda s: LegacyApiProxy(s, "Legacy", legacy_base_url="https://u:p@legacy.example.com"),
        ValueError,
        "legacy_base_url",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy URL with query",
        lambda s: LegacyApiProxy(s, "Legacy", legacy_base_url=LEGACY + "/?a=1"),
        ValueError,
        "legacy_base_url",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy api key without plan",
        lambda s: proxy(s, authorization="API_KEY"),
        ValueError,
        "usage_plan",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy plan as dict",
        lambda s: proxy(s, authorization="API_KEY", usage_plan={"throttle": {"rate_limit": 10}}),
        TypeError,
        "usage_plan",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy cache ttl as int",
        lambda s: proxy(s).add_passthrough("/items", cache_ttl=300),
        TypeError,
        "cache_ttl",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy cache ttl 2 h",
        lambda s: proxy(s).add_passthrough("/items", cache_ttl=Duration.hours(2)),
        ValueError,
        "cache_ttl",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy timeout 30 s",
        lambda s: proxy(s, integration_timeout=Duration.seconds(30)),
        ValueError,
        "integration_timeout",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy open without opt-in",
        lambda s: proxy(s, authorization="NONE"),
        ValueError,
        "authorization",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy methods as str",
        lambda s: proxy(s).add_passthrough("/items", methods="GET"),
        TypeError,
        "methods",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy path without slash",
        lambda s: proxy(s).add_passthrough("items"),
        ValueError,
        "path",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy unknown method",
        lambda s: proxy(s).add_passthrough("/items", methods=["FETCH"]),
        ValueError,
        "method",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy path parameter missing",
        lambda s: proxy(s).add_passthrough("/items/{id}", legacy_path="/i/{sku}"),
        ValueError,
        "legacy_path",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy mapping type unknown",
        lambda s: proxy(s).add_translated_route(
            "/items/{id}",
            "GET",
            legacy_path="/items/{id}",
            response_mapping={"sku": {"path": "item.sku", "type": "integer"}},
        ),
        ValueError,
        "response_mapping",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy mapping path with spaces",
        lambda s: proxy(s).add_translated_route(
            "/items/{id}", "GET", legacy_path="/items/{id}", response_mapping={"sku": "item. sku"}
        ),
        ValueError,
        "response_mapping",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy request mapping on GET",
        lambda s: proxy(s).add_translated_route(
            "/items", "POST", legacy_path="/items", request_mapping={"sku": "sku"}
        ),
        ValueError,
        "request_mapping",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy format yaml",
        lambda s: proxy(s).add_translated_route(
            "/items",
            "GET",
            legacy_path="/items",
            response_format="yaml",  # type: ignore[arg-type]
        ),
        ValueError,
        "response_format",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy translate a proxy path",
        lambda s: proxy(s).add_translated_route("/legacy/{proxy+}", "GET", legacy_path="/x"),
        ValueError,
        "path",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy handler as name",
        lambda s: proxy(s).add_translated_route(
            "/items", "GET", legacy_path="/items", handler="fn"
        ),  # type: ignore[arg-type]
        TypeError,
        "handler",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy route twice",
        lambda s: [p := proxy(s), p.add_passthrough("/items"), p.add_passthrough("/items")],
        ValueError,
        "path",
        LEGACY_PATH,
    ),
    Mistake(
        "legacy handler outlasts the integration",
        lambda s: proxy(s).add_translated_route(
            "/items", "GET", legacy_path="/items", handler=fn(s, timeout=Duration.minutes(2))
        ),
        ValueError,
        "handler",
        LEGACY_PATH,
    ),
    # --- ServerlessFunction ----------------------------------------------------------------
    Mistake("fn memory 100", function(memory_size=100), ValueError, "memory_size", FN),
    Mistake("fn timeout as int", function(timeout=30), TypeError, "timeout", FN),
    Mistake("fn on node", function(runtime=lambda_.Runtime.NODEJS_20_X), ValueError, "runtime", FN),
    Mistake(
        "fn on python3.9", function(runtime=lambda_.Runtime.PYTHON_3_9), ValueError, "runtime", FN
    ),
    Mistake(
        "fn log group and retention",
        lambda s: ServerlessFunction(
            s, "Fn", code=INLINE, log_group=log_group(s), log_retention=logs.RetentionDays.ONE_WEEK
        ),
        ValueError,
        "log_retention",
        FN,
    ),
    Mistake(
        "fn environment number", function(environment={"BATCH": 10}), TypeError, "environment", FN
    ),
    Mistake("fn code as folder", function(code="lambda_src/orders"), TypeError, "code", FN),
    Mistake(
        "fn misspelled Function option", function(vpc_subnet=None), TypeError, "vpc_subnet", FN
    ),
    Mistake(
        "fn storage as int",
        function(ephemeral_storage_size=512),
        TypeError,
        "ephemeral_storage_size",
        FN,
    ),
    Mistake(
        "fn layers as one layer",
        lambda s: ServerlessFunction(
            s,
            "Fn",
            code=INLINE,
            layers=lambda_.LayerVersion.from_layer_version_arn(  # type: ignore[arg-type]
                s, "L", f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:shared:1"
            ),
        ),
        TypeError,
        "layers",
        FN,
    ),
    Mistake(
        "fn size as Size but memory str",
        function(memory_size="256", ephemeral_storage_size=Size.mebibytes(512)),
        TypeError,
        "memory_size",
        FN,
    ),
    Mistake(
        "fn negative reserved concurrency",
        function(reserved_concurrent_executions=-1),
        ValueError,
        "reserved_concurrent_executions",
        FN,
    ),
    Mistake(
        "fn sets AWS_REGION",
        function(environment={"AWS_REGION": "eu-west-1"}),
        ValueError,
        "environment",
        FN,
    ),
    Mistake(
        "fn environment over 4 KB",
        function(environment={"BIG": "x" * 5000}),
        ValueError,
        "environment",
        FN,
    ),
    Mistake(
        "fn five more layers",
        lambda s: ServerlessFunction(s, "Fn", code=INLINE, layers=five_layers(s)),
        ValueError,
        "layers",
        FN,
    ),
    Mistake(
        "fn storage 20 GiB",
        function(ephemeral_storage_size=Size.gibibytes(20)),
        ValueError,
        "ephemeral_storage_size",
        FN,
    ),
    Mistake(
        "fn timeout in milliseconds",
        function(timeout=Duration.millis(1500)),
        ValueError,
        "timeout",
        FN,
    ),
    Mistake("fn handler without function", function(handler="app"), ValueError, "handler", FN),
]


def test_the_table_holds_more_than_a_hundred_mistakes_over_every_construct() -> None:
    assert len(MISTAKES) >= 100
    assert len({m.name for m in MISTAKES}) == len(MISTAKES), "mistake names must be unique"
    paths = {m.path for m in MISTAKES}
    assert {W, FAN, CLICKS, ROUTER, ORDERS, PROBE, LEGACY_PATH, FN, ""} <= paths


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_gets_a_clear_error(mistake: Mistake) -> None:
    stack = env_stack() if mistake.path.startswith("Home/") else new_stack()
    if mistake.outcome == "warning":
        mistake.make(stack)
        Annotations.from_stack(stack).has_warning(
            f"/TestStack/{mistake.path.split('/', 1)[1]}",
            Match.string_like_regexp(mistake.argument),
        )
        return
    assert isinstance(mistake.outcome, type)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the exact type is asserted below
        mistake.make(stack)
    message = str(raised.value)
    assert type(raised.value) is mistake.outcome, f"{type(raised.value).__name__}: {message}"
    where = (
        f"at '{mistake.path}'"
        if mistake.path
        else ("Stage" if "stage" in mistake.name else "ProbeTarget")
    )
    assert where in message, message
    assert re.search(rf"(^|[\s'(.]){re.escape(mistake.argument)}", message), message
    assert "Traceback" not in message, message
    assert "@jsii" not in message, message
