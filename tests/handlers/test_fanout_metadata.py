"""Tests for the media upload pipeline's metadata consumer (``lambda_src/fanout_metadata/app.py``).

Everything runs in-process against moto, through the real pipeline: the (mocked) bucket sends
its ``ObjectCreated`` notifications under ``uploads/`` to an SNS topic, the worker's queue is
subscribed with raw message delivery, and the SQS events are built from what that queue actually
received. The images are real bytes generated here (a PNG with zlib and struct, a JPEG header
walked to its SOF0 segment, a GIF header).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from tests.handlers.support import (
    LAMBDA_SRC,
    REGION,
    FakeLambdaContext,
    create_queue,
    create_table,
    create_upload_bucket,
    drain,
    empty_table,
    failed_ids,
    gif_bytes,
    jpeg_bytes,
    load_handler,
    mocked_aws,
    notified_key,
    png_bytes,
    to_lambda_sqs_record,
)

TABLE_NAME = "fanout-metadata-media"
BUCKET = "fanout-metadata-uploads"
HANDLER_PATH = LAMBDA_SRC / "fanout_metadata" / "app.py"
MODULE_NAME = "fanout_metadata_app_under_test"
CONTEXT = FakeLambdaContext("fanout-metadata")
# The JPEG headers made here have a comment (and a fill byte) to walk past before SOF0.
JPEG_COMMENT = b"made by the fanout metadata tests"


@dataclass(frozen=True)
class AwsEnv:
    app: ModuleType
    table: Any
    s3: Any
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    queue_arn: str
    # What the queue received when the bucket's notifications were configured.
    setup_messages: list[dict[str, Any]]


def webp_vp8x_bytes(width: int, height: int) -> bytes:
    payload = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
    payload += (height - 1).to_bytes(3, "little")
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(payload))
        + b"WEBP"
        + b"VP8X"
        + b"\x0a\0\0\0"
        + payload
    )


def webp_vp8_bytes(width: int, height: int) -> bytes:
    payload = b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(payload))
        + b"WEBP"
        + b"VP8 "
        + b"\x0a\0\0\0"
        + payload
    )


def webp_vp8l_bytes(width: int, height: int) -> bytes:
    payload = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(payload))
        + b"WEBP"
        + b"VP8L"
        + b"\x05\0\0\0"
        + payload
    )


def upload(env: AwsEnv, objects: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Put ``objects`` in the bucket; return the queue's notification message for each key."""
    for key, data in objects.items():
        env.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    messages = {notified_key(message): message for message in drain(env.sqs, env.queue_url)}
    assert set(messages) == set(objects)
    return messages


def sqs_event(env: AwsEnv, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [to_lambda_sqs_record(message, env.queue_arn) for message in messages]}


def event_time(message: dict[str, Any]) -> str:
    time: str = json.loads(message["Body"])["Records"][0]["eventTime"]
    return time


def stored_items(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["object_key"]: item for item in env.table.scan()["Items"]}


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws("fanout-metadata", TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "object_key", "record")
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="media-uploads")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url, queue_arn = create_queue(sqs, "fanout-metadata")
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        s3 = create_upload_bucket(BUCKET, topic_arn)
        setup_messages = drain(sqs, queue_url)

        # Loaded inside mock_aws so the boto3 clients it creates at import time are mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)

        yield AwsEnv(
            app=app,
            table=table,
            s3=s3,
            sns=sns,
            sqs=sqs,
            topic_arn=topic_arn,
            queue_url=queue_url,
            queue_arn=queue_arn,
            setup_messages=setup_messages,
        )


@pytest.fixture
def env(aws: AwsEnv) -> AwsEnv:
    """The module-wide AWS mocks, with an empty table and an empty queue for each test."""
    empty_table(aws.table, "object_key", "record")
    assert drain(aws.sqs, aws.queue_url) == []
    return aws


