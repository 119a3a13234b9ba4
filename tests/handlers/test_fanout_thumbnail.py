"""Tests for the media upload pipeline's thumbnail worker (``lambda_src/fanout_thumbnail/app.py``).

Everything runs in-process against moto, through the real pipeline: the (mocked) bucket sends
its ``ObjectCreated`` notifications under ``uploads/`` to an SNS topic; the worker's queue is
subscribed with raw message delivery and the payload-based filter policy on the key suffixes, and
the SQS events are built from what that queue actually received. A second, unfiltered queue on
the same topic shows what the topic published. The images are real bytes generated here.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus
from xml.etree import ElementTree

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
TABLE_NAME = "fanout-thumbnail-media"
BUCKET = "fanout-thumbnail-uploads"
HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda_src" / "fanout_thumbnail" / "app.py"
MODULE_NAME = "fanout_thumbnail_app_under_test"
SVG = "{http://www.w3.org/2000/svg}"
IMAGE_SUFFIX_FILTER = {
    "Records": {
        "s3": {
            "object": {
                "key": [
                    {"suffix": ".png"},
                    {"suffix": ".jpg"},
                    {"suffix": ".jpeg"},
                    {"suffix": ".gif"},
                ]
            }
        }
    }
}


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' ``Logger.inject_lambda_context`` reads from the context."""

    function_name: str = "fanout-thumbnail"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:fanout-thumbnail"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    s3: Any
    sqs: Any
    queue_url: str
    queue_arn: str
    # Subscribed to the same topic without a filter: everything the topic published.
    control_queue_url: str


def png_bytes(width: int, height: int) -> bytes:
    """A complete, valid 8-bit RGB PNG (all black)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    scanlines = (b"\x00" + b"\x00\x00\x00" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int, height: int) -> bytes:
    """A JPEG header: SOI, a JFIF APP0, SOF0 (3 components), then EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (
        b"\xff\xd8\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xc0"
        + struct.pack(">H", len(sof0) + 2)
        + sof0
        + b"\xff\xd9"
    )


def gif_bytes(width: int, height: int) -> bytes:
    """A GIF89a header: signature, logical screen descriptor, trailer."""
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b";"


def to_lambda_sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """Convert one message from SQS ``ReceiveMessage`` into the record shape Lambda delivers."""
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive (and delete, as Lambda's poller does) everything the queue holds, in order."""
    received: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        received.extend(messages)
    return received


def notified_key(message: dict[str, Any]) -> str:
    return unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])


