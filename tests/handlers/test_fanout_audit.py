"""Tests for the media upload pipeline's audit subscriber (``lambda_src/fanout_audit/app.py``).

Everything runs in-process against moto. SNS invokes the real function directly; moto cannot run
a Lambda subscriber in-process, so a queue subscribed WITHOUT raw message delivery stands in as a
tap: each message is published to the (mocked) topic, the SNS envelope the tap receives is
converted into the record shape Lambda gets from SNS, and the audit items land in a (mocked)
DynamoDB table. The S3 notifications are built from objects actually put in a (mocked) bucket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest

from serverless_patterns.testing import events
from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    captured_logs,
    create_queue,
    create_table,
    create_upload_bucket,
    drain,
    empty_table,
    load_handler,
    mocked_aws,
)

TABLE_NAME = "fanout-audit-media"
BUCKET = "fanout-audit-uploads"
SERVICE = "fanout-audit"
HANDLER_PATH = LAMBDA_SRC / "fanout_audit" / "app.py"
MODULE_NAME = "fanout_audit_app_under_test"
EVENT_TIME = "2025-03-04T05:06:07.890Z"
CONTEXT = FakeLambdaContext(SERVICE)


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    s3: Any
    sns: Any
    sqs: Any
    topic_arn: str
    tap_url: str
    subscription_arn: str
    # The envelope of the s3:TestEvent S3 published when the notifications were configured.
    test_event_envelope: dict[str, Any]


def publish(env: AwsEnv, message: str) -> dict[str, Any]:
    """Publish ``message`` to the topic; return the SNS envelope the tap received for it."""
    message_id = env.sns.publish(TopicArn=env.topic_arn, Message=message)["MessageId"]
    (received,) = drain(env.sqs, env.tap_url, with_attributes=False)
    envelope: dict[str, Any] = json.loads(received["Body"])
    assert envelope["MessageId"] == message_id
    return envelope


def sns_event(env: AwsEnv, envelope: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [events.sns_record_from_envelope(envelope, env.subscription_arn)]}


def s3_notification(env: AwsEnv, *keys: str) -> str:
    """The S3 ObjectCreated notification S3 would publish for objects already in the bucket."""
    records = []
    for key in keys:
        head = env.s3.head_object(Bucket=BUCKET, Key=key)
        records.append(
            events.s3_record(
                BUCKET,
                key,
                size=head["ContentLength"],
                etag=head["ETag"].strip('"'),
                event_time=EVENT_TIME,
                configuration_id="media-uploads",
            )
        )
    return json.dumps({"Records": records})


def stored_items(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["object_key"]: item for item in env.table.scan()["Items"]}


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws(SERVICE, TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "object_key", "record")
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="media-uploads")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        tap_url, tap_arn = create_queue(sqs, "fanout-audit-tap")
        subscription_arn = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=tap_arn)[
            "SubscriptionArn"
        ]
        s3 = create_upload_bucket(BUCKET, topic_arn)
        (test_event,) = drain(sqs, tap_url, with_attributes=False)
        # The tests publish the notifications themselves (S3 sends one record per message).
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={})

        # Loaded inside mock_aws so the boto3 resource it creates at import time is mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)

        yield AwsEnv(
            app=app,
            table=table,
            s3=s3,
            sns=sns,
            sqs=sqs,
            topic_arn=topic_arn,
            tap_url=tap_url,
            subscription_arn=subscription_arn,
            test_event_envelope=json.loads(test_event["Body"]),
        )


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty table and an empty tap for each test."""
    empty_table(aws.table, "object_key", "record")
    assert drain(aws.sqs, aws.tap_url, with_attributes=False) == []
    return aws


@pytest.fixture
def error_logs() -> Iterator[list[logging.LogRecord]]:
    """The ERROR records the handler's Powertools logger emits during the test."""
    with captured_logs(SERVICE) as records:
        yield records


def test_two_s3_records_become_two_exact_audit_items(env: AwsEnv) -> None:
    env.s3.put_object(Bucket=BUCKET, Key="uploads/one.png", Body=b"first")
    env.s3.put_object(Bucket=BUCKET, Key="uploads/two words.jpg", Body=b"second upload")
    envelope = publish(env, s3_notification(env, "uploads/one.png", "uploads/two words.jpg"))
    message_id = envelope["MessageId"]

    result = env.app.handler(sns_event(env, envelope), CONTEXT)

    assert result is None
    assert stored_items(env) == {
        "uploads/one.png": {
            "object_key": "uploads/one.png",
            "record": f"audit#{EVENT_TIME}#{message_id}",
            "event_name": "ObjectCreated:Put",
            "bucket": BUCKET,
            "size": Decimal(5),
            "sns_message_id": message_id,
            "topic_arn": env.topic_arn,
        },
        "uploads/two words.jpg": {
            "object_key": "uploads/two words.jpg",
            "record": f"audit#{EVENT_TIME}#{message_id}",
            "event_name": "ObjectCreated:Put",
            "bucket": BUCKET,
            "size": Decimal(13),
            "sns_message_id": message_id,
            "topic_arn": env.topic_arn,
        },
    }


def test_redelivered_message_rewrites_the_same_item(env: AwsEnv) -> None:
    env.s3.put_object(Bucket=BUCKET, Key="uploads/again.gif", Body=b"gif")
    envelope = publish(env, s3_notification(env, "uploads/again.gif"))

    env.app.handler(sns_event(env, envelope), CONTEXT)
    env.app.handler(sns_event(env, envelope), CONTEXT)

    assert env.table.scan()["Count"] == 1


def test_s3_test_event_stores_nothing(env: AwsEnv) -> None:
    envelope = env.test_event_envelope

    env.app.handler(sns_event(env, envelope), CONTEXT)

    assert json.loads(envelope["Message"])["Event"] == "s3:TestEvent"
    assert stored_items(env) == {}


def test_invalid_message_json_raises(env: AwsEnv) -> None:
    envelope = publish(env, '{"Records": [')

    with pytest.raises(env.app.InvalidNotificationError, match="message is not JSON"):
        env.app.handler(sns_event(env, envelope), CONTEXT)
    assert stored_items(env) == {}


def test_invalid_message_json_is_logged_as_an_error_with_the_message_id(
    env: AwsEnv, error_logs: list[logging.LogRecord]
) -> None:
    envelope = publish(env, "not json at all")

    with pytest.raises(env.app.InvalidNotificationError):
        env.app.handler(sns_event(env, envelope), CONTEXT)

    errors = [record for record in error_logs if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].__dict__["sns_message_id"] == envelope["MessageId"]
    assert errors[0].__dict__["topic_arn"] == env.topic_arn


def test_json_that_is_not_an_s3_notification_raises(env: AwsEnv) -> None:
    envelope = publish(env, json.dumps({"Records": [{"s3": {"bucket": {"name": BUCKET}}}]}))

    with pytest.raises(env.app.InvalidNotificationError, match="every record needs"):
        env.app.handler(sns_event(env, envelope), CONTEXT)
    assert stored_items(env) == {}
