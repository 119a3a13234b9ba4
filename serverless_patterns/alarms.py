"""CloudWatch alarms on the places where data can pile up, and their notification."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns._validation import number


def occurrence_alarm(
    scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str
) -> cloudwatch.Alarm:
    """ALARM on the first occurrence: ``metric`` >= 1 in one period; no data is fine."""
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def dead_letter_alarm(scope: Construct, id: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
    """ALARM as soon as one message waits in ``queue`` (a DLQ or failure destination)."""
    return occurrence_alarm(
        scope,
        id,
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        description=f"Messages in {queue.node.path}: work failed and waits to be handled",
    )


def message_age_alarm(
    scope: Construct, id: str, queue: sqs.IQueue, threshold: Duration
) -> cloudwatch.Alarm:
    """ALARM when the oldest message in ``queue`` is older than ``threshold``: a backlog."""
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_description=(
            f"Oldest message in {queue.node.path} is older than "
            f"{number(threshold.to_seconds())} s: the consumer is not keeping up or is failing"
        ),
        metric=queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=threshold.to_seconds(),
        evaluation_periods=5,
        datapoints_to_alarm=3,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def notify(alarms: Iterable[cloudwatch.Alarm], topic: sns.ITopic | None) -> None:
    """Send ALARM and OK transitions of every alarm to ``topic`` (when one is given)."""
    if topic is None:
        return
    action = cloudwatch_actions.SnsAction(topic)
    for alarm in alarms:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)


def encrypted_alarm_topic(scope: Construct, id: str) -> sns.Topic:
    """An SNS topic for alarm notifications: KMS-encrypted with a rotating key, TLS-only.

    SNS's AWS-managed key cannot be used by CloudWatch, so the topic gets its own key
    (``<id>Key``) whose policy lets CloudWatch encrypt the notifications it publishes.
    """
    key = kms.Key(
        scope,
        f"{id}Key",
        enable_key_rotation=True,
        description="Encrypts alarm notifications published by CloudWatch",
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
        )
    )
    return sns.Topic(scope, id, master_key=key, enforce_ssl=True)