def upload(env: AwsEnv, objects: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Put ``objects`` in the bucket; return the worker queue's message for each key."""
    for key, data in objects.items():
        env.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    drain(env.sqs, env.control_queue_url)
    messages = {notified_key(message): message for message in drain(env.sqs, env.queue_url)}
    assert set(messages) == set(objects)
    return messages


def sqs_event(env: AwsEnv, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [to_lambda_sqs_record(message, env.queue_arn) for message in messages]}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def stored_items(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["object_key"]: item for item in env.table.scan()["Items"]}


def bucket_keys(env: AwsEnv, prefix: str) -> list[str]:
    listing = env.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [entry["Key"] for entry in listing.get("Contents", [])]


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("TABLE_NAME", TABLE_NAME)
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        mp.setenv("POWERTOOLS_SERVICE_NAME", "fanout-thumbnail")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessPatternsTests")
        with mock_aws():
            dynamodb = boto3.resource("dynamodb", region_name=REGION)
            table = dynamodb.create_table(
                TableName=TABLE_NAME,
                KeySchema=[
                    {"AttributeName": "object_key", "KeyType": "HASH"},
                    {"AttributeName": "record", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "object_key", "AttributeType": "S"},
                    {"AttributeName": "record", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            sns = boto3.client("sns", region_name=REGION)
            topic_arn = sns.create_topic(Name="media-uploads")["TopicArn"]
            sqs = boto3.client("sqs", region_name=REGION)
            queue_urls: dict[str, str] = {}
            queue_arns: dict[str, str] = {}
            for name, filter_attributes in [
                (
                    "fanout-thumbnail",
                    {
                        "FilterPolicy": json.dumps(IMAGE_SUFFIX_FILTER),
                        "FilterPolicyScope": "MessageBody",
                    },
                ),
                ("fanout-control", {}),
            ]:
                queue_urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
                queue_arns[name] = sqs.get_queue_attributes(
                    QueueUrl=queue_urls[name], AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
                sns.subscribe(
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=queue_arns[name],
                    Attributes={"RawMessageDelivery": "true", **filter_attributes},
                )
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            s3.put_bucket_notification_configuration(
                Bucket=BUCKET,
                NotificationConfiguration={
                    "TopicConfigurations": [
                        {
                            "TopicArn": topic_arn,
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {
                                "Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}
                            },
                        }
                    ]
                },
            )
            # The s3:TestEvent has no Records: the control queue gets it, the filter drops it.
            assert len(drain(sqs, queue_urls["fanout-control"])) == 1
            assert drain(sqs, queue_urls["fanout-thumbnail"]) == []

            # Loaded inside mock_aws so the boto3 clients it creates at import time are mocked.
            spec = importlib.util.spec_from_file_location(MODULE_NAME, HANDLER_PATH)
            assert spec is not None
            assert spec.loader is not None
            app = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(app)

            yield AwsEnv(
                app=app,
                table=table,
                s3=s3,
                sqs=sqs,
                queue_url=queue_urls["fanout-thumbnail"],
                queue_arn=queue_arns["fanout-thumbnail"],
                control_queue_url=queue_urls["fanout-control"],
            )


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty table and empty queues for each test."""
    for item in aws.table.scan()["Items"]:
        aws.table.delete_item(Key={"object_key": item["object_key"], "record": item["record"]})
    assert drain(aws.sqs, aws.queue_url) == []
    assert drain(aws.sqs, aws.control_queue_url) == []
    return aws


def test_suffix_filter_delivers_the_png_upload_but_not_the_txt(env: AwsEnv) -> None:
    env.s3.put_object(Bucket=BUCKET, Key="uploads/readme.txt", Body=b"just text")
    env.s3.put_object(Bucket=BUCKET, Key="uploads/picture.png", Body=png_bytes(2, 2))

    delivered = [notified_key(message) for message in drain(env.sqs, env.queue_url)]
    published = [notified_key(message) for message in drain(env.sqs, env.control_queue_url)]

    assert delivered == ["uploads/picture.png"]
    assert published == ["uploads/readme.txt", "uploads/picture.png"]


@pytest.mark.parametrize(
    ("key", "data", "expected_size", "label"),
    [
        ("uploads/wide.png", png_bytes(1000, 500), (128, 64), "1000x500"),
        ("uploads/small.jpg", jpeg_bytes(50, 40), (50, 40), "50x40"),
        ("uploads/tall.gif", gif_bytes(1, 1000), (1, 128), "1x1000"),
    ],
    ids=["png-1000x500", "jpeg-50x40", "gif-1x1000"],
)
def test_svg_thumbnail_is_written_with_the_fitted_size(
    env: AwsEnv, key: str, data: bytes, expected_size: tuple[int, int], label: str
) -> None:
    messages = upload(env, {key: data})
    thumbnail_key = "thumbnails/" + key.removeprefix("uploads/") + ".svg"

    response = env.app.handler(sqs_event(env, [messages[key]]), FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    written = env.s3.get_object(Bucket=BUCKET, Key=thumbnail_key)
    assert written["ContentType"] == "image/svg+xml"
    svg = ElementTree.fromstring(written["Body"].read())
    width, height = expected_size
    assert svg.tag == f"{SVG}svg"
    assert svg.attrib == {
        "width": str(width),
        "height": str(height),
        "viewBox": f"0 0 {width} {height}",
    }
    assert svg.find(f"{SVG}rect") is not None
    assert svg.findtext(f"{SVG}text") == label


def test_thumbnail_item_is_stored(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/album/cover art.jpeg": jpeg_bytes(300, 200)})

    env.app.handler(sqs_event(env, [messages["uploads/album/cover art.jpeg"]]), FakeLambdaContext())

    assert stored_items(env) == {
        "uploads/album/cover art.jpeg": {
            "object_key": "uploads/album/cover art.jpeg",
            "record": "thumbnail",
            "thumbnail_key": "thumbnails/album/cover art.jpeg.svg",
            "width": Decimal(128),
            "height": Decimal(85),
        }
    }


def test_svg_title_is_the_xml_escaped_original_key(env: AwsEnv) -> None:
    key = 'uploads/cats & <dogs> "best".png'
    messages = upload(env, {key: png_bytes(4, 4)})

    env.app.handler(sqs_event(env, [messages[key]]), FakeLambdaContext())

    body = env.s3.get_object(Bucket=BUCKET, Key='thumbnails/cats & <dogs> "best".png.svg')["Body"]
    raw = body.read().decode()
    assert '<title>uploads/cats &amp; &lt;dogs&gt; "best".png</title>' in raw
    assert ElementTree.fromstring(raw).findtext(f"{SVG}title") == key


def test_writing_thumbnails_notifies_nothing(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/loop.gif": gif_bytes(640, 480)})

    env.app.handler(sqs_event(env, [messages["uploads/loop.gif"]]), FakeLambdaContext())

    assert bucket_keys(env, "thumbnails/loop") == ["thumbnails/loop.gif.svg"]
    assert drain(env.sqs, env.control_queue_url) == []


def test_object_that_is_not_an_image_fails_only_its_own_record(env: AwsEnv) -> None:
    messages = upload(
        env, {"uploads/fake.png": b"this is not a PNG at all", "uploads/real.png": png_bytes(3, 3)}
    )

    response = env.app.handler(
        sqs_event(env, [messages["uploads/fake.png"], messages["uploads/real.png"]]),
        FakeLambdaContext(),
    )

    assert failed_ids(response) == [messages["uploads/fake.png"]["MessageId"]]
    assert set(stored_items(env)) == {"uploads/real.png"}
    assert bucket_keys(env, "thumbnails/fake.png") == []


def test_image_with_unreadable_size_fails_its_record(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/cut.jpg": jpeg_bytes(640, 480)[:20]})

    response = env.app.handler(sqs_event(env, [messages["uploads/cut.jpg"]]), FakeLambdaContext())

    assert failed_ids(response) == [messages["uploads/cut.jpg"]["MessageId"]]
    assert stored_items(env) == {}


def test_missing_object_fails_its_record(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/deleted.png": png_bytes(1, 1)})
    env.s3.delete_object(Bucket=BUCKET, Key="uploads/deleted.png")

    response = env.app.handler(
        sqs_event(env, [messages["uploads/deleted.png"]]), FakeLambdaContext()
    )

    assert failed_ids(response) == [messages["uploads/deleted.png"]["MessageId"]]
    assert stored_items(env) == {}


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1000, 500), (128, 64)),
        ((50, 40), (50, 40)),
        ((1, 1000), (1, 128)),
        ((1000, 1), (128, 1)),
        ((1, 1), (1, 1)),
        ((128, 128), (128, 128)),
        ((128, 1), (128, 1)),
        ((129, 129), (128, 128)),
        ((129, 128), (128, 127)),
        ((300, 200), (128, 85)),
        ((256, 3), (128, 2)),
        ((3, 1000), (1, 128)),
        ((65535, 65535), (128, 128)),
    ],
)
def test_fit_within_keeps_the_aspect_ratio_without_upscaling(
    aws: AwsEnv, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert aws.app.fit_within(*size) == expected


def test_fit_within_honours_a_custom_box(aws: AwsEnv) -> None:
    assert aws.app.fit_within(400, 200, box=100) == (100, 50)


@pytest.mark.parametrize(("width", "height", "box"), [(0, 10, 128), (10, -1, 128), (10, 10, 0)])
def test_fit_within_rejects_non_positive_sizes(
    aws: AwsEnv, width: int, height: int, box: int
) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        aws.app.fit_within(width, height, box=box)


def test_render_svg_is_exact(aws: AwsEnv) -> None:
    assert aws.app.render_svg(128, 64, 1000, 500, title="uploads/a&b.png") == (
        '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="64" viewBox="0 0 128 64">'
        "<title>uploads/a&amp;b.png</title>"
        '<rect width="128" height="64" fill="#e5e7eb" stroke="#9ca3af"/>'
        '<text x="64" y="32" font-family="sans-serif" font-size="21" text-anchor="middle"'
        ' dominant-baseline="middle" fill="#374151">1000x500</text>'
        "</svg>"
    )
