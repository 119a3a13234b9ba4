"""FanOutTopic example: a media upload pipeline.

Objects uploaded under ``uploads/`` publish ObjectCreated events to a FanOutTopic; three
consumers react in parallel: a thumbnail worker (images only, by a payload filter on the key's
suffix), a metadata worker (every object) and an audit function that SNS invokes directly.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from examples._code import lambda_code
from serverless_patterns import FanOutTopic, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic
from serverless_patterns.nag import acknowledge

IMAGE_SUFFIXES = [".png", ".jpg", ".jpeg", ".gif"]


def s3_key_filter(condition: sns.SubscriptionFilter) -> dict[str, sns.FilterOrPolicy]:
    """A payload filter on the key of S3 event notifications (``Records[].s3.object.key``)."""
    return {
        "Records": sns.FilterOrPolicy.policy(
            {
                "s3": sns.FilterOrPolicy.policy(
                    {
                        "object": sns.FilterOrPolicy.policy(
                            {"key": sns.FilterOrPolicy.filter(condition)}
                        )
                    }
                )
            }
        )
    }


class FanOutExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")

        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket of the upload bucket; logging it into itself "
            "would log its own log deliveries.",
        )
        uploads = s3.Bucket(
            self,
            "UploadBucket",
            # An explicit name lets the topic policy name this bucket's ARN before it exists,
            # so its notifications are a property of the bucket (no custom resource).
            bucket_name=f"serverless-patterns-media-{Aws.ACCOUNT_ID}-{Aws.REGION}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="upload-bucket/",
        )
        table = dynamodb.Table(
            self,
            "MediaTable",
            partition_key=dynamodb.Attribute(name="object_key", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="record", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

        fan_out = FanOutTopic(self, "Uploads", alarm_topic=alarm_topic)
        fan_out.add_s3_source(uploads, s3.EventType.OBJECT_CREATED, prefix="uploads/")

        thumbnails = self._function("ThumbnailFunction", "fanout_thumbnail", table)
        self._allow_objects(thumbnails, uploads, ["s3:GetObject"], "uploads/*")
        self._allow_objects(thumbnails, uploads, ["s3:PutObject"], "thumbnails/*")
        fan_out.add_worker(
            thumbnails,
            id="Thumbnails",
            filter_policy=s3_key_filter(
                sns.SubscriptionFilter.string_filter(match_suffixes=IMAGE_SUFFIXES)
            ),
            filter_policy_scope="MessageBody",
        )

        metadata = self._function("MetadataFunction", "fanout_metadata", table)
        self._allow_objects(metadata, uploads, ["s3:GetObject"], "uploads/*")
        fan_out.add_worker(metadata, id="Metadata")

        audit = self._function("AuditFunction", "fanout_audit", table)
        fan_out.add_lambda_subscriber(audit, id="Audit")

        CfnOutput(self, "UploadBucketName", value=uploads.bucket_name)
        CfnOutput(self, "TopicArn", value=fan_out.topic.topic_arn)
        CfnOutput(self, "MediaTableName", value=table.table_name)

    def _function(self, id: str, folder: str, table: dynamodb.ITable) -> ServerlessFunction:
        function = ServerlessFunction(
            self,
            id,
            code=lambda_code(folder),
            service_name=folder.replace("_", "-"),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant(function, "dynamodb:PutItem")
        return function

    @staticmethod
    def _allow_objects(
        function: ServerlessFunction, bucket: s3.IBucket, actions: list[str], key_pattern: str
    ) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(key_pattern)])
        )
        acknowledge(
            function.role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
            f"AwsSolutions-IAM5[Resource::<{Stack.of(bucket).get_logical_id(bucket.node.default_child)}.Arn>/{key_pattern}]",  # type: ignore[arg-type]
            f"Object-level access is granted by key prefix: {key_pattern} of this bucket only.",
        )
