"""The example's filter policies, evaluated as SNS evaluates them (moto's matcher)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.sns.utils import FilterPolicyMatcher


def thumbnail_policy(templates: dict[str, dict[str, Any]]) -> FilterPolicyMatcher:
    subscriptions = [
        resource["Properties"]
        for resource in templates["FanOutExample"]["Resources"].values()
        if resource["Type"] == "AWS::SNS::Subscription" and "FilterPolicy" in resource["Properties"]
    ]
    (policy,) = subscriptions
    return FilterPolicyMatcher(policy["FilterPolicy"], policy["FilterPolicyScope"])


def s3_event(key: str) -> str:
    return json.dumps({"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": key}}}]})


@pytest.mark.parametrize(
    ("key", "thumbnailed"),
    [
        ("uploads/cat.jpg", True),
        ("uploads/IMG_0001.JPG", True),
        ("uploads/Holiday.Jpeg", True),
        ("uploads/diagram.PNG", True),
        ("uploads/anim.gif", True),
        ("uploads/notes.txt", False),
        ("uploads/IMG_0001.JPG.txt", False),
        ("uploads/archive.jpgx", False),
    ],
)
def test_thumbnails_are_made_for_images_whatever_the_case_of_their_extension(
    example_templates: dict[str, dict[str, Any]], key: str, thumbnailed: bool
) -> None:
    assert thumbnail_policy(example_templates).matches({}, s3_event(key)) is thumbnailed
