"""KinesisExample: an ingest API puts clicks on a stream; two consumers read it."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import powertools_layer

#: A Kinesis 4xx answer, sorted by its __type into 429 (throttled), 500 (the stream's side)
#: and 400 (the caller's).
CLIENT_ERROR_TEMPLATE = (
    "#set($type = \"$input.path('$.__type')\")\n"
    '#if($type.contains("ProvisionedThroughputExceeded") || $type.contains("Throttling") || '
    '$type.contains("LimitExceeded"))\n'
    "#set($context.responseOverride.status = 429)\n"
    '{"error": {"code": "Throttled", "message": "the stream is busy: retry with backoff", '
    '"retryable": true}}\n'
    '#elseif($type.contains("AccessDenied") || $type.contains("KMS") || '
    '$type.contains("ResourceNotFound") || $type.contains("ResourceInUse") || '
    '$type.contains("UnrecognizedClient") || $type.contains("InvalidSignature") || '
    '$type.contains("IncompleteSignature") || $type.contains("MissingAuthenticationToken") || '
    '$type.contains("ExpiredToken"))\n'
    "#set($context.responseOverride.status = 500)\n"
    '{"error": {"code": "StreamUnavailable", "message": "the stream cannot take records now", '
    '"retryable": false}}\n'
    "#else\n"
    '{"error": {"code": "BadRequest", "message": '
    "#if($input.path('$.message'))$input.json('$.message')#else$input.json('$.Message')#end, "
    '"retryable": false}}\n'
    "#end"
)
SERVER_ERROR_TEMPLATE = (
    '{"error": {"code": "StreamUnavailable", "message": "the stream did not take the records: '
    'retry with backoff", "retryable": true}}'
)
#: PutRecords answers 200 with failed records: 429 or 503 naming them.
PUT_RECORDS_RESULT_TEMPLATE = (
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
METHOD_RESPONSES = [
    apigateway.MethodResponse(status_code=status) for status in ("200", "400", "429", "500", "503")
]


def kinesis_integration(
    role: iam.IRole, action: str, template: str, success_template: str | None
) -> apigateway.AwsIntegration:
    return apigateway.AwsIntegration(
        service="kinesis",
        action=action,
        options=apigateway.IntegrationOptions(
            credentials_role=role,
            passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
            request_parameters={
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
                    response_templates={"application/json": CLIENT_ERROR_TEMPLATE},
                ),
                apigateway.IntegrationResponse(
                    status_code="503",
                    selection_pattern="5\\d{2}",
                    response_templates={"application/json": SERVER_ERROR_TEMPLATE},
                ),
            ],
        ),
    )


class KinesisExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        alarm_topic = c.alarm_topic(self, "AlarmTopic")
        page_views = c.table(self, "PageViewsTable", "page", "window_start")
        archive = c.private_bucket(
            self, "ArchiveBucket", access_logs=c.access_log_bucket(self), prefix="archive-bucket/"
        )
        layer = powertools_layer(self)
        aggregator = c.function(
            self,
            "AggregatorFunction",
            layer=layer,
            folder="clickstream_aggregator",
            service_name="clickstream-aggregator",
            environment={"TABLE_NAME": page_views.table_name},
        )
        page_views.grant(aggregator, "dynamodb:PutItem", "dynamodb:BatchWriteItem")

        clicks = Construct(self, "Clicks")
        self.book = c.Alarms(alarm_topic)
        stream = kinesis.Stream(
            clicks,
            "Stream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            retention_period=Duration.hours(24),
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=c.DESTROY,
        )
        for direction, metric in (
            ("Write", stream.metric_write_provisioned_throughput_exceeded),
            ("Read", stream.metric_read_provisioned_throughput_exceeded),
        ):
            self.book.alarm(
                clicks,
                f"{direction}ThroughputExceededAlarm",
                f"{clicks.node.path}: at least 1 {direction.lower()}(s) to the stream were "
                "throttled. First: IncomingBytes/IncomingRecords per shard on the dashboard (a "
                "hot partition key?); then more shards, an on-demand stream, or enhanced fan-out "
                "for readers.",
                metric(period=c.FIVE_MINUTES, statistic=c.SUM),
                1,
            )
        consumers = [
            self._consumer(clicks, "Consumer", stream, aggregator, tumbling_window=60),
        ]

        archiver = c.function(
            self,
            "ArchiverFunction",
            layer=layer,
            folder="clickstream_archiver",
            service_name="clickstream-archiver",
            environment={"BUCKET_NAME": archive.bucket_name},
        )
        c.allow_objects(archiver, archive, ["s3:PutObject"], "clicks/*")
        consumers.append(
            self._consumer(clicks, "Archive", stream, archiver, batch_size=500, window=30)
        )

        api = self._ingest_api(clicks, stream)

        for service in ("clickstream-aggregator", "clickstream-archiver"):
            c.Alarms(alarm_topic).alarm(
                self,
                f"{service.title().replace('-', '')}MalformedAlarm",
                f"{service} dropped records that are not click events. First: its log "
                "('malformed record dropped', WARNING) gives each one's sequence number and "
                "reason; fix the producer (dropped records are not retried).",
                cloudwatch.Metric(
                    namespace="ServerlessPatterns",
                    metric_name="MalformedRecords",
                    dimensions_map={"service": service},
                    statistic=c.SUM,
                    period=c.FIVE_MINUTES,
                ),
                1,
            )

        widgets: list[cloudwatch.IWidget] = [
            c.header("KinesisBatchConsumer", clicks.node.path),
            c.graph(
                "Stream: records in",
                [stream.metric_incoming_records(period=c.MINUTE, statistic=c.SUM, label="Records")],
                [stream.metric_incoming_bytes(period=c.MINUTE, statistic=c.SUM, label="Bytes")],
            ),
            c.graph(
                "Stream: throttled",
                [
                    stream.metric_write_provisioned_throughput_exceeded(
                        period=c.MINUTE, statistic=c.SUM, label="Writes"
                    ),
                    stream.metric_read_provisioned_throughput_exceeded(
                        period=c.MINUTE, statistic=c.SUM, label="Reads"
                    ),
                ],
            ),
        ]
        for name, function, failures in consumers:
            widgets += c.function_widgets(name, function, 25)
            widgets.append(
                c.graph(
                    f"{name}: iterator age (ms)",
                    [
                        function.metric(
                            "IteratorAge", period=c.MINUTE, statistic=c.MAX, label="Iterator age"
                        )
                    ],
                )
            )
            widgets.append(c.dead_letter_widget(f"{name}: failed batches", failures))
        widgets += c.api_widgets("Ingest API", api)
        widgets.append(c.alarm_widget(self.book.alarms, 6))
        c.add_segment(board, widgets)

        CfnOutput(self, "IngestUrl", value=api.url_for_path("/records"))
        CfnOutput(self, "StreamName", value=stream.stream_name)
        CfnOutput(self, "PageViewsTableName", value=page_views.table_name)

    def _consumer(
        self,
        clicks: Construct,
        name: str,
        stream: kinesis.Stream,
        function: lambda_.Function,
        *,
        batch_size: int = 100,
        window: int | None = None,
        tumbling_window: int | None = None,
    ) -> tuple[str, lambda_.Function, sqs.Queue]:
        consumer = Construct(clicks, name)
        failures = c.dead_letter_queue(consumer, "FailureQueue")
        stream.grant_read(function)
        lambda_.EventSourceMapping(
            consumer,
            "EventSourceMapping",
            target=function,
            event_source_arn=stream.stream_arn,
            batch_size=batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            parallelization_factor=1,
            retry_attempts=3,
            max_record_age=Duration.hours(1),
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            tumbling_window=Duration.seconds(tumbling_window) if tumbling_window else None,
            on_failure=event_sources.SqsDlq(failures),
        )
        self.book.dead_letter(
            consumer,
            "FailureDestinationAlarm",
            failures,
            consumer=f"the logs of {function.node.path} (the record says which shard and "
            "sequence numbers failed)",
            redrive_command=c.redrive(self.stack_name, "Clicks"),
        )
        self.book.alarm(
            consumer,
            "IteratorAgeAlarm",
            f"{consumer.node.path}: the consumer is more than 300 s behind the stream; records "
            "older than the retention are lost. First: its errors (a failing batch is retried "
            "and blocks its shard) and duration on the dashboard; if it is healthy but slow, "
            "raise the parallelization factor or batch size.",
            function.metric("IteratorAge", period=c.MINUTE, statistic=c.MAX),
            300_000,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        self.book.function_health(
            consumer,
            "Function",
            function,
            timeout=25,
            after_failure="Failing batches are bisected and retried, then described in the "
            f"on-failure destination {failures.node.path}; the records stay in the stream until "
            "they expire.",
        )
        return name, function, failures

    def _ingest_api(self, clicks: Construct, stream: kinesis.Stream) -> apigateway.RestApi:
        holder = Construct(clicks, "IngestApi")
        role = iam.Role(
            holder,
            "Role",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"Lets {holder.node.path} put records on the stream, nothing else",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesis:PutRecord", "kinesis:PutRecords"],
                resources=[stream.stream_arn],
            )
        )
        api = c.rest_api(
            holder,
            name=f"{self.stack_name}-Clicks-IngestApi",
            description=f"Ingest API of {clicks.node.path}: records go straight to Kinesis",
            throttle_rate=50,
            throttle_burst=100,
            authorization_type=apigateway.AuthorizationType.IAM,
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
                    type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=256
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
        stream_name = stream.stream_name
        records = api.root.add_resource("records")
        records.add_method(
            "POST",
            kinesis_integration(
                role,
                "PutRecord",
                '{"StreamName": "' + stream_name + '", '
                '"Data": "$util.base64Encode($input.json(\'$.data\'))", '
                "\"PartitionKey\": $input.json('$.partitionKey')}",
                None,
            ),
            request_validator=validator,
            request_models={"application/json": record_model},
            method_responses=METHOD_RESPONSES,
        )
        records.add_resource("batch").add_method(
            "POST",
            kinesis_integration(
                role,
                "PutRecords",
                '{"StreamName": "' + stream_name + '", "Records": ['
                "#foreach($record in $input.path('$.records'))"
                '{"Data": "$util.base64Encode($input.json("$.records[$foreach.index].data"))", '
                '"PartitionKey": $input.json("$.records[$foreach.index].partitionKey")}'
                "#if($foreach.hasNext),#end#end]}",
                PUT_RECORDS_RESULT_TEMPLATE,
            ),
            request_validator=validator,
            request_models={"application/json": batch_model},
            method_responses=METHOD_RESPONSES,
        )
        self.book.alarm(
            clicks,
            "IngestApi5xxRateAlarm",
            f"{clicks.node.path}: more than 5% of the API's requests were answered 5XX. First: "
            "the API's access log (status, integration error) and the stream's throttling "
            "(PutRecord answers 5XX when it is throttled); callers see the errors, nothing is "
            "kept for a retry.",
            api.metric_server_error(period=c.FIVE_MINUTES, statistic=cloudwatch.Stats.AVERAGE),
            0.05,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=c.GT,
        )
        return api
