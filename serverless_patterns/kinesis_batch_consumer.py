"""KinesisBatchConsumer: real-time analytics on a Kinesis stream, in batches.

With Lambda's defaults a failing batch is retried until its records expire, which stalls the
shard for up to the retention period. Here failure is bounded and observable: a failing batch
is bisected, retried a bounded number of times within a bounded record age, and then its
metadata goes to an on-failure queue; partial batch responses retry only what failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._event_filters import KINESIS_KEYS, checked_filters
from serverless_patterns._typecheck import check_keywords, checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
)
from serverless_patterns.functions import (
    check_role,
    check_same_environment,
    claim_event_source,
    function_timeout_seconds,
    mark_event_source,
    scope_beside,
)
from serverless_patterns.nag import acknowledge
from serverless_patterns.queues import dead_letter_queue
from serverless_patterns.rest_api import (
    acknowledge_rest_api_findings,
    check_api_name,
    secure_rest_api,
)

StreamMode = Literal["on_demand", "provisioned"]
INFINITE: Literal[-1] = -1
"""``retry_attempts=INFINITE`` / ``max_record_age=INFINITE``: Lambda's unbounded default."""

_MAX_RECORD_AGE = Duration.hours(1)
#: What a consumer's function is granted: it must have a role.
_CONSUMER_GRANTS = "the stream and the on-failure queue"
_RETENTION = Duration.hours(24)
_ITERATOR_AGE_ALARM = Duration.minutes(5)
_FIVE_MINUTES = Duration.minutes(5)
_SUM = cloudwatch.Stats.SUM
#: The kinds of alarm a KinesisBatchConsumer has (its ``alarm_settings`` keys).
ALARM_KINDS = (
    AlarmKind.STREAM_THROTTLES,
    AlarmKind.ITERATOR_AGE,
    AlarmKind.DEAD_LETTER,
    AlarmKind.API_SERVER_ERRORS,
    *FUNCTION_KINDS,
)


@dataclass(frozen=True)
class StreamConsumerResources:
    """What one consumer of the stream is made of."""

    function: lambda_.IFunction
    event_source_mapping: lambda_.EventSourceMapping
    failure_destination: sqs.Queue
    stream_consumer: kinesis.StreamConsumer | None
    alarms: list[cloudwatch.Alarm]


