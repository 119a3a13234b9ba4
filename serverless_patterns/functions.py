"""Lambda functions with well-architected defaults, and a hermetic Powertools layer.

Every function this library creates, and every function of the examples, is a
:class:`ServerlessFunction`: newest Python runtime of the installed aws-cdk-lib, ARM64, explicit
memory and timeout, X-Ray active tracing, JSON logs into a log group with finite retention, a
role that holds only what it needs (no AWS managed policy), and Powertools for AWS Lambda
(Python) available through a layer built from the locally installed package.

The layers the library builds hold pure Python that runs on every Python runtime from
:data:`OLDEST_PYTHON_RUNTIME` up (Powertools 3 needs 3.10), on both architectures, so a user's
own function on any of them can take part in every construct.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata
import json
import re
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aws_cdk import (
    AssetHashType,
    Duration,
    Names,
    RemovalPolicy,
    Size,
    SizeRoundingBehavior,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from serverless_patterns import _tree
from serverless_patterns._typecheck import check_keywords, checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import AlarmBook
from serverless_patterns.nag import acknowledge, acknowledge_created
from serverless_patterns.queues import dead_letter_queue

#: Distributions copied into the Powertools layer: Powertools, its dependencies, and the
#: X-Ray SDK that its Tracer needs. boto3/botocore come with the Lambda runtime.
POWERTOOLS_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "jmespath",
    "typing-extensions",
    "aws-xray-sdk",
    "wrapt",
)

#: Excluded from every code asset: byte code changes the asset hash from machine to machine.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]

#: Lambda's timeout for a function that sets none.
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3.0
#: ``ServerlessFunction``'s timeout: short enough to answer behind API Gateway's 29 s
#: integration timeout with time left for a router in between (``CommandRouter``).
DEFAULT_TIMEOUT = Duration.seconds(25)
#: The oldest Python runtime the layers' code supports (Powertools 3 requires Python 3.10).
OLDEST_PYTHON_RUNTIME = (3, 10)
#: Architectures of the layers: their code is pure Python.
LAYER_ARCHITECTURES = (lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64)
_DEFAULT_ARCHITECTURE = LAYER_ARCHITECTURES[0]
#: What a distribution's ``.dist-info`` contributes to a layer: what ``importlib.metadata``
#: reads, and licenses. ``WHEEL`` (the build interpreter's wheel tags), ``RECORD``,
#: ``INSTALLER``, ``REQUESTED`` and ``direct_url.json`` describe one machine's install.
_DIST_INFO_KEPT = {"METADATA", "entry_points.txt", "top_level.txt"}
_LICENSE_PREFIXES = ("LICENSE", "LICENCE", "NOTICE", "COPYING", "AUTHORS")

_DEFAULT_METRICS_NAMESPACE = "ServerlessPatterns"
_LAYER_ID = "PowertoolsLayer"


@functools.cache
def latest_python_runtime() -> lambda_.Runtime:
    """The newest ``PYTHON_3_x`` runtime that the installed aws-cdk-lib offers.

    Picked from CDK rather than hard-coded, so upgrading aws-cdk-lib moves every function to the
    newest runtime (which is also what the cdk-nag rule ``Serverless-LambdaLatestVersion`` wants).
    """
    runtime: lambda_.Runtime = getattr(lambda_.Runtime, f"PYTHON_3_{max(_offered_python_minors())}")
    return runtime


def supported_python_runtimes() -> list[lambda_.Runtime]:
    """Every Python runtime of the installed aws-cdk-lib from :data:`OLDEST_PYTHON_RUNTIME` up.

    The layers declare all of them: a CDK upgrade that adds a runtime adds it here, and
    functions pinned to an older one keep working.
    """
    return list(_supported_python_runtimes())


@functools.cache
def _supported_python_runtimes() -> tuple[lambda_.Runtime, ...]:
    # Each Runtime.PYTHON_3_x is a round trip to jsii: asked once per process.
    return tuple(
        getattr(lambda_.Runtime, f"PYTHON_3_{minor}")
        for minor in sorted(_offered_python_minors())
        if (3, minor) >= OLDEST_PYTHON_RUNTIME
    )


@functools.cache
def _offered_python_minors() -> frozenset[int]:
    """The minor versions of the ``PYTHON_3_x`` runtimes the installed aws-cdk-lib offers."""
    return frozenset(
        int(match.group(1))
        for name in dir(lambda_.Runtime)
        if (match := re.fullmatch(r"PYTHON_3_(\d+)", name))
    )


def is_supported_python_runtime(runtime: lambda_.Runtime) -> bool:
    """Whether ``runtime`` is a Python runtime the library's layers support."""
    same_name = _supported_python_runtimes_by_name().get(runtime.name)
    return same_name is not None and runtime.runtime_equals(same_name)


