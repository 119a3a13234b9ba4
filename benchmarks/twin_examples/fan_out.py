"""FanOutExample: uploads to a bucket fan out over a topic to two workers and a function."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import powertools_layer

IMAGE_SUFFIXES = [
    ".png", ".PNG", ".Png", ".jpg", ".JPG", ".Jpg",
    ".jpeg", ".JPEG", ".Jpeg", ".gif", ".GIF", ".Gif",
]  # fmt: skip


class FanOutExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        alarm_topic = c.alarm_topic(self, "AlarmTopic")
        access_logs = c.access_log_bucket(self)
        # Named, so that the policies below can name its ARN before it exists (no cycle).
        bucket_name = f"sp-media-{Aws.ACCOUNT_ID}-{Aws.REGION}-{self._suffix()}"
        uploads = c.private_bucket(
            self,
            "UploadBucket",
            access_logs=access_logs,
            prefix="upload-bucket/",
            bucket_name=bucket_name,
        )
        media = c.table(self, "MediaTable", "object_key", "record")

        fan_out = Construct(self, "Uploads")
        key = c.key(fan_out, "Key", f"Encrypts the messages of {fan_out.node.path}")
        topic = sns.Topic(
            fan_out,
            "Topic",
            master_key=key,
            enforce_ssl=True,
            signature_version="2",
            tracing_config=sns.TracingConfig.ACTIVE,
        )
        book = c.Alarms(alarm_topic)
        hint = c.redrive(id, "Uploads")
        book.alarm(
            fan_out,
            "NotificationsFailedAlarm",
            f"{fan_out.node.path}: SNS failed to deliver at least 1 notification(s) to a "
            "subscriber (after its retries). First: the topic's delivery status logs and each "
            "subscription's dead-letter queue, where the undelivered messages wait; then "
            f"`{hint}`.",
            topic.metric_number_of_notifications_failed(period=c.FIVE_MINUTES, statistic=c.SUM),
            1,
        )
        book.alarm(
            fan_out,
            "RedriveFailedAlarm",
            f"{fan_out.node.path}: at least 1 undeliverable message(s) could not be moved to a "
            "subscription's dead-letter queue and are lost. First: the DLQ's policy and key "
            "(SNS must be allowed to send and to use the key).",
            topic.metric(
                "NumberOfNotificationsFailedToRedriveToDlq",
                period=c.FIVE_MINUTES,
                statistic=c.SUM,
            ),
            1,
        )

        # S3 publishes for this bucket only; the notification is a property of the bucket
        # (no custom resource).
        conditions = {
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:s3:::{bucket_name}"},
            "StringEquals": {"aws:SourceAccount": self.account},
        }
        s3_principal = iam.ServicePrincipal("s3.amazonaws.com")
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[s3_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=conditions,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[s3_principal],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions=conditions,
            )
        )
        cfn_bucket = uploads.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            topic_configurations=[
                s3.CfnBucket.TopicConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    topic=topic.topic_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value="uploads/")]
                        )
                    ),
                )
            ]
        )
        uploads.node.add_dependency(topic.node.find_child("Policy"))

        layer = powertools_layer(self)
        undeliverable: dict[str, sqs.Queue] = {}

        def subscription_dlq(name: str) -> sqs.Queue:
            dlq = c.dead_letter_queue(fan_out, f"{name}SubscriptionDeadLetterQueue")
            book.dead_letter(
                fan_out,
                f"{name}SubscriptionDeadLetterAlarm",
                dlq,
                consumer="the topic's delivery status logs (why SNS could not deliver)",
                redrive_command=hint,
            )
            undeliverable[name] = dlq
            return dlq

        def function(fn_id: str, folder: str) -> lambda_.Function:
            fn = c.function(
                self,
                fn_id,
                layer=layer,
                folder=folder,
                service_name=folder.replace("_", "-"),
                environment={"TABLE_NAME": media.table_name},
            )
            media.grant(fn, "dynamodb:PutItem")
            return fn

        workers: list[c.Worker] = []

        def worker(
            name: str, fn: lambda_.Function, policy: dict[str, sns.FilterOrPolicy] | None
        ) -> None:
            created = c.Worker(
                fan_out, name, fn, alarm_topic, timeout=25, visibility=150, message_age=750
            )
            for alarm in created.book.alarms:
                book.alarms.append(alarm)
            topic.add_subscription(
                subscriptions.SqsSubscription(
                    created.queue,
                    dead_letter_queue=subscription_dlq(name),
                    raw_message_delivery=True,
                    filter_policy_with_message_body=policy,
                )
            )
            workers.append(created)

        thumbnails = function("ThumbnailFunction", "fanout_thumbnail")
        c.allow_objects(thumbnails, uploads, ["s3:GetObject"], "uploads/*")
        c.allow_objects(thumbnails, uploads, ["s3:PutObject"], "thumbnails/*")
        key_filter = sns.FilterOrPolicy.filter(
            sns.SubscriptionFilter.string_filter(match_suffixes=IMAGE_SUFFIXES)
        )
        worker(
            "Thumbnails",
            thumbnails,
            {
                "Records": sns.FilterOrPolicy.policy(
                    {
                        "s3": sns.FilterOrPolicy.policy(
                            {"object": sns.FilterOrPolicy.policy({"key": key_filter})}
                        )
                    }
                )
            },
        )

        metadata = function("MetadataFunction", "fanout_metadata")
        c.allow_objects(metadata, uploads, ["s3:GetObject"], "uploads/*")
        worker("Metadata", metadata, None)

        # SNS invokes the audit function itself: undelivered and failed events are kept.
        audit = function("AuditFunction", "fanout_audit")
        audit_dlq = subscription_dlq("Audit")
        failures = c.dead_letter_queue(fan_out, "AuditInvokeFailureQueue")
        lambda_.EventInvokeConfig(
            fan_out,
            "AuditInvokeConfig",
            function=audit,
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        book.dead_letter(
            fan_out,
            "AuditInvokeFailureAlarm",
            failures,
            consumer=f"the record's responsePayload and the logs of {audit.node.path}",
            redrive_command=hint,
        )
        book.function_health(
            fan_out,
            "Audit",
            audit,
            timeout=25,
            after_failure=f"Failed invocations are retried 2 time(s), then kept in "
            f"{failures.node.path}.",
        )
        permission = lambda_.CfnPermission(
            fan_out,
            "AuditInvokePermission",
            action="lambda:InvokeFunction",
            function_name=audit.function_name,
            principal="sns.amazonaws.com",
            source_arn=topic.topic_arn,
        )
        subscription = sns.Subscription(
            fan_out,
            "AuditSubscription",
            topic=topic,
            protocol=sns.SubscriptionProtocol.LAMBDA,
            endpoint=audit.function_arn,
            dead_letter_queue=audit_dlq,
        )
        subscription.node.add_dependency(permission)

        c.add_segment(
            board,
            [
                c.header("FanOutTopic", fan_out.node.path),
                c.graph(
                    "Topic: published / delivered",
                    [
                        topic.metric_number_of_messages_published(
                            period=c.MINUTE, statistic=c.SUM, label="Published"
                        ),
                        topic.metric_number_of_notifications_delivered(
                            period=c.MINUTE, statistic=c.SUM, label="Delivered"
                        ),
                        topic.metric_number_of_notifications_failed(
                            period=c.MINUTE, statistic=c.SUM, label="Failed"
                        ),
                    ],
                ),
                *c.function_widgets("Audit", audit, 25),
                c.dead_letter_widget("Audit: invocations failed", failures),
                *[
                    c.dead_letter_widget(f"{name}: undeliverable", dlq)
                    for name, dlq in undeliverable.items()
                ],
                c.alarm_widget(book.alarms, 8),
            ],
        )
        for created in workers:
            c.add_segment(board, created.widgets())

        CfnOutput(self, "UploadBucketName", value=uploads.bucket_name)
        CfnOutput(self, "TopicArn", value=topic.topic_arn)
        CfnOutput(self, "MediaTableName", value=media.table_name)

    def _suffix(self) -> str:
        """The first 8 hex digits of the stack's UUID: new for each creation of the stack."""
        uuid = Fn.select(2, Fn.split("/", self.stack_id))
        return Fn.select(0, Fn.split("-", uuid))