class KinesisBatchConsumer(Construct):
    """A KMS-encrypted Kinesis stream consumed in batches by Lambda, failures bounded and kept.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        handler: the first consumer. It should return partial batch responses (Powertools'
            ``process_partial_response`` for Kinesis).
        stream: an existing stream to consume. ``stream_mode``, ``shard_count``, ``retention``
            and ``encryption_key`` only shape a created stream. Default: a new stream.
        stream_mode: ``"on_demand"`` or ``"provisioned"``. Default ``"on_demand"``.
        shard_count: shards of a provisioned stream, >= 1. Default 1 (provisioned only).
        retention: how long the stream keeps records, 24 h..365 days. Default 24 hours.
        encryption_key: a customer-managed key for the stream. Default: the AWS-managed key
            ``aws/kinesis`` (KMS; producers and consumers need no key grants).
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``STREAM_THROTTLES``,
            ``ITERATOR_AGE``, ``DEAD_LETTER`` (failure destinations), ``API_SERVER_ERRORS``
            (the ingest API), and ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``,
            ``FUNCTION_DURATION`` of every consumer (see
            :class:`~serverless_patterns.AlarmKind`). A consumer's
            ``iterator_age_alarm_threshold`` wins over this threshold. Default: every alarm,
            with the kind's defaults.
        consumer_options: the options of :meth:`add_consumer` for this first consumer
            (``batch_size``, ``retry_attempts``, ``tumbling_window``, ...).
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: lambda_.IFunction,
        stream: kinesis.IStream | None = None,
        stream_mode: StreamMode | kinesis.StreamMode | None = None,
        shard_count: int | None = None,
        retention: Duration | None = None,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
        **consumer_options: Any,
    ) -> None:
        problems = Problems("KinesisBatchConsumer", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        check_keywords(
            lambda: problems.prefix,
            KinesisBatchConsumer.add_consumer,
            consumer_options,
            skip=("handler", "id"),
        )
        if stream is not None:
            for name, value in {
                "stream_mode": stream_mode,
                "shard_count": shard_count,
                "retention": retention,
                "encryption_key": encryption_key,
            }.items():
                if value is not None:
                    problems.add(
                        name,
                        value,
                        "only shapes a stream this construct creates, but stream= was given",
                        "leave it out, or drop stream=",
                    )
        mode = _mode_name(stream_mode) if stream_mode is not None else "on_demand"
        if mode not in ("on_demand", "provisioned"):
            problems.add("stream_mode", mode, "is not a stream mode", "'on_demand', 'provisioned'")
        if shard_count is not None and mode == "on_demand" and stream is None:
            problems.add(
                "shard_count",
                shard_count,
                "cannot be set for an on-demand stream (it scales its own shards)",
                "stream_mode='provisioned', or leave it out",
            )
        problems.check_range("shard_count", shard_count, 1, 100000)
        problems.check_duration("retention", retention, 24 * 3600, 365 * 86400)
        _check_consumer_options(problems, **consumer_options)
        check_role(problems, "handler", handler, _CONSUMER_GRANTS)
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self._book = AlarmBook(settings, alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = self._book.alarms
        """Every alarm of this construct (stream, consumers, ingest API)."""
        self.consumers: dict[str, StreamConsumerResources] = {}
        """Consumer id -> its function, mapping, failure destination, stream consumer, alarms."""
        self.ingest_api: apigateway.RestApi | None = None
        """The REST API in front of the stream, once :meth:`add_ingest_api` is called."""

        if stream is None:
            provisioned = mode == "provisioned"
            stream = kinesis.Stream(
                self,
                "Stream",
                stream_mode=(
                    kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND
                ),
                shard_count=(shard_count or 1) if provisioned else None,
                retention_period=retention or _RETENTION,
                encryption=(
                    kinesis.StreamEncryption.KMS
                    if encryption_key
                    else kinesis.StreamEncryption.MANAGED
                ),
                encryption_key=encryption_key,
            )
        self.stream: kinesis.IStream = stream
        """The stream."""

        for direction, metric in (
            ("Write", stream.metric_write_provisioned_throughput_exceeded),
            ("Read", stream.metric_read_provisioned_throughput_exceeded),
        ):
            self._book.occurrence(
                AlarmKind.STREAM_THROTTLES,
                self,
                f"{direction}ThroughputExceededAlarm",
                metric=metric(period=_FIVE_MINUTES, statistic=_SUM),
                describe=_throttled(_tree.path(self), direction),
            )

        first = self.add_consumer(handler, id="Consumer", **consumer_options)
        self.function = first.function
        """The first consumer's function."""
        self.event_source_mapping = first.event_source_mapping
        """The first consumer's event source mapping."""
        self.failure_destination = first.failure_destination
        """The first consumer's on-failure queue (metadata of discarded batches)."""

    # --- consumers -------------------------------------------------------------------------

    @checked
    def add_consumer(
        self,
        handler: lambda_.IFunction,
        *,
        id: str | None = None,
        batch_size: int = 100,
        max_batching_window: Duration | None = None,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        starting_position_timestamp: float | None = None,
        parallelization_factor: int = 1,
        retry_attempts: int = 3,
        max_record_age: Duration | Literal[-1] = _MAX_RECORD_AGE,
        bisect_batch_on_error: bool = True,
        report_batch_item_failures: bool = True,
        tumbling_window: Duration | None = None,
        enhanced_fan_out: bool = False,
        filters: Sequence[Mapping[str, Any]] | None = None,
        iterator_age_alarm_threshold: Duration | None = None,
    ) -> StreamConsumerResources:
        """Another consumer of the same stream, with its own failure destination and alarms.

        Args:
            handler: the consumer function.
            id: consumer id, part of the logical ids. Default: the function's construct id.
            batch_size: records per invocation, 1..10000. Default 100.
            max_batching_window: how long to gather a batch, 0..300 s. Default none.
            starting_position: ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP``.
                Default ``TRIM_HORIZON`` (nothing already in the stream is skipped).
            starting_position_timestamp: Unix time in seconds; required with ``AT_TIMESTAMP``.
            parallelization_factor: concurrent batches per shard, 1..10. Default 1 (in order).
            retry_attempts: retries of a failing batch, 0..10000 or ``INFINITE`` (-1). Default 3.
            max_record_age: oldest record sent to the function, 60 s..7 days or ``INFINITE``.
                Default 1 hour.
            bisect_batch_on_error: split a failing batch to isolate the bad record. Default True.
            report_batch_item_failures: partial batch responses. Default True.
            tumbling_window: aggregation window, 0..900 s; state is carried between
                invocations of a window. Default none.
            enhanced_fan_out: read through a dedicated-throughput stream consumer (its own
                2 MB/s per shard, push delivery). Default False.
            filters: event filter patterns, ``lambda_.FilterCriteria.filter({...})`` or the
                pattern as a dict; Kinesis filters on ``data`` only (``{"data": {"type":
                ["click"]}}``), every leaf a list; 1..5 filters (10 with a raised quota).
                Default: every record.
            iterator_age_alarm_threshold: iterator age that means the consumer falls behind.
                Default: the construct's ``alarm_settings[AlarmKind.ITERATOR_AGE].threshold``,
                else 5 minutes.
        """
        consumer_id = id or _tree.construct_id(handler)
        problems = self._problems()
        _check_consumer_options(
            problems,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            parallelization_factor=parallelization_factor,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            tumbling_window=tumbling_window,
        )
        filter_criteria = checked_filters(problems, "filters", filters, keys=KINESIS_KEYS)
        problems.check_duration(
            "iterator_age_alarm_threshold", iterator_age_alarm_threshold, 1, 365 * 86400
        )
        check_role(problems, "handler", handler, _CONSUMER_GRANTS)
        check_same_environment(problems, "handler", self, handler)
        if not enhanced_fan_out:  # a dedicated stream consumer is a source of its own
            claim_event_source(problems, "handler", handler, self.stream)
        if consumer_id in self.consumers:
            problems.add(
                "id",
                consumer_id,
                "is already used by another consumer of this stream",
                "a unique id per consumer (pass id=...)",
            )
        problems.raise_if_any()

        # The consumer refers to its function: it lives beside it (in its stack, if another).
        beside = scope_beside(self, handler)
        scope = _tree.created(Construct(beside, consumer_id), beside, consumer_id)
        failures = dead_letter_queue(scope, "FailureQueue")
        stream_consumer = None
        source_arn = self.stream.stream_arn
        if enhanced_fan_out:
            stream_consumer = kinesis.StreamConsumer(
                scope,
                "StreamConsumer",
                stream=self.stream,
                stream_consumer_name=f"{_tree.stack_name(self)}-{consumer_id}"[:128],
            )
            stream_consumer.grant_read(handler)
            source_arn = stream_consumer.stream_consumer_arn
        self.stream.grant_read(handler)
        mapping = lambda_.EventSourceMapping(
            scope,
            "EventSourceMapping",
            target=handler,
            event_source_arn=source_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            parallelization_factor=parallelization_factor,
            retry_attempts=None if retry_attempts == INFINITE else retry_attempts,
            max_record_age=None if isinstance(max_record_age, int) else max_record_age,
            bisect_batch_on_error=bisect_batch_on_error,
            report_batch_item_failures=report_batch_item_failures,
            tumbling_window=tumbling_window,
            filters=filter_criteria,
            on_failure=event_sources.SqsDlq(failures),
        )
        if stream_consumer is not None:
            mapping.node.add_dependency(stream_consumer)
        else:
            mark_event_source(handler, self.stream)
        if isinstance(handler, lambda_.Function):
            acknowledge(
                handler,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by the Kinesis event source mapping of "
                f"{_tree.path(scope)}; "
                "discarded batches go to its on-failure destination, which is alarmed on.",
            )

        made = [
            self._book.dead_letter(
                scope,
                "FailureDestinationAlarm",
                failures,
                consumer=(
                    f"the logs of {_tree.path(handler)} (the record says which shard and sequence "
                    "numbers failed)"
                ),
                redrive=self,
            ),
            self._book.iterator_age(
                scope,
                "IteratorAgeAlarm",
                handler,
                iterator_age_alarm_threshold,
                default=_ITERATOR_AGE_ALARM,
            ),
            *self._book.function_health(
                scope,
                "Function",
                handler,
                timeout_seconds=function_timeout_seconds(handler),
                after_failure=(
                    "Failing batches are bisected and retried, then described in the on-failure "
                    f"destination {_tree.path(failures)}; the records stay in the stream until "
                    "they expire."
                ),
            ),
        ]
        alarms = [alarm for alarm in made if alarm is not None]
        resources = StreamConsumerResources(handler, mapping, failures, stream_consumer, alarms)
        self.consumers[consumer_id] = resources
        return resources

    # --- producers -------------------------------------------------------------------------

    @checked
    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put records on the stream (and to use its key, if any)."""
        return self.stream.grant_write(grantee)

    @checked
    def add_ingest_api(
        self,
        *,
        authorization_type: apigateway.AuthorizationType = apigateway.AuthorizationType.IAM,
        throttle_rate: float = 100,
        throttle_burst: int = 200,
        access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        partition_key_max_length: int = 256,
        api_name: str | None = None,
    ) -> apigateway.RestApi:
        """A REST API that puts records straight onto the stream (no Lambda in the path).

        ``POST /records`` takes ``{"data": <JSON>, "partitionKey": "..."}`` (PutRecord);
        ``POST /records/batch`` takes ``{"records": [<same>, ...]}``, 1..500 (PutRecords).
        Bodies are validated against JSON schema models before anything reaches Kinesis;
        ``data`` is stored as its JSON text.

        Args:
            authorization_type: ``IAM`` (SigV4) by default; ``NONE`` only deliberately.
            throttle_rate: steady requests per second for the stage. Default 100.
            throttle_burst: burst for the stage. Default 200.
            access_log_retention: retention of the access log group. Default one month.
            partition_key_max_length: at most 256 (the Kinesis limit). Default 256.
            api_name: the REST API's name. Default: ``<stack name>-<construct path>-IngestApi``.
        """
        problems = self._problems()
        if self.ingest_api is not None:
            problems.add(
                "ingest_api",
                self.ingest_api,
                "exists: add_ingest_api was called before",
                "one ingest API per stream (use .ingest_api)",
            )
        problems.check_range("throttle_rate", throttle_rate, 1, 10000)
        problems.check_range("throttle_burst", throttle_burst, 1, 5000)
        problems.check_range("partition_key_max_length", partition_key_max_length, 1, 256)
        check_api_name(problems, api_name)
        problems.raise_if_any()

        scope = _tree.created(Construct(self, "IngestApi"), self, "IngestApi")
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"Lets {_tree.path(scope)} put records on the stream, nothing else",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesis:PutRecord", "kinesis:PutRecords"],
                resources=[self.stream.stream_arn],
            )
        )
        if self.stream.encryption_key is not None:
            self.stream.encryption_key.grant_encrypt(role)
        api = secure_rest_api(
            scope,
            description=f"Ingest API of {_tree.path(self)}: records go straight to Kinesis",
            throttle_rate=throttle_rate,
            throttle_burst=throttle_burst,
            method_options=apigateway.MethodOptions(authorization_type=authorization_type),
            access_log_retention=access_log_retention,
            name=api_name,
        )
        validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        record_schema = apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.OBJECT,
            required=["data", "partitionKey"],
            additional_properties=False,
            properties={
                "data": apigateway.JsonSchema(),
                "partitionKey": apigateway.JsonSchema(
                    type=apigateway.JsonSchemaType.STRING,
                    min_length=1,
                    max_length=partition_key_max_length,
                ),
            },
        )
        record_model = api.add_model(
            "RecordModel", content_type="application/json", schema=record_schema
        )
        batch_model = api.add_model(
            "RecordsModel",
            content_type="application/json",
            schema=apigateway.JsonSchema(
                type=apigateway.JsonSchemaType.OBJECT,
                required=["records"],
                additional_properties=False,
                properties={
                    "records": apigateway.JsonSchema(
                        type=apigateway.JsonSchemaType.ARRAY,
                        min_items=1,
                        max_items=500,
                        items=record_schema,
                    )
                },
            ),
        )
        stream_name = self.stream.stream_name
        records = api.root.add_resource("records")
        # $input.json gives each value as a JSON literal, escaped as JSON escapes it ("/o'reilly"
        # stays valid), where $util.escapeJavaScript would write the invalid \' .
        records.add_method(
            "POST",
            _kinesis_integration(
                role,
                "PutRecord",
                '{"StreamName": "' + stream_name + '", '
                '"Data": "$util.base64Encode($input.json(\'$.data\'))", '
                "\"PartitionKey\": $input.json('$.partitionKey')}",
                success_template=None,
            ),
            request_validator=validator,
            request_models={"application/json": record_model},
            method_responses=_METHOD_RESPONSES,
        )
        records.add_resource("batch").add_method(
            "POST",
            _kinesis_integration(
                role,
                "PutRecords",
                '{"StreamName": "' + stream_name + '", "Records": ['
                "#foreach($record in $input.path('$.records'))"
                '{"Data": "$util.base64Encode($input.json("$.records[$foreach.index].data"))", '
                '"PartitionKey": $input.json("$.records[$foreach.index].partitionKey")}'
                "#if($foreach.hasNext),#end#end]}",
                success_template=_PUT_RECORDS_RESULT,
            ),
            request_validator=validator,
            request_models={"application/json": batch_model},
            method_responses=_METHOD_RESPONSES,
        )
        acknowledge_rest_api_findings(
            api, iam=authorization_type == apigateway.AuthorizationType.IAM
        )
        self._book.api_server_errors(
            self,
            "IngestApi5xxRateAlarm",
            api,
            behind="the stream's throttling (PutRecord answers 5XX when it is throttled)",
        )
        self.ingest_api = api
        self.ingest_role = role
        """The role API Gateway assumes to put records (PutRecord/PutRecords on the stream)."""
        return api

    # --- internals -------------------------------------------------------------------------

    def _problems(self) -> Problems:
        return Problems.of("KinesisBatchConsumer", self)

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This stream's dashboard segment: records in, throttling, each consumer (function,
        iterator age, failed batches), the ingest API, alarms."""
        widgets: list[cloudwatch.IWidget] = [
            dashboards.header("KinesisBatchConsumer", self),
            *dashboards.stream_widgets("Stream", self.stream),
        ]
        for name, consumer in self.consumers.items():
            widgets += dashboards.function_widgets(
                name, consumer.function, function_timeout_seconds(consumer.function)
            )
            widgets.append(dashboards.iterator_age_widget(name, consumer.function))
            widgets.append(
                dashboards.dead_letter_widget(
                    f"{name}: failed batches", consumer.failure_destination
                )
            )
        if self.ingest_api is not None:
            widgets += dashboards.api_widgets("Ingest API", self.ingest_api)
        return [*widgets, *dashboards.alarm_widget(self.alarms)]