@functools.cache
def _supported_python_runtimes_by_name() -> dict[str, lambda_.Runtime]:
    return {runtime.name: runtime for runtime in _supported_python_runtimes()}


def supported_runtime_names() -> str:
    """``python3.10..python3.14``, for messages."""
    runtimes = supported_python_runtimes()
    return f"{runtimes[0].name}..{runtimes[-1].name}"


def scope_beside(owner: Construct, function: lambda_.IFunction) -> Construct:
    """Where ``owner`` creates what refers back to ``function`` (mappings, subscriptions, ...).

    ``owner`` itself when the function lives in the same stack. For a function of another stack
    it is a construct in that stack named after ``owner``'s path: there, the function's stack
    refers to ``owner``'s stack and never the other way round, so no dependency cycle arises and
    a platform stack can be deployed before the services that use it.
    """
    if _tree.same_stack(function, owner):
        return owner
    stack = _tree.stack(function)
    name = Names.unique_id(owner)
    existing = stack.node.try_find_child(name)
    if isinstance(existing, Construct):
        return existing
    return _tree.created(Construct(stack, name), stack, name)


def check_same_environment(
    problems: Problems, argument: str, scope: Construct, function: lambda_.IFunction
) -> None:
    """An event source or subscription must deliver to a function of its own account and
    region (a mapping names the function by name; a permission is granted by its owner)."""
    if isinstance(function, lambda_.Function):
        # A function of this app is in its stack's account and region.
        if _tree.same_stack(function, scope):
            return
        theirs_known = _tree.environment(function)
    else:  # an imported function: its ARN tells
        env = function.env
        theirs_known = _tree.Environment(
            account=_tree.known_value(env.account), region=_tree.known_value(env.region)
        )
    here = _tree.environment(scope)
    for what, mine, theirs in (
        ("account", here.account, theirs_known.account),
        ("region", here.region, theirs_known.region),
    ):
        if mine is not None and theirs is not None and mine != theirs:
            problems.add(
                argument,
                function,
                f"is in {what} {theirs}, the construct in {mine}: it cannot be wired to a "
                f"function of another {what}",
                "a function of the construct's account and region",
            )


def check_role(problems: Problems, argument: str, function: lambda_.IFunction, needs: str) -> None:
    """A problem when ``function`` is imported without a role: ``needs`` cannot be granted."""
    if function_role(function) is None:
        problems.add(
            argument,
            function,
            f"is imported without a role: {needs} cannot be granted to it",
            "a function of this app, or one imported with Function.from_function_attributes("
            "..., role=...)",
        )


#: Function -> the paths of the sources its event source mappings consume (this process).
_CONSUMED: weakref.WeakKeyDictionary[lambda_.IFunction, set[str]] = weakref.WeakKeyDictionary()


def claim_event_source(
    problems: Problems, argument: str, function: lambda_.IFunction, source: IConstruct
) -> None:
    """A problem when ``function`` consumes ``source`` already: Lambda refuses a second mapping
    of the same source and function (ResourceConflictException)."""
    if _tree.path(source) in _CONSUMED.get(function, set()):
        problems.add(
            argument,
            function,
            f"already consumes {_tree.path(source)} through another event source mapping, which "
            "Lambda refuses",
            "one mapping per source and function",
        )


def mark_event_source(function: lambda_.IFunction, source: IConstruct) -> None:
    """After the mapping exists: ``function`` consumes ``source``."""
    _CONSUMED.setdefault(function, set()).add(_tree.path(source))


#: Function -> its timeout in seconds and its role (a function's are fixed once it exists).
_TIMEOUTS: weakref.WeakKeyDictionary[lambda_.IFunction, tuple[float | None]] = (
    weakref.WeakKeyDictionary()
)
_ROLES: weakref.WeakKeyDictionary[lambda_.IFunction, tuple[iam.IRole | None]] = (
    weakref.WeakKeyDictionary()
)


def function_timeout_seconds(handler: lambda_.IFunction) -> float | None:
    """Timeout of a function defined in this app (Lambda's default when it sets none); None for
    an imported function, whose timeout is unknown at synth time."""
    if not isinstance(handler, lambda_.Function):
        return None
    configured = configured_timeout_seconds(handler)
    return LAMBDA_DEFAULT_TIMEOUT_SECONDS if configured is None else configured


