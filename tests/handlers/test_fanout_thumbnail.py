"""Tests for the media upload pipeline's thumbnail worker (``lambda_src/fanout_thumbnail/app.py``).

Everything runs in-process against moto, through the real pipeline: the (mocked) bucket sends
its ``ObjectCreated`` notifications under ``uploads/`` to an SNS topic; the worker's queue is
subscribed with raw message delivery and the payload-based filter policy on the key suffixes, and
the SQS events are built from what that queue actually received. A second, unfiltered queue on
the same topic shows what the topic published. The images are real bytes generated here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

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

TABLE_NAME = "fanout-thumbnail-media"
BUCKET = "fanout-thumbnail-uploads"
HANDLER_PATH = LAMBDA_SRC / "fanout_thumbnail" / "app.py"
MODULE_NAME = "fanout_thumbnail_app_under_test"
CONTEXT = FakeLambdaContext("fanout-thumbnail")
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
class AwsEnv:
    app: ModuleType
    table: Any
    s3: Any
    sqs: Any
    queue_url: str
    queue_arn: str
    # Subscribed to the same topic without a filter: everything the topic published.
    control_queue_url: str


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


def stored_items(env: AwsEnv) -> dict[str, dict[str, Any]]:
    return {item["object_key"]: item for item in env.table.scan()["Items"]}


def bucket_keys(env: AwsEnv, prefix: str) -> list[str]:
    listing = env.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [entry["Key"] for entry in listing.get("Contents", [])]


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with mocked_aws("fanout-thumbnail", TABLE_NAME=TABLE_NAME):
        table = create_table(TABLE_NAME, "object_key", "record")
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
            queue_urls[name], queue_arns[name] = create_queue(sqs, name)
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arns[name],
                Attributes={"RawMessageDelivery": "true", **filter_attributes},
            )
        s3 = create_upload_bucket(BUCKET, topic_arn)
        # The s3:TestEvent has no Records: the control queue gets it, the filter drops it.
        assert len(drain(sqs, queue_urls["fanout-control"])) == 1
        assert drain(sqs, queue_urls["fanout-thumbnail"]) == []

        # Loaded inside mock_aws so the boto3 clients it creates at import time are mocked.
        app = load_handler(HANDLER_PATH, MODULE_NAME)

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
    empty_table(aws.table, "object_key", "record")
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

    response = env.app.handler(sqs_event(env, [messages[key]]), CONTEXT)

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

    env.app.handler(sqs_event(env, [messages["uploads/album/cover art.jpeg"]]), CONTEXT)

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

    env.app.handler(sqs_event(env, [messages[key]]), CONTEXT)

    body = env.s3.get_object(Bucket=BUCKET, Key='thumbnails/cats & <dogs> "best".png.svg')["Body"]
    raw = body.read().decode()
    assert '<title>uploads/cats &amp; &lt;dogs&gt; "best".png</title>' in raw
    assert ElementTree.fromstring(raw).findtext(f"{SVG}title") == key


def test_writing_thumbnails_notifies_nothing(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/loop.gif": gif_bytes(640, 480)})

    env.app.handler(sqs_event(env, [messages["uploads/loop.gif"]]), CONTEXT)

    assert bucket_keys(env, "thumbnails/loop") == ["thumbnails/loop.gif.svg"]
    assert drain(env.sqs, env.control_queue_url) == []


def test_object_that_is_not_an_image_fails_only_its_own_record(env: AwsEnv) -> None:
    messages = upload(
        env, {"uploads/fake.png": b"this is not a PNG at all", "uploads/real.png": png_bytes(3, 3)}
    )

    response = env.app.handler(
        sqs_event(env, [messages["uploads/fake.png"], messages["uploads/real.png"]]),
        CONTEXT,
    )

    assert failed_ids(response) == [messages["uploads/fake.png"]["MessageId"]]
    assert set(stored_items(env)) == {"uploads/real.png"}
    assert bucket_keys(env, "thumbnails/fake.png") == []


def test_image_with_unreadable_size_fails_its_record(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/cut.jpg": jpeg_bytes(640, 480)[:20]})

    response = env.app.handler(sqs_event(env, [messages["uploads/cut.jpg"]]), CONTEXT)

    assert failed_ids(response) == [messages["uploads/cut.jpg"]["MessageId"]]
    assert stored_items(env) == {}


def test_missing_object_fails_its_record(env: AwsEnv) -> None:
    messages = upload(env, {"uploads/deleted.png": png_bytes(1, 1)})
    env.s3.delete_object(Bucket=BUCKET, Key="uploads/deleted.png")

    response = env.app.handler(sqs_event(env, [messages["uploads/deleted.png"]]), CONTEXT)

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