_METHOD_RESPONSES = [
    apigateway.MethodResponse(status_code=status) for status in ("200", "400", "429", "500", "503")
]

#: Kinesis error types a client should retry after a while (429).
_THROTTLING = ("ProvisionedThroughputExceeded", "Throttling", "LimitExceeded")
#: Kinesis error types that are the API's problem, not the caller's (500): access, KMS, the
#: stream itself. Their detail stays out of the answer.
_SERVER_SIDE = (
    "AccessDenied",
    "KMS",
    "ResourceNotFound",
    "ResourceInUse",
    "UnrecognizedClient",
    "InvalidSignature",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
)


def _throttled(path: str, direction: str) -> Callable[[float], str]:
    def describe(count: float) -> str:
        return (
            f"{path}: at least {number(count)} {direction.lower()}(s) to the stream were "
            "throttled. First: IncomingBytes/IncomingRecords per shard on the dashboard (a hot "
            "partition key?); then more shards, an on-demand stream, or enhanced fan-out for "
            "readers."
        )

    return describe


def _any_of(variable: str, parts: tuple[str, ...]) -> str:
    return " || ".join(f'{variable}.contains("{part}")' for part in parts)


#: Every 4xx answer of Kinesis: classified by its ``__type``, because API Gateway selects an
#: AWS integration's response by status code only, and Kinesis answers 400 to throttling and to
#: access problems as well as to bad input.
_CLIENT_ERROR = (
    "#set($type = \"$input.path('$.__type')\")\n"
    f"#if({_any_of('$type', _THROTTLING)})\n"
    "#set($context.responseOverride.status = 429)\n"
    '{"error": {"code": "Throttled", "message": "the stream is busy: retry with backoff", '
    '"retryable": true}}\n'
    f"#elseif({_any_of('$type', _SERVER_SIDE)})\n"
    "#set($context.responseOverride.status = 500)\n"
    '{"error": {"code": "StreamUnavailable", "message": "the stream cannot take records now", '
    '"retryable": false}}\n'
    "#else\n"
    '{"error": {"code": "BadRequest", "message": '
    "#if($input.path('$.message'))$input.json('$.message')#else$input.json('$.Message')#end, "
    '"retryable": false}}\n'
    "#end"
)