def configured_timeout_seconds(handler: lambda_.IFunction) -> float | None:
    """The ``timeout`` a function of this app was given, in seconds; None when it was given
    none (or is imported)."""
    if not isinstance(handler, lambda_.Function):
        return None
    known = _tree.lookup(_TIMEOUTS, handler)
    if known is None:
        timeout = handler.timeout
        known = _tree.remember(
            _TIMEOUTS, handler, (_tree.exact_seconds(timeout) if timeout else None,)
        )
    return known[0]


def function_role(function: lambda_.IFunction) -> iam.IRole | None:
    """``function.role`` (None for a function imported without one), asked once."""
    known = _tree.lookup(_ROLES, function)
    if known is None:
        known = _tree.remember(_ROLES, function, (function.role,))
    return known[0]


@functools.cache
def _powertools_layer_directory() -> tuple[str, str]:
    """Assemble ``python/`` of the layer from installed distributions, once per process.

    Returns the directory and a hash of its content. Only pure-Python files are copied:
    compiled extensions (wrapt's optional speed-up) are built for this machine, not for Lambda's
    ARM64 runtime, and the packages fall back to Python code without them. Nothing is
    downloaded and no container runs, so synthesis stays hermetic. The hash is computed here,
    while the files are read anyway, so CDK need not fingerprint the layer on every synthesis.
    """
    digest = hashlib.sha256()
    root = Path(tempfile.mkdtemp(prefix="serverless-patterns-powertools-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    target = root / "python"
    for name in POWERTOOLS_DISTRIBUTIONS:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as error:
            raise RuntimeError(
                f"The Powertools layer is built from the installed package '{name}', which is "
                "missing: install serverless-patterns with its dependencies "
                "(pip install serverless-patterns), or pass powertools_layer=... explicitly"
            ) from error
        files = sorted(PurePosixPath(str(file)) for file in distribution.files or ())
        for relative in files:
            if not _belongs_in_layer(relative):
                continue
            content = Path(str(distribution.locate_file(relative))).read_bytes()
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
            digest.update(f"{relative}\0{len(content)}\0".encode())
            digest.update(content)
    return str(root), digest.hexdigest()


def _belongs_in_layer(path: PurePosixPath) -> bool:
    """Package content that Lambda needs; nothing that depends on the machine that installed it.

    Byte code and compiled extensions are this interpreter's; ``.dist-info`` keeps only what
    ``importlib.metadata`` reads and the licenses (see ``_DIST_INFO_KEPT``).
    """
    if path.parts[0] == ".." or "__pycache__" in path.parts:
        return False
    dist_info = next((part for part in path.parts if part.endswith(".dist-info")), None)
    if dist_info is not None:
        inside = path.parts[path.parts.index(dist_info) + 1 :]
        return (
            inside[0] in _DIST_INFO_KEPT
            or inside[0] == "licenses"
            or (inside[0].upper().startswith(_LICENSE_PREFIXES))
        )
    return path.suffix not in {".pyc", ".pyo", ".so", ".pyd", ".c", ".h"}


@checked
def powertools_layer_for(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one Powertools layer, created on first use.

    A local asset rather than the public Powertools layer ARN: it deploys to any account, any
    partition and to local emulators (which reject layer ARNs of other accounts).
    """
    stack = _tree.stack(scope)
    known = _tree.lookup(_LAYERS, stack)
    if known is not None:
        return known
    existing = stack.node.try_find_child(_LAYER_ID)
    if isinstance(existing, lambda_.LayerVersion):
        return _tree.remember(_LAYERS, stack, existing)
    version = importlib.metadata.version("aws-lambda-powertools")
    directory, content_hash = _powertools_layer_directory()
    layer = lambda_.LayerVersion(
        stack,
        _LAYER_ID,
        code=lambda_.Code.from_asset(
            directory, asset_hash=content_hash, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=supported_python_runtimes(),
        compatible_architectures=list(LAYER_ARCHITECTURES),
        description=f"Powertools for AWS Lambda (Python) {version}, built from the local install",
    )
    return _tree.remember(_LAYERS, stack, layer)


#: Stack -> its Powertools layer (a construct of the stack, there for good once created).
_LAYERS: weakref.WeakKeyDictionary[Stack, lambda_.LayerVersion] = weakref.WeakKeyDictionary()
#: Layer -> its resolved ARN (a reference to it), as JSON.
_LAYER_REFERENCES: weakref.WeakKeyDictionary[lambda_.LayerVersion, str] = (
    weakref.WeakKeyDictionary()
)


#: Environment variables Lambda sets itself and refuses to take from a function's configuration.
RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
#: Lambda's limit on all environment variables of a function together.
MAX_ENVIRONMENT_BYTES = 4096
#: Lambda's limit on a function's layers (Powertools is one of them).
MAX_LAYERS = 5
_HANDLER = re.compile(r"^[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*$")


def _check_function_options(
    problems: Problems,
    *,
    handler: str,
    timeout: Duration,
    environment: Mapping[str, str],
    layers: Sequence[lambda_.ILayerVersion],
    reserved_concurrent_executions: int | None,
    ephemeral_storage_size: object,
) -> None:
    """What Lambda refuses at deploy time (or at the first invocation), refused now."""
    if not _HANDLER.match(handler):
        problems.add(
            "handler", handler, "is not module.function", "e.g. 'app.handler' or 'pkg/mod.handler'"
        )
    seconds = _tree.seconds(timeout)
    if seconds is not None and not float(seconds).is_integer():
        problems.add("timeout", timeout, "is not whole seconds", "1..900 whole seconds")
    reserved = sorted(set(environment) & RESERVED_ENVIRONMENT)
    if reserved:
        problems.add(
            "environment",
            reserved,
            "sets variables Lambda reserves for itself",
            "other names (Lambda sets these)",
        )
    size = sum(
        len(key.encode()) + len(value.encode())
        for key, value in environment.items()
        if not _tree.is_unresolved(value)
    )
    if size > MAX_ENVIRONMENT_BYTES:
        problems.add(
            "environment",
            f"{size} bytes",
            "is more than Lambda takes for all of a function's variables together",
            f"at most {MAX_ENVIRONMENT_BYTES} bytes (keep large configuration elsewhere)",
        )
    if len(layers) + 1 > MAX_LAYERS:
        problems.add(
            "layers",
            f"{len(layers)} layers",
            "are too many beside the Powertools layer",
            f"at most {MAX_LAYERS - 1} (Lambda takes {MAX_LAYERS} layers per function)",
        )
    if reserved_concurrent_executions is not None and reserved_concurrent_executions < 0:
        problems.add(
            "reserved_concurrent_executions",
            reserved_concurrent_executions,
            "is not allowed",
            "0 (a switched-off function) or more",
        )
    if isinstance(ephemeral_storage_size, Size):
        mebibytes = ephemeral_storage_size.to_mebibytes(rounding=SizeRoundingBehavior.NONE)
        if not 512 <= mebibytes <= 10240:
            problems.add(
                "ephemeral_storage_size",
                f"{number(mebibytes)} MiB",
                "is not allowed",
                "Size.mebibytes(512)..Size.mebibytes(10240)",
            )


#: AWS's public Powertools for AWS Lambda (Python) layers.
_PUBLIC_POWERTOOLS_LAYER = re.compile(r":layer:AWSLambdaPowertoolsPython")


def ensure_powertools(function: lambda_.Function) -> None:
    """Give ``function`` the Powertools layer of its stack unless it already carries one.

    A ``ServerlessFunction`` has it; so does a function with the stack's layer or with AWS's
    public Powertools layer (``AWSLambdaPowertoolsPython...``) among its layers.
    """
    layer = missing_powertools_layer(function)
    if layer is not None:
        function.add_layers(layer)


def missing_powertools_layer(function: lambda_.Function) -> lambda_.ILayerVersion | None:
    """The layer :func:`ensure_powertools` would add to ``function`` (None: it has one), for a
    caller that adds it together with layers of its own (one round trip to jsii)."""
    if isinstance(function, ServerlessFunction):
        return None
    stack = _tree.stack(function)
    cfn_function = _tree.default_child(function)
    resolved = (
        stack.resolve(cfn_function.layers)
        if isinstance(cfn_function, lambda_.CfnFunction)
        else None
    )
    layers = [json.dumps(layer) for layer in resolved or []]
    existing = _tree.lookup(_LAYERS, stack) or stack.node.try_find_child(_LAYER_ID)
    if isinstance(existing, lambda_.LayerVersion):
        own = _tree.lookup(_LAYER_REFERENCES, existing) or _tree.remember(
            _LAYER_REFERENCES, existing, json.dumps(stack.resolve(existing.layer_version_arn))
        )
        if own in layers:
            return None
    if any(_PUBLIC_POWERTOOLS_LAYER.search(layer) for layer in layers):
        return None
    return powertools_layer_for(function)


class ServerlessFunction(lambda_.Function):
    """A Python Lambda function with the library's defaults, open to every ``Function`` option.

    Args:
        scope: parent construct.
        id: construct id; the function's log group gets ``<id>LogGroup``, its role ``<id>Role``
            and its X-Ray policy ``<id>TracingPolicy`` in the same scope.
        code: the function's code, e.g. ``Code.from_asset("lambda_src/orders",
            exclude=ASSET_EXCLUDES)``; one folder per function keeps each asset small.
        handler: module and function name. Default ``"app.handler"``.
        runtime: a Python runtime the library's layers support (:func:`supported_python_runtimes`,
            python3.10 and newer). Default: the newest the installed aws-cdk-lib offers.
        architecture: Default ``Architecture.ARM_64`` (Graviton: cheaper per GB-second).
        service_name: ``POWERTOOLS_SERVICE_NAME`` for logs, metrics and traces. Default: ``id``.
        metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``. Default ``"ServerlessPatterns"``.
        memory_size: MB, 128..10240. Default 256.
        timeout: 1 s..15 min. Default 25 seconds, which fits behind API Gateway's 29 s
            integration timeout with room for a router in between.
        log_retention: retention of the log group created for the function. Default one month.
        log_group: an existing log group instead of the created one (then ``log_retention``
            cannot be given). Default: ``<id>LogGroup``, kept ``log_retention``.
        environment: extra environment variables, merged over the Powertools ones.
        reserved_concurrent_executions: reserved concurrency. Default none (unreserved).
        powertools_layer: the layer that provides Powertools. Default: the stack's layer built
            from the installed package (:func:`powertools_layer_for`).
        layers: more layers, after the Powertools layer. Default none.
        role: the execution role. Default: ``<id>Role``, holding only what the function needs.
            A given role gets the log-group and X-Ray statements added.
        tracing: X-Ray tracing. Default ``Tracing.ACTIVE`` (its two actions in a policy of
            their own).
        description: function description. Default none.
        function_options: any other ``aws_lambda.Function`` argument (``vpc``,
            ``ephemeral_storage_size``, ``dead_letter_queue``, ...), passed on as given; the
            library's values above are only defaults and each can be given too.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: lambda_.Code,
        handler: str = "app.handler",
        runtime: lambda_.Runtime | None = None,
        architecture: lambda_.Architecture | None = None,
        service_name: str | None = None,
        metrics_namespace: str = _DEFAULT_METRICS_NAMESPACE,
        memory_size: int = 256,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_group: logs.ILogGroup | None = None,
        environment: Mapping[str, str] | None = None,
        reserved_concurrent_executions: int | None = None,
        powertools_layer: lambda_.ILayerVersion | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        role: iam.IRole | None = None,
        tracing: lambda_.Tracing | None = None,
        description: str | None = None,
        **function_options: Any,
    ) -> None:
        problems = Problems("ServerlessFunction", scope, id)
        check_keywords(
            lambda: problems.prefix,
            lambda_.Function.__init__,
            function_options,
            skip=("scope", "id"),
        )
        timeout = timeout or DEFAULT_TIMEOUT
        problems.check_range("memory_size", memory_size, 128, 10240, unit=" MB")
        problems.check_duration("timeout", timeout, 1, 900)
        if runtime is not None and not is_supported_python_runtime(runtime):
            problems.add(
                "runtime",
                runtime.name,
                "is not a Python runtime the library's layers (Powertools, the stage helper) "
                "support",
                supported_runtime_names(),
            )
        if log_group is not None and log_retention is not None:
            problems.add(
                "log_retention",
                log_retention,
                "only shapes the log group this construct creates, but log_group= was given",
                "leave it out, or drop log_group=",
            )
        _check_function_options(
            problems,
            handler=handler,
            timeout=timeout,
            environment=environment or {},
            layers=layers,
            reserved_concurrent_executions=reserved_concurrent_executions,
            ephemeral_storage_size=function_options.get("ephemeral_storage_size"),
        )
        problems.raise_if_any()

        if log_group is None:
            log_group = logs.LogGroup(
                scope,
                f"{id}LogGroup",
                retention=log_retention or logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            )
        if role is None:
            role = iam.Role(
                scope,
                f"{id}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Execution role of {_tree.path(scope)}/{id}",
            )
        # Only this function's log group: no AWSLambdaBasicExecutionRole (logs:* on every group).
        log_statement = iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
        if isinstance(role, iam.Role):  # the same, without reading back jsii's result struct
            role.add_to_policy(log_statement)
        else:
            role.add_to_principal_policy(log_statement)
        self.powertools_layer: lambda_.ILayerVersion = powertools_layer or powertools_layer_for(
            scope
        )
        """The layer that provides Powertools to this function."""
        options: dict[str, Any] = {"logging_format": lambda_.LoggingFormat.JSON}
        if function_options.get("logging_format", lambda_.LoggingFormat.JSON) == (
            lambda_.LoggingFormat.JSON
        ):  # Lambda's log levels apply to JSON logs only
            options["application_log_level_v2"] = lambda_.ApplicationLogLevel.INFO
            options["system_log_level_v2"] = lambda_.SystemLogLevel.WARN
        options.update(function_options)
        active_tracing = tracing is None or tracing == lambda_.Tracing.ACTIVE
        if not active_tracing:
            options["tracing"] = tracing
        super().__init__(
            scope,
            id,
            code=code,
            handler=handler,
            runtime=runtime or latest_python_runtime(),
            architecture=architecture or _DEFAULT_ARCHITECTURE,
            memory_size=memory_size,
            timeout=timeout,
            log_group=log_group,
            role=role,
            layers=[self.powertools_layer, *layers],
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name or id,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                **(environment or {}),
            },
            reserved_concurrent_executions=reserved_concurrent_executions,
            description=description,
            **options,
        )
        _tree.created(self, scope, id)
        _tree.remember(_TIMEOUTS, self, (_tree.exact_seconds(timeout),))
        if active_tracing:
            self._enable_active_tracing(scope, id, role)
        acknowledge_created(
            self,
            cfn_lint={
                "WS1004": (
                    "The rule looks for a log group named /aws/lambda/<function>; this function "
                    "logs through LoggingConfig into its own log group, which has a retention."
                )
            },
        )

    def _enable_active_tracing(self, scope: Construct, id: str, role: iam.IRole) -> None:
        """X-Ray active tracing, with its permissions in a policy of their own.

        X-Ray's write actions support no resource-level permissions, so they need resource
        ``*``. Setting tracing on the L2 function would put that statement into the role's
        default policy, where a cdk-nag acknowledgement would also hide any later wildcard
        grant; in a separate policy the acknowledgement covers exactly these two actions.
        """
        cfn_function = _tree.default_child(self)
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        tracing_policy = iam.Policy(
            scope,
            f"{id}TracingPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    resources=["*"],
                )
            ],
        )
        acknowledge(
            tracing_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
            "permissions; this policy holds only those two actions.",
        )
        _tree.node(self).add_dependency(tracing_policy)


