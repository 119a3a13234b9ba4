"""FanOutTopic example: a media upload pipeline.

Objects uploaded under ``uploads/`` publish ObjectCreated events to a FanOutTopic; three
consumers react in parallel: a thumbnail worker (images only, by a payload filter on the key's
suffix), a metadata worker (every object) and an audit function that SNS invokes directly.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from examples._shared import access_log_bucket, allow_objects, lambda_code, private_bucket, table
from serverless_patterns import FanOutTopic, PatternsDashboard, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic


def case_variants(suffix: str) -> list[str]:
    """``.jpg``, ``.JPG`` and ``.Jpg``: SNS matches suffixes case-sensitively, and cameras write
    ``IMG_0001.JPG``. (Every mix of cases would be 40 values for these four suffixes, which at
    the key's nesting depth of 4 is more than the 150 combinations SNS allows.)"""
    return [suffix.lower(), suffix.upper(), "." + suffix[1:].capitalize()]


IMAGE_SUFFIXES = [
    variant for suffix in (".png", ".jpg", ".jpeg", ".gif") for variant in case_variants(suffix)
]


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


def stack_suffix(stack: Stack) -> str:
    """The first 8 hex digits of the stack's UUID (``arn:...:stack/<name>/<uuid>``): unique
    for each creation of the stack."""
    uuid = Fn.select(2, Fn.split("/", stack.stack_id))
    return Fn.select(0, Fn.split("-", uuid))


class FanOutExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        alarm_topic = encrypted_alarm_topic(self, "AlarmTopic")

        access_logs = access_log_bucket(self)
        uploads = private_bucket(
            self,
            "UploadBucket",
            access_logs=access_logs,
            access_logs_prefix="upload-bucket/",
            # An explicit name lets the topic policy name this bucket's ARN before it exists,
            # so its notifications are a property of the bucket (no custom resource). The
            # stack's own id in it makes it new for every deployment of the stack: a deploy
            # after a destroy never collides with a bucket that is still being deleted.
            bucket_name=f"sp-media-{Aws.ACCOUNT_ID}-{Aws.REGION}-{stack_suffix(self)}",
        )
        media = table(self, "MediaTable", "object_key", "record")

        fan_out = FanOutTopic(self, "Uploads", alarm_topic=alarm_topic)
        fan_out.add_s3_source(uploads, s3.EventType.OBJECT_CREATED, prefix="uploads/")

        thumbnails = self._function("ThumbnailFunction", "fanout_thumbnail", media)
        allow_objects(thumbnails, uploads, ["s3:GetObject"], "uploads/*")
        allow_objects(thumbnails, uploads, ["s3:PutObject"], "thumbnails/*")
        fan_out.add_worker(
            thumbnails,
            id="Thumbnails",
            filter_policy=s3_key_filter(
                sns.SubscriptionFilter.string_filter(match_suffixes=IMAGE_SUFFIXES)
            ),
            filter_policy_scope="MessageBody",
        )

        metadata = self._function("MetadataFunction", "fanout_metadata", media)
        allow_objects(metadata, uploads, ["s3:GetObject"], "uploads/*")
        fan_out.add_worker(metadata, id="Metadata")

        audit = self._function("AuditFunction", "fanout_audit", media)
        fan_out.add_lambda_subscriber(audit, id="Audit")

        CfnOutput(self, "UploadBucketName", value=uploads.bucket_name)
        CfnOutput(self, "TopicArn", value=fan_out.topic.topic_arn)
        CfnOutput(self, "MediaTableName", value=media.table_name)

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