_SERVER_ERROR = (
    '{"error": {"code": "StreamUnavailable", "message": "the stream did not take the records: '
    'retry with backoff", "retryable": true}}'
)

#: PutRecords answers 200 even when records failed. A partial failure becomes 429 (every failed
#: record was throttled) or 503 (an internal failure among them), naming the failed records by
#: their index in the request, so that a client checking only the status retries them.
_PUT_RECORDS_RESULT = (
    "#set($failed = $input.path('$.FailedRecordCount'))\n"
    "#if($failed > 0)\n"
    "#set($throttled = 0)\n"
    "#foreach($record in $input.path('$.Records'))"
    '#if("$record.ErrorCode" == "ProvisionedThroughputExceededException")'
    "#set($throttled = $throttled + 1)#end#end\n"
    "#if($throttled == $failed)#set($context.responseOverride.status = 429)"
    "#else#set($context.responseOverride.status = 503)#end\n"
    '{"error": {"code": "PartialFailure", "message": "some records were not taken: retry '
    'those", "retryable": true, "failedRecordCount": $failed, "failedRecords": ['
    "#set($separator = '')"
    "#foreach($record in $input.path('$.Records'))#if($record.ErrorCode)$separator"
    '{"index": $foreach.index, '
    '"errorCode": $input.json("$.Records[$foreach.index].ErrorCode"), '
    '"errorMessage": $input.json("$.Records[$foreach.index].ErrorMessage")}'
    "#set($separator = ',')#end#end]}}\n"
    "#else\n"
    "$input.json('$')\n"
    "#end"
)


