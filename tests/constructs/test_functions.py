"""ServerlessFunction and the Powertools layer: the defaults every function gets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from serverless_patterns import ServerlessFunction, latest_python_runtime, powertools_layer_for
from serverless_patterns import functions as functions_module

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def test_runtime_is_the_newest_python_that_cdk_offers() -> None:
    offered = [
        int(m.group(1))
        for name in dir(lambda_.Runtime)
        if (m := re.fullmatch(r"PYTHON_3_(\d+)", name))
    ]
    assert latest_python_runtime().name == f"python3.{max(offered)}"


def test_function_defaults(stack: cdk.Stack) -> None:
    ServerlessFunction(stack, "Fn", code=INLINE)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": latest_python_runtime().name,
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 25,
            "Handler": "app.handler",
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "WARN",
                "LogGroup": {"Ref": Match.string_like_regexp("FnLogGroup")},
            },
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "Fn",
                    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
                }
            },
            "Layers": [{"Ref": Match.string_like_regexp("PowertoolsLayer")}],
        },
    )


def test_log_group_keeps_logs_one_month(stack: cdk.Stack) -> None:
    ServerlessFunction(stack, "Fn", code=INLINE)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": 30}
    )


def test_role_may_only_write_its_own_log_group(stack: cdk.Stack) -> None:
    ServerlessFunction(stack, "Fn", code=INLINE)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("FnLogGroup"), "Arn"]},
                    }
                ]
            }
        },
    )


def test_xray_permissions_live_in_a_policy_of_their_own(stack: cdk.Stack) -> None:
    ServerlessFunction(stack, "Fn", code=INLINE)
    template = Template.from_stack(stack)
    policies = template.find_resources("AWS::IAM::Policy")
    wildcard = [
        logical_id
        for logical_id, policy in policies.items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == "*"
    ]
    assert len(wildcard) == 1
    assert "TracingPolicy" in wildcard[0]
    assert policies[wildcard[0]]["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    function = next(iter(template.find_resources("AWS::Lambda::Function").values()))
    assert wildcard[0] in function["DependsOn"]


def test_options_are_applied(stack: cdk.Stack) -> None:
    ServerlessFunction(
        stack,
        "Fn",
        code=INLINE,
        handler="main.run",
        service_name="orders",
        metrics_namespace="Shop",
        memory_size=1024,
        timeout=Duration.minutes(2),
        log_retention=logs.RetentionDays.ONE_WEEK,
        environment={"TABLE": "t", "POWERTOOLS_SERVICE_NAME": "override"},
        reserved_concurrent_executions=5,
        description="does things",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "main.run",
            "MemorySize": 1024,
            "Timeout": 120,
            "ReservedConcurrentExecutions": 5,
            "Description": "does things",
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "override",
                    "POWERTOOLS_METRICS_NAMESPACE": "Shop",
                    "TABLE": "t",
                }
            },
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


def test_functions_of_a_stack_share_one_powertools_layer(stack: cdk.Stack) -> None:
    ServerlessFunction(stack, "A", code=INLINE)
    ServerlessFunction(stack, "B", code=INLINE)
    Template.from_stack(stack).resource_count_is("AWS::Lambda::LayerVersion", 1)


def test_explicit_layer_replaces_the_built_one(stack: cdk.Stack) -> None:
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Public", "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3:1"
    )
    ServerlessFunction(stack, "Fn", code=INLINE, powertools_layer=layer)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::LayerVersion", 0)
    template.has_resource_properties("AWS::Lambda::Function", {"Layers": [layer.layer_version_arn]})


def test_layer_declares_every_supported_python_runtime_and_both_architectures(
    stack: cdk.Stack,
) -> None:
    powertools_layer_for(stack)
    offered = sorted(
        int(m.group(1))
        for name in dir(lambda_.Runtime)
        if (m := re.fullmatch(r"PYTHON_3_(\d+)", name))
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {
            "CompatibleArchitectures": ["arm64", "x86_64"],
            "CompatibleRuntimes": [f"python3.{minor}" for minor in offered if minor >= 10],
        },
    )


def test_layer_holds_pure_python_powertools_and_its_dependencies() -> None:
    directory, _ = functions_module._powertools_layer_directory()
    root = Path(directory) / "python"
    assert (root / "aws_lambda_powertools" / "__init__.py").is_file()
    for module in ("jmespath", "typing_extensions.py", "aws_xray_sdk", "wrapt"):
        assert (root / module).exists(), module
    compiled = [
        p for p in root.rglob("*") if p.suffix in {".so", ".pyc"} or p.name == "__pycache__"
    ]
    assert compiled == []


def test_layer_content_hash_is_stable_across_builds() -> None:
    _, digest = functions_module._powertools_layer_directory()
    functions_module._powertools_layer_directory.cache_clear()
    try:
        assert functions_module._powertools_layer_directory()[1] == digest
    finally:
        functions_module._powertools_layer_directory.cache_clear()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_layer_runs_in_a_clean_interpreter() -> None:
    """Layer first on the path, as on Lambda (boto3/botocore come from the runtime)."""
    directory, _ = functions_module._powertools_layer_directory()
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from aws_lambda_powertools import Logger, Metrics, Tracer;"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType;"
        "Tracer(service='t');"
        "import aws_lambda_powertools, aws_xray_sdk, jmespath, wrapt;"
        "mods = (aws_lambda_powertools, aws_xray_sdk, jmespath, wrapt);"
        "outside = [m.__file__ for m in mods if not m.__file__.startswith(sys.argv[1])];"
        "assert not outside, outside; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(Path(directory) / "python")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_size": 64}, "memory_size=64 is not allowed (allowed: 128..10240 MB)"),
        (
            {"timeout": Duration.minutes(16)},
            "timeout=Duration.seconds(960) is not allowed (allowed: 1..900 seconds)",
        ),
    ],
)
def test_bad_option_raises_value_error(
    stack: cdk.Stack, options: dict[str, object], message: str
) -> None:
    with pytest.raises(
        ValueError, match="^" + re.escape(f"ServerlessFunction at 'TestStack/Fn': {message}") + "$"
    ):
        ServerlessFunction(stack, "Fn", code=INLINE, **options)  # type: ignore[arg-type]


# --- open to every Function option -------------------------------------------------------------


def test_function_takes_the_users_runtime_architecture_and_more_layers(stack: cdk.Stack) -> None:
    extra = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Shared", "arn:aws:lambda:us-east-1:123456789012:layer:shared:3"
    )
    ServerlessFunction(
        stack,
        "Fn",
        code=INLINE,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.X86_64,
        layers=[extra],
        ephemeral_storage_size=cdk.Size.mebibytes(1024),
        description="the team's own",
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 1024},
            "Layers": [
                {"Ref": Match.string_like_regexp("PowertoolsLayer")},
                extra.layer_version_arn,
            ],
            "TracingConfig": {"Mode": "Active"},
            "Description": "the team's own",
        },
    )


def test_function_options_override_the_library_defaults(stack: cdk.Stack) -> None:
    ServerlessFunction(
        stack,
        "Fn",
        code=INLINE,
        tracing=lambda_.Tracing.PASS_THROUGH,
        logging_format=lambda_.LoggingFormat.TEXT,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"TracingConfig": {"Mode": "PassThrough"}, "LoggingConfig": {"LogFormat": "Text"}},
    )
    template.resource_count_is("AWS::IAM::Policy", 1)  # no separate X-Ray policy


def test_function_writes_to_a_given_log_group_and_role(stack: cdk.Stack) -> None:
    from aws_cdk import aws_iam as iam

    group = logs.LogGroup(stack, "Shared", retention=logs.RetentionDays.ONE_WEEK)
    role = iam.Role(stack, "Team", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ServerlessFunction(stack, "Fn", code=INLINE, log_group=group, role=role)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Logs::LogGroup", 1)
    template.resource_count_is("AWS::IAM::Role", 1)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("Team")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": {
                                    "Fn::GetAtt": [Match.string_like_regexp("Shared"), "Arn"]
                                },
                            }
                        )
                    ]
                )
            },
        },
    )


def test_function_in_a_vpc(stack: cdk.Stack) -> None:
    from aws_cdk import aws_ec2 as ec2

    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    ServerlessFunction(
        stack,
        "Fn",
        code=INLINE,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"VpcConfig": {"SubnetIds": Match.any_value()}}
    )


def test_the_library_function_at_its_defaults_fits_a_command_router(stack: cdk.Stack) -> None:
    from serverless_patterns import CommandRouter

    router = CommandRouter(stack, "Router")
    router.add_command("ping", ServerlessFunction(stack, "Ping", code=INLINE))
    assert "ping" in router.commands


# --- layer content does not depend on the machine ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("wrapt-2.5.2.dist-info/WHEEL", False),
        ("wrapt-2.5.2.dist-info/RECORD", False),
        ("wrapt-2.5.2.dist-info/INSTALLER", False),
        ("wrapt-2.5.2.dist-info/REQUESTED", False),
        ("wrapt-2.5.2.dist-info/direct_url.json", False),
        ("wrapt-2.5.2.dist-info/METADATA", True),
        ("wrapt-2.5.2.dist-info/top_level.txt", True),
        ("wrapt-2.5.2.dist-info/licenses/LICENSE", True),
        ("aws_xray_sdk-2.15.0.dist-info/NOTICE", True),
        ("wrapt/_wrappers.cpython-311-x86_64-linux-gnu.so", False),
        ("wrapt/__pycache__/wrappers.cpython-311.pyc", False),
        ("../../../bin/jp.py", False),
        ("wrapt/wrappers.py", True),
    ],
)
def test_layer_keeps_package_content_and_drops_machine_bookkeeping(path: str, kept: bool) -> None:
    from pathlib import PurePosixPath

    assert functions_module._belongs_in_layer(PurePosixPath(path)) is kept


def test_layer_runtimes_start_at_the_oldest_powertools_supports() -> None:
    import importlib.metadata

    requires = importlib.metadata.metadata("aws-lambda-powertools")["Requires-Python"]
    floor = re.search(r">=\s*3\.(\d+)", requires)
    assert floor is not None, requires
    assert (3, int(floor.group(1))) <= functions_module.OLDEST_PYTHON_RUNTIME
    names = [runtime.name for runtime in functions_module.supported_python_runtimes()]
    assert names[0] == "python3.10"
    assert names[-1] == latest_python_runtime().name