@dataclass(frozen=True)
class AsyncFailureDestination:
    """Where asynchronous invocations of a function go when they fail, and its alarm."""

    queue: sqs.Queue
    alarm: cloudwatch.Alarm | None


def async_failure_destination(
    scope: Construct,
    function: lambda_.IFunction,
    *,
    queue_id: str,
    config_id: str,
    alarm_id: str,
    retry_attempts: int,
    invoked_by: str,
    book: AlarmBook,
    owner: Construct,
    max_event_age: Duration | None = None,
    alarm_scope: Construct | None = None,
) -> AsyncFailureDestination:
    """Keep what an asynchronous invocation could not process: an alarmed on-failure queue.

    Creates the queue (a 14-day, encrypted DLQ) and the function's ``EventInvokeConfig``
    pointing at it in ``scope``, and the alarm on it in ``alarm_scope`` (default ``scope``),
    kept in ``book`` (the caller's alarms; ``owner`` is the construct redrive works on).
    """
    queue = dead_letter_queue(scope, queue_id)
    lambda_.EventInvokeConfig(
        scope,
        config_id,
        function=function,
        on_failure=destinations.SqsDestination(queue),
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
    )
    if isinstance(function, lambda_.Function):
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            f"Invoked asynchronously by {invoked_by}: failed invocations go to the "
            f"EventInvokeConfig on-failure queue {_tree.path(queue)}, which is alarmed on (the "
            "rule only looks for DeadLetterConfig).",
        )
    alarm = book.dead_letter(
        alarm_scope or scope,
        alarm_id,
        queue,
        consumer=f"the record's responsePayload and the logs of {_tree.path(function)}",
        redrive=owner,
    )
    return AsyncFailureDestination(queue, alarm)
