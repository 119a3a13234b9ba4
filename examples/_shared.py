"""Pieces the example stacks share: function code, tables, buckets and object grants."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from serverless_patterns import ASSET_EXCLUDES
from serverless_patterns.nag import acknowledge

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"


def lambda_code(name: str) -> lambda_.Code:
    """The asset of ``lambda_src/<name>/``: that function's own code and nothing else."""
    return lambda_.Code.from_asset(str(LAMBDA_SRC / name), exclude=ASSET_EXCLUDES)


def table(
    scope: Construct, id: str, partition_key: str, sort_key: str | None = None
) -> dynamodb.Table:
    """An on-demand table, encrypted, with point-in-time recovery."""
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=(
            dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
            if sort_key
            else None
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )


def access_log_bucket(scope: Construct, id: str = "AccessLogsBucket") -> s3.Bucket:
    """The destination of server access logs: encrypted, private, TLS-only, 90 days."""
    bucket = s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
    )
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        "This is the server access log bucket of the example's buckets; logging it into itself "
        "would log its own log deliveries.",
    )
    return bucket


def private_bucket(
    scope: Construct,
    id: str,
    *,
    access_logs: s3.IBucket,
    access_logs_prefix: str,
    bucket_name: str | None = None,
) -> s3.Bucket:
    """A versioned, encrypted, private, TLS-only bucket that logs access to ``access_logs``."""
    return s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
    )


def allow_objects(
    function: lambda_.Function, bucket: s3.IBucket, actions: list[str], key_pattern: str
) -> None:
    """Grant ``actions`` on the objects of ``bucket`` matching ``key_pattern`` only."""
    function.add_to_role_policy(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(key_pattern)])
    )
    logical_id = Stack.of(bucket).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        function.role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{key_pattern}]",
        f"Object-level access is granted by key prefix: {key_pattern} of this bucket only.",
    )
