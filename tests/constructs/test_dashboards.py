"""PatternsDashboard and each construct's widgets, read from the synthesized dashboard body."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kinesis as kinesis
from aws_cdk.assertions import Template

from serverless_patterns import (
    CommandRouter,
    Connector,
    FanOutTopic,
    FilterPipeline,
    KinesisBatchConsumer,
    LegacyApiProxy,
    PatternsDashboard,
    ProbeTarget,
    QueueWorker,
    ScheduledProbe,
    Stage,
)
from tests.support import new_app, user_function


def widgets(stack: cdk.Stack) -> list[dict[str, Any]]:
    """The widgets of the stack's one dashboard, tokens shown as ``<token>``."""
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        body = "".join(part if isinstance(part, str) else "<token>" for part in body["Fn::Join"][1])
    return list(json.loads(body)["widgets"])


def titles(found: list[dict[str, Any]]) -> list[str]:
    return [w["properties"].get("title") or w["properties"].get("markdown") for w in found]


def test_constructs_created_after_the_dashboard_are_on_it(stack: cdk.Stack) -> None:
    dashboard = PatternsDashboard(stack, "Dashboard")
    fan = FanOutTopic(stack, "Uploads")
    fan.add_worker(user_function(stack, "Thumbnail"), id="Thumbnails")
    QueueWorker(stack, "Orders", handler=user_function(stack, "Worker"))
    headers = [t for t in titles(widgets(stack)) if t.startswith("###")]
    assert headers == [
        "### FanOutTopic `TestStack/Uploads`",
        "### QueueWorker `TestStack/Uploads/Thumbnails`",
        "### QueueWorker `TestStack/Orders`",
    ]
    assert [c.node.path for c in dashboard.shown] == [
        "TestStack/Uploads",
        "TestStack/Uploads/Thumbnails",
        "TestStack/Orders",
    ]


def test_a_queue_worker_shows_flow_backlog_dead_letters_function_and_alarms(
    stack: cdk.Stack,
) -> None:
    PatternsDashboard(stack, "Dashboard")
    QueueWorker(stack, "Orders", handler=user_function(stack, "Worker"))
    found = widgets(stack)
    assert titles(found) == [
        "### QueueWorker `TestStack/Orders`",
        "Queue: messages in / processed",
        "Queue: backlog",
        "Queue: dead-lettered",
        "Function: invocations",
        "Function: duration (ms)",
        "Alarms",
    ]
    duration = found[5]["properties"]
    assert duration["annotations"]["horizontal"] == [
        {"label": "Timeout", "value": 10000, "yAxis": "left"}
    ]
    alarms = found[6]["properties"]["alarms"]
    assert len(alarms) == 5
    metrics = {m[1] for w in found[1:4] for m in w["properties"]["metrics"]}
    assert {"NumberOfMessagesSent", "ApproximateAgeOfOldestMessage"} <= metrics