def _kinesis_integration(
    role: iam.IRole, action: str, template: str, *, success_template: str | None
) -> apigateway.AwsIntegration:
    return apigateway.AwsIntegration(
        service="kinesis",
        action=action,
        options=apigateway.IntegrationOptions(
            credentials_role=role,
            passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
            request_parameters={
                # As AWS's Kinesis proxy guide: Kinesis speaks JSON 1.1.
                "integration.request.header.Content-Type": "'application/x-amz-json-1.1'"
            },
            request_templates={"application/json": template},
            integration_responses=[
                apigateway.IntegrationResponse(
                    status_code="200",
                    response_templates=(
                        {"application/json": success_template} if success_template else None
                    ),
                ),
                apigateway.IntegrationResponse(
                    status_code="400",
                    selection_pattern="4\\d{2}",
                    response_templates={"application/json": _CLIENT_ERROR},
                ),
                apigateway.IntegrationResponse(
                    status_code="503",
                    selection_pattern="5\\d{2}",
                    response_templates={"application/json": _SERVER_ERROR},
                ),
            ],
        ),
    )


def _mode_name(mode: StreamMode | kinesis.StreamMode | str) -> str:
    """``"on_demand"``/``"provisioned"`` for the construct's strings or CDK's enum."""
    return mode.name.lower() if isinstance(mode, kinesis.StreamMode) else mode