def test_all_good_batch_stores_exact_metadata_for_png_jpeg_and_gif(env: AwsEnv) -> None:
    png, jpeg, gif = png_bytes(3, 2), jpeg_bytes(640, 480, comment=JPEG_COMMENT), gif_bytes(16, 9)
    messages = upload(
        env, {"uploads/holiday photo.png": png, "uploads/shot.jpg": jpeg, "uploads/anim.gif": gif}
    )
    keys = ["uploads/holiday photo.png", "uploads/shot.jpg", "uploads/anim.gif"]

    response = env.app.handler(sqs_event(env, [messages[key] for key in keys]), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert stored_items(env) == {
        "uploads/holiday photo.png": {
            "object_key": "uploads/holiday photo.png",
            "record": "metadata",
            "bucket": BUCKET,
            "size": Decimal(len(png)),
            "etag": hashlib.md5(png).hexdigest(),
            "media_type": "image/png",
            "width": Decimal(3),
            "height": Decimal(2),
            "event_time": event_time(messages["uploads/holiday photo.png"]),
        },
        "uploads/shot.jpg": {
            "object_key": "uploads/shot.jpg",
            "record": "metadata",
            "bucket": BUCKET,
            "size": Decimal(len(jpeg)),
            "etag": hashlib.md5(jpeg).hexdigest(),
            "media_type": "image/jpeg",
            "width": Decimal(640),
            "height": Decimal(480),
            "event_time": event_time(messages["uploads/shot.jpg"]),
        },
        "uploads/anim.gif": {
            "object_key": "uploads/anim.gif",
            "record": "metadata",
            "bucket": BUCKET,
            "size": Decimal(len(gif)),
            "etag": hashlib.md5(gif).hexdigest(),
            "media_type": "image/gif",
            "width": Decimal(16),
            "height": Decimal(9),
            "event_time": event_time(messages["uploads/anim.gif"]),
        },
    }


def test_notified_key_is_url_decoded_before_use(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/a b+c.png": png_bytes(1, 1)})
    body = json.loads(messages["uploads/a b+c.png"]["Body"])

    response = env.app.handler(sqs_event(env, [messages["uploads/a b+c.png"]]), CONTEXT)

    # moto encodes the key with quote_plus (even the '/'); the handler must decode it.
    assert body["Records"][0]["s3"]["object"]["key"] == quote_plus("uploads/a b+c.png")
    assert response == {"batchItemFailures": []}
    assert set(stored_items(env)) == {"uploads/a b+c.png"}


def test_key_encoded_as_s3_does_is_decoded_before_use(env: AwsEnv) -> None:
    env.s3.put_object(Bucket=BUCKET, Key="uploads/x y+z.gif", Body=gif_bytes(2, 3))
    (notified,) = drain(env.sqs, env.queue_url)
    body = json.loads(notified["Body"])
    # S3 itself leaves '/' as it is and encodes the rest form-style.
    body["Records"][0]["s3"]["object"]["key"] = "uploads/x+y%2Bz.gif"
    env.sns.publish(TopicArn=env.topic_arn, Message=json.dumps(body))
    (republished,) = drain(env.sqs, env.queue_url)

    response = env.app.handler(sqs_event(env, [republished]), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert set(stored_items(env)) == {"uploads/x y+z.gif"}


def test_pdf_is_stored_without_dimensions(env: AwsEnv) -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    messages = upload(env, {"uploads/report.pdf": pdf})

    env.app.handler(sqs_event(env, [messages["uploads/report.pdf"]]), CONTEXT)

    assert stored_items(env)["uploads/report.pdf"] == {
        "object_key": "uploads/report.pdf",
        "record": "metadata",
        "bucket": BUCKET,
        "size": Decimal(len(pdf)),
        "etag": hashlib.md5(pdf).hexdigest(),
        "media_type": "application/pdf",
        "event_time": event_time(messages["uploads/report.pdf"]),
    }


def test_empty_object_is_stored_as_octet_stream_of_size_zero(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/empty.bin": b""})

    response = env.app.handler(sqs_event(env, [messages["uploads/empty.bin"]]), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert stored_items(env)["uploads/empty.bin"]["size"] == Decimal(0)
    assert stored_items(env)["uploads/empty.bin"]["media_type"] == "application/octet-stream"


def test_large_object_is_inspected_from_its_first_64_kib(env: AwsEnv) -> None:
    large = png_bytes(7, 5) + bytes(200 * 1024)
    messages = upload(env, {"uploads/large.png": large})

    env.app.handler(sqs_event(env, [messages["uploads/large.png"]]), CONTEXT)

    item = stored_items(env)["uploads/large.png"]
    assert (item["size"], item["width"], item["height"]) == (Decimal(len(large)), 7, 5)


def test_missing_object_fails_only_its_own_record(env: AwsEnv) -> None:
    messages = upload(
        env, {"uploads/kept.png": png_bytes(2, 2), "uploads/gone.png": png_bytes(4, 4)}
    )
    env.s3.delete_object(Bucket=BUCKET, Key="uploads/gone.png")
    batch = [messages["uploads/gone.png"], messages["uploads/kept.png"]]

    response = env.app.handler(sqs_event(env, batch), CONTEXT)

    assert failed_ids(response) == [messages["uploads/gone.png"]["MessageId"]]
    assert set(stored_items(env)) == {"uploads/kept.png"}


def test_malformed_body_fails_only_its_own_record(env: AwsEnv) -> None:
    env.sns.publish(TopicArn=env.topic_arn, Message='{"Records": [')
    (malformed,) = drain(env.sqs, env.queue_url)
    messages = upload(env, {"uploads/fine.gif": gif_bytes(1, 1)})

    response = env.app.handler(sqs_event(env, [messages["uploads/fine.gif"], malformed]), CONTEXT)

    assert malformed["Body"] == '{"Records": ['
    assert failed_ids(response) == [malformed["MessageId"]]
    assert set(stored_items(env)) == {"uploads/fine.gif"}


def test_notification_without_records_fails_its_record(env: AwsEnv) -> None:
    env.sns.publish(TopicArn=env.topic_arn, Message='{"Records": []}')
    (empty,) = drain(env.sqs, env.queue_url)

    response = env.app.handler(sqs_event(env, [empty]), CONTEXT)

    assert failed_ids(response) == [empty["MessageId"]]
    assert stored_items(env) == {}


def test_s3_test_event_is_a_success_that_stores_nothing(env: AwsEnv) -> None:
    (test_event,) = env.setup_messages

    response = env.app.handler(sqs_event(env, [test_event]), CONTEXT)

    assert json.loads(test_event["Body"])["Event"] == "s3:TestEvent"
    assert response == {"batchItemFailures": []}
    assert stored_items(env) == {}


def test_uploads_outside_the_prefix_are_not_notified(env: AwsEnv) -> None:
    env.s3.put_object(Bucket=BUCKET, Key="elsewhere/photo.png", Body=png_bytes(1, 1))

    assert drain(env.sqs, env.queue_url) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png_bytes(300, 200), {"media_type": "image/png", "width": 300, "height": 200}),
        (
            jpeg_bytes(4032, 3024, comment=JPEG_COMMENT),
            {"media_type": "image/jpeg", "width": 4032, "height": 3024},
        ),
        (gif_bytes(65535, 1), {"media_type": "image/gif", "width": 65535, "height": 1}),
        (webp_vp8x_bytes(5000, 3), {"media_type": "image/webp", "width": 5000, "height": 3}),
        (webp_vp8_bytes(320, 240), {"media_type": "image/webp", "width": 320, "height": 240}),
        (webp_vp8l_bytes(16384, 7), {"media_type": "image/webp", "width": 16384, "height": 7}),
        (b"%PDF-1.4\n", {"media_type": "application/pdf"}),
        (b"hello, world\n", {"media_type": "application/octet-stream"}),
    ],
    ids=["png", "jpeg", "gif", "webp-vp8x", "webp-vp8", "webp-vp8l", "pdf", "text"],
)
def test_inspect_header_reads_type_and_size(
    aws: AwsEnv, data: bytes, expected: dict[str, Any]
) -> None:
    assert aws.app.inspect_header(data) == expected


def test_inspect_header_finds_jpeg_sof2_after_exif_segment(aws: AwsEnv) -> None:
    exif = b"Exif\x00\x00" + bytes(5000)
    sof2 = struct.pack(">BHHB", 8, 600, 800, 1) + b"\x01\x11\x00"
    data = (
        b"\xff\xd8\xff\xe1"
        + struct.pack(">H", len(exif) + 2)
        + exif
        + b"\xff\xc4\x00\x02"  # an empty DHT segment: in the SOFn range, but no frame size
        + b"\xff\xc2"
        + struct.pack(">H", len(sof2) + 2)
        + sof2
    )

    assert aws.app.inspect_header(data) == {"media_type": "image/jpeg", "width": 800, "height": 600}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", {"media_type": "application/octet-stream"}),
        (b"\x89PN", {"media_type": "application/octet-stream"}),
        (b"\xff\xd8", {"media_type": "application/octet-stream"}),
        (b"RIFF\x00\x00\x00\x00WEB", {"media_type": "application/octet-stream"}),
        (bytes(range(256)) * 4, {"media_type": "application/octet-stream"}),
        (png_bytes(300, 200)[:20], {"media_type": "image/png"}),
        (png_bytes(300, 200)[:8] + b"\x00\x00\x00\x0dJUNK" + bytes(8), {"media_type": "image/png"}),
        (jpeg_bytes(640, 480, comment=JPEG_COMMENT)[:-14], {"media_type": "image/jpeg"}),
        (b"\xff\xd8\xff\xe0\x00\x01garbage", {"media_type": "image/jpeg"}),
        (b"\xff\xd8\xff\xe0\xff\xff" + bytes(10), {"media_type": "image/jpeg"}),
        (b"\xff\xd8\xff\xda\x00\x08", {"media_type": "image/jpeg"}),
        (jpeg_bytes(0, 480, comment=JPEG_COMMENT), {"media_type": "image/jpeg"}),
        (gif_bytes(16, 9)[:8], {"media_type": "image/gif"}),
        (webp_vp8x_bytes(10, 10)[:25], {"media_type": "image/webp"}),
        (
            webp_vp8_bytes(10, 10).replace(b"\x9d\x01\x2a", b"\x00\x00\x00"),
            {"media_type": "image/webp"},
        ),
        (webp_vp8l_bytes(10, 10)[:22], {"media_type": "image/webp"}),
    ],
    ids=[
        "empty",
        "png-signature-cut",
        "jpeg-soi-only",
        "riff-cut",
        "garbage",
        "png-ihdr-cut",
        "png-without-ihdr",
        "jpeg-sof-cut",
        "jpeg-bad-segment-length",
        "jpeg-segment-runs-past-end",
        "jpeg-sos-before-sof",
        "jpeg-zero-width",
        "gif-screen-descriptor-cut",
        "webp-vp8x-cut",
        "webp-vp8-bad-start-code",
        "webp-vp8l-cut",
    ],
)
def test_inspect_header_never_raises_on_truncated_or_garbage_input(
    aws: AwsEnv, data: bytes, expected: dict[str, Any]
) -> None:
    assert aws.app.inspect_header(data) == expected