def test_no_row_is_wider_than_the_dashboard(stack: cdk.Stack) -> None:
    PatternsDashboard(stack, "Dashboard")
    clicks = KinesisBatchConsumer(stack, "Clicks", handler=user_function(stack, "Consumer"))
    clicks.add_consumer(user_function(stack, "Archive"))
    found = widgets(stack)
    assert all(w["x"] + w["width"] <= 24 for w in found)
    assert len({(w["x"], w["y"]) for w in found}) == len(found)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda s: KinesisBatchConsumer(
                s, "Clicks", handler=user_function(s, "Consumer")
            ).add_ingest_api(),
            {
                "Stream: records in",
                "Stream: throttled",
                "Consumer: iterator age (ms)",
                "Consumer: failed batches",
                "Ingest API: requests",
                "Ingest API: latency (ms)",
            },
        ),
        (
            lambda s: FilterPipeline(
                s,
                "Orders",
                connector=Connector.STATE_MACHINE,
                stages=[Stage(name="screen", handler=user_function(s, "Screen"))],
            ),
            {
                "Input: backlog",
                "State machine: executions",
                "screen: invocations",
                "Failed items",
                "Rejected: messages in / processed",
            },
        ),
        (
            lambda s: CommandRouter(s, "Router").add_command(
                "send-mail", user_function(s, "Mail"), asynchronous=True
            ),
            {
                "API: requests",
                "Router: invocations",
                "send-mail v1: invocations",
                "send-mail v1: failed",
            },
        ),
        (
            lambda s: LegacyApiProxy(
                s, "Proxy", legacy_base_url="https://legacy.example.com"
            ).add_translated_route("/items/{id}", "GET", legacy_path="/item/{id}"),
            {"API: requests", "API: latency (ms)", "Translator: duration (ms)"},
        ),
        (
            lambda s: ScheduledProbe(s, "Probe", targets=[ProbeTarget(url="https://example.com/")]),
            {"Availability (1 up, 0 down)", "Probe: invocations", "Failed runs"},
        ),
        (
            lambda s: FanOutTopic(s, "Fan").add_lambda_subscriber(
                user_function(s, "Audit"), id="Audit"
            ),
            {"Topic: published / delivered", "Audit: invocations", "Audit: undeliverable"},
        ),
    ],
    ids=["kinesis", "pipeline", "router", "proxy", "probe", "fan-out"],
)
def test_each_construct_shows_its_own_flow(
    stack: cdk.Stack, build: Any, expected: set[str]
) -> None:
    PatternsDashboard(stack, "Dashboard")
    build(stack)
    shown = set(titles(widgets(stack)))
    assert expected <= shown, expected - shown


def test_the_api_latency_graph_marks_the_integration_timeout(stack: cdk.Stack) -> None:
    PatternsDashboard(stack, "Dashboard")
    LegacyApiProxy(stack, "Proxy", legacy_base_url="https://legacy.example.com").add_passthrough(
        "/legacy/{proxy+}", legacy_path="/{proxy+}"
    )
    (latency,) = [w for w in widgets(stack) if w["properties"].get("title") == "API: latency (ms)"]
    assert latency["properties"]["annotations"]["horizontal"][0]["value"] == 29000


def test_source_shows_the_constructs_of_another_stack() -> None:
    app = new_app()
    platform = cdk.Stack(app, "Platform")
    operations = cdk.Stack(app, "Operations")
    QueueWorker(platform, "Orders", handler=user_function(platform, "Worker"))
    PatternsDashboard(operations, "Dashboard", source=app, dashboard_name="all-patterns")
    headers = [t for t in titles(widgets(operations)) if t.startswith("###")]
    assert headers == ["### QueueWorker `Platform/Orders`"]
    Template.from_stack(operations).has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "all-patterns"}
    )
    assembly = app.synth()
    depends_on = {d.id for d in assembly.get_stack_by_name("Operations").dependencies}
    assert "Platform" in depends_on


def test_an_empty_scope_says_so(stack: cdk.Stack) -> None:
    PatternsDashboard(stack, "Dashboard")
    assert titles(widgets(stack)) == ["No serverless-patterns construct under `TestStack`"]


def test_stream_consumer_of_an_existing_stream_is_shown(stack: cdk.Stack) -> None:
    existing = kinesis.Stream.from_stream_arn(
        stack, "Existing", "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    )
    PatternsDashboard(stack, "Dashboard")
    KinesisBatchConsumer(stack, "Clicks", handler=user_function(stack, "Consumer"), stream=existing)
    assert "Consumer: iterator age (ms)" in titles(widgets(stack))


# --- bad input -------------------------------------------------------------------------------


def test_bad_names_and_ranges_are_refused(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError, match=r"^PatternsDashboard at 'TestStack/Dashboard': 2 probl"
    ) as raised:
        PatternsDashboard(stack, "Dashboard", dashboard_name="my dashboard", start="3 hours")
    assert (
        "dashboard_name='my dashboard' is not a CloudWatch dashboard name "
        "(allowed: 1..255 letters, digits, '-' and '_')"
    ) in str(raised.value)
    assert "start='3 hours' is not a relative time range" in str(raised.value)


def test_a_source_that_is_no_construct_is_a_type_error(stack: cdk.Stack) -> None:
    with pytest.raises(TypeError, match=r"^PatternsDashboard at 'TestStack/Dashboard': source"):
        PatternsDashboard(stack, "Dashboard", source="TestStack")  # type: ignore[arg-type]