def _check_consumer_options(
    problems: Problems,
    *,
    batch_size: int = 100,
    max_batching_window: Duration | None = None,
    starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
    starting_position_timestamp: float | None = None,
    parallelization_factor: int = 1,
    retry_attempts: int = 3,
    max_record_age: Duration | int = _MAX_RECORD_AGE,
    tumbling_window: Duration | None = None,
    **_other_options: Any,
) -> None:
    problems.check_range("batch_size", batch_size, 1, 10000)
    problems.check_duration("max_batching_window", max_batching_window, 0, 300)
    problems.check_range("parallelization_factor", parallelization_factor, 1, 10)
    problems.check_range("retry_attempts", retry_attempts, -1, 10000)
    if not isinstance(max_record_age, int):  # INFINITE; any other int is refused by type
        problems.check_duration("max_record_age", max_record_age, 60, 7 * 86400)
    problems.check_duration("tumbling_window", tumbling_window, 0, 900)
    at_timestamp = starting_position == lambda_.StartingPosition.AT_TIMESTAMP
    if at_timestamp and starting_position_timestamp is None:
        problems.add(
            "starting_position_timestamp",
            None,
            "is required with starting_position=AT_TIMESTAMP",
            "a Unix time in seconds",
        )
    if starting_position_timestamp is not None and not at_timestamp:
        problems.add(
            "starting_position_timestamp",
            starting_position_timestamp,
            "only applies with starting_position=AT_TIMESTAMP",
            "leave it out, or starting_position=AT_TIMESTAMP",
        )
