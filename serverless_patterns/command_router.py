"""CommandRouter: the command pattern.

One entry point (a REST API, or direct invocation) receives named, versioned commands; a router
function looks the command up in its routing table and invokes the single-purpose function that
handles that command and version. Clients are decoupled from receivers, the API needs no route
per request type, and old clients keep working while new versions roll out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._assets import packaged_handler_code
from serverless_patterns._synth import Validation, lazy_string
from serverless_patterns._typecheck import checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
)
from serverless_patterns.functions import (
    ServerlessFunction,
    async_failure_destination,
    check_role,
    configured_timeout_seconds,
    function_timeout_seconds,
    scope_beside,
)
from serverless_patterns.nag import acknowledge
from serverless_patterns.rest_api import (
    acknowledge_method_findings,
    acknowledge_stage_findings,
    authorization_mode,
    check_api_name,
    secure_rest_api,
)

Authorization = Literal["IAM", "COGNITO", "JWT", "NONE"]
COMMAND_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
VERSION = re.compile(r"^v[1-9][0-9]{0,3}$")
_MAX_NAME = 64
_ROUTER_TIMEOUT = Duration.seconds(29)  # API Gateway's integration timeout
#: The kinds of alarm a CommandRouter has (its ``alarm_settings`` keys).
ALARM_KINDS = (AlarmKind.API_SERVER_ERRORS, AlarmKind.DEAD_LETTER, *FUNCTION_KINDS)


@dataclass(frozen=True)
class CommandVersion:
    """One registered receiver."""

    name: str
    version: str
    function: lambda_.IFunction
    asynchronous: bool
    failure_queue: sqs.Queue | None


class CommandRouter(Construct):
    """A router function (behind a REST API) that dispatches named, versioned commands.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        api: put a REST API in front of the router (``POST /commands/{name}``,
            ``GET /commands``). Default True; without it, use :meth:`grant_invoke`.
        authorization: ``"IAM"`` (SigV4), ``"COGNITO"`` (needs ``user_pool``) or ``"NONE"``
            (needs ``allow_unauthenticated=True``), or CDK's ``apigateway.AuthorizationType``
            of the same name. ``"JWT"`` (any issuer) needs an HTTP API and is rejected for this
            REST API. Default ``"IAM"``.
        allow_unauthenticated: the explicit opt-in for ``authorization="NONE"``. Default False.
        user_pool: the Cognito user pool for ``"COGNITO"``. Default none.
        jwt_issuer: reserved for ``"JWT"``. Default none.
        jwt_audience: reserved for ``"JWT"``. Default none.
        throttle_rate: steady requests per second of the stage. Default 50.
        throttle_burst: burst of the stage. Default 100.
        router_timeout: the router's timeout; synchronous receivers must finish sooner.
            Default 29 seconds (API Gateway's integration timeout).
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``API_SERVER_ERRORS``,
            ``DEAD_LETTER`` (asynchronous receivers' failure queues), and
            ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``, ``FUNCTION_DURATION`` of the router
            and every receiver (see :class:`~serverless_patterns.AlarmKind`). Default: every
            alarm, with the kind's defaults.
        api_name: the REST API's name, which its alarms select it by. Default:
            ``<stack name>-<construct path>``, unique in the account and region.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api: bool = True,
        authorization: Authorization | apigateway.AuthorizationType = "IAM",
        allow_unauthenticated: bool = False,
        user_pool: cognito.IUserPool | None = None,
        jwt_issuer: str | None = None,
        jwt_audience: Sequence[str] | None = None,
        throttle_rate: float = 50,
        throttle_burst: int = 100,
        router_timeout: Duration = _ROUTER_TIMEOUT,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
        api_name: str | None = None,
    ) -> None:
        problems = Problems("CommandRouter", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        authorization = cast(Authorization, authorization_mode(authorization))
        if authorization not in ("IAM", "COGNITO", "JWT", "NONE"):
            problems.add(
                "authorization", authorization, "is not a mode", "'IAM', 'COGNITO', 'NONE'"
            )
        if authorization == "JWT" or jwt_issuer or jwt_audience:
            problems.add(
                "authorization",
                authorization,
                "JWT authorizers of any issuer need an HTTP API; this construct builds a REST API",
                "'COGNITO' for Cognito-issued JWTs, or 'IAM'",
            )
        if authorization == "COGNITO" and user_pool is None:
            problems.add("user_pool", None, "is required with authorization='COGNITO'", "a pool")
        if user_pool is not None and authorization != "COGNITO":
            problems.add(
                "user_pool", user_pool, "only applies to authorization='COGNITO'", "leave it out"
            )
        if authorization == "NONE" and not allow_unauthenticated:
            problems.add(
                "authorization",
                "NONE",
                "makes every command callable by anyone: opt in explicitly",
                "allow_unauthenticated=True with 'NONE', or 'IAM'/'COGNITO'",
            )
        if not api and (authorization != "IAM" or user_pool is not None):
            problems.add("api", False, "leaves nothing to authorize", "api=True, or drop auth")
        problems.check_range("throttle_rate", throttle_rate, 1, 10000)
        problems.check_range("throttle_burst", throttle_burst, 1, 5000)
        problems.check_duration("router_timeout", router_timeout, 1, 900)
        router_seconds = _tree.exact_seconds(router_timeout)
        if api and router_seconds > _tree.exact_seconds(_ROUTER_TIMEOUT):
            problems.add(
                "router_timeout",
                router_timeout,
                "outlasts API Gateway's 29 s integration timeout: callers would get 504 while "
                "the router and its receiver still run",
                "1..29 seconds with api=True (longer only with api=False)",
            )
        check_api_name(problems, api_name)
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        path = _tree.path(self)
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self._versions: list[CommandVersion] = []
        self._defaults: dict[str, str] = {}
        self._explicit_defaults: set[str] = set()
        self.router_function = ServerlessFunction(
            self,
            "RouterFunction",
            code=packaged_handler_code("router"),
            service_name=path.replace("/", "-"),
            timeout=router_timeout,
            # Commands are added after construction: the table is rendered at synth time.
            environment={"COMMAND_ROUTES": lazy_string(self._routes_json)},
            description=f"Dispatches the commands of {path}",
        )
        """The router (its code ships inside this package)."""
        acknowledge(
            self.router_function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously (API Gateway, or direct RequestResponse calls): every error "
            "is answered to the caller; nothing is queued.",
        )
        _tree.node(self).add_validation(Validation(self._validate_commands))

        self._book = AlarmBook(settings, alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = self._book.alarms
        """Every alarm: the router's and receivers' health, API 5XX, failure queues."""
        self._book.function_health(
            self,
            "Router",
            self.router_function,
            timeout_seconds=router_seconds,
            after_failure="Callers got the error; nothing is kept for a retry.",
        )

        self.api: apigateway.RestApi | None = None
        """The REST API (None with ``api=False``)."""
        if api:
            self.api = self._build_api(
                authorization, user_pool, throttle_rate, throttle_burst, api_name
            )

    # --- commands --------------------------------------------------------------------------

    @checked
    def add_command(
        self,
        name: str,
        handler: lambda_.IFunction,
        *,
        version: str = "v1",
        asynchronous: bool = False,
        default: bool = False,
    ) -> CommandVersion:
        """Register ``handler`` as the receiver of command ``name`` at ``version``.

        Args:
            name: lowercase words joined by hyphens, 1..64 characters (``get-user``).
            handler: the receiver; the router may invoke exactly this function.
            version: ``v1``..``v9999``. Default ``"v1"``.
            asynchronous: invoke with ``Event`` and answer 202; the receiver gets an
                on-failure queue (alarmed) so failures are kept. Default False.
            default: the version used when the caller names none. Default: the first version
                registered for the command.
        """
        problems = Problems.of("CommandRouter", self)
        if not COMMAND_NAME.match(name) or len(name) > _MAX_NAME:
            problems.add(
                "name", name, "is not a command name", "lowercase words joined by '-', 1..64"
            )
        if not VERSION.match(version):
            problems.add("version", version, "is not a version", "v1..v9999")
        if any(v.name == name and v.version == version for v in self._versions):
            problems.add("version", version, f"of {name} is already registered", "a new version")
        if default and name in self._explicit_defaults:
            problems.add(
                "default",
                True,
                f"but {name} already has the default version {self._defaults[name]}",
                "one default per command",
            )
        if asynchronous:
            check_role(problems, "handler", handler, "an asynchronous receiver's on-failure queue")
        timeout = configured_timeout_seconds(handler)
        router_timeout = configured_timeout_seconds(self.router_function)
        if (
            not asynchronous
            and timeout is not None
            and router_timeout is not None
            and timeout >= router_timeout
        ):
            problems.add(
                "handler",
                handler,
                f"has a timeout of {number(timeout)} s, not shorter "
                f"than the router's ({number(router_timeout)} s)",
                "a synchronous receiver that finishes before the router gives up",
            )
        problems.raise_if_any()

        key = f"{_pascal(name)}{version.upper()}"
        self.router_function.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[handler.function_arn])
        )
        failure_queue = None
        beside = scope_beside(self, handler)
        if asynchronous:
            # The on-failure queue is granted to the receiver: it lives beside it (in its stack,
            # if another), the alarm here; the receiver's stack then refers to nothing here.
            destination = async_failure_destination(
                beside,
                handler,
                alarm_scope=self,
                queue_id=f"{key}FailureQueue",
                config_id=f"{key}InvokeConfig",
                alarm_id=f"{key}FailureAlarm",
                retry_attempts=2,
                invoked_by=_tree.path(self),
                book=self._book,
                owner=self,
            )
            failure_queue = destination.queue
        elif isinstance(handler, lambda_.Function):
            acknowledge(
                handler,
                "Serverless-LambdaDLQ",
                f"Invoked synchronously by {_tree.path(self)}: errors go back to the caller.",
            )
        self._book.function_health(
            beside,
            key,
            handler,
            timeout_seconds=function_timeout_seconds(handler),
            after_failure=(
                f"Failed invocations are retried twice, then kept in {_tree.path(failure_queue)}."
                if failure_queue is not None
                else "Callers got the error; nothing is kept for a retry."
            ),
        )
        registered = CommandVersion(name, version, handler, asynchronous, failure_queue)
        self._versions.append(registered)
        if default or name not in self._defaults:
            self._defaults[name] = version
            if default:
                self._explicit_defaults.add(name)
        return registered

    @property
    def commands(self) -> dict[str, dict[str, lambda_.IFunction]]:
        """Command name -> version -> receiver."""
        table: dict[str, dict[str, lambda_.IFunction]] = {}
        for registered in self._versions:
            table.setdefault(registered.name, {})[registered.version] = registered.function
        return table

    @property
    def url(self) -> str | None:
        """The API's base URL (None with ``api=False``)."""
        return self.api.url if self.api else None

    @checked
    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke the router directly (``{"command", "version", ...}``)."""
        return self.router_function.grant_invoke(grantee)

    # --- internals -------------------------------------------------------------------------

    def _routes_json(self) -> str:
        commands: dict[str, object] = {}
        for name, versions in self.commands.items():
            commands[name] = {
                "default": self._defaults[name],
                "versions": {
                    version: {
                        "function": function.function_arn,
                        "async": next(
                            v.asynchronous
                            for v in self._versions
                            if v.name == name and v.version == version
                        ),
                    }
                    for version, function in versions.items()
                },
            }
        return _tree.stack(self).to_json_string({"commands": commands})

    def _validate_commands(self) -> list[str]:
        """Synth-time check: a router with no command registered routes nothing."""
        if self.commands:
            return []
        return [
            f"CommandRouter at '{_tree.path(self)}': no command is registered "
            "(allowed: call add_command(name, handler) at least once)"
        ]

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This router's dashboard segment: API, router, each receiver, failure queues."""
        widgets: list[cloudwatch.IWidget] = [dashboards.header("CommandRouter", self)]
        if self.api is not None:
            widgets += dashboards.api_widgets("API", self.api)
        widgets += dashboards.function_widgets(
            "Router", self.router_function, function_timeout_seconds(self.router_function)
        )
        for registered in self._versions:
            label = f"{registered.name} {registered.version}"
            widgets += dashboards.function_widgets(
                label, registered.function, function_timeout_seconds(registered.function)
            )
            if registered.failure_queue is not None:
                widgets.append(
                    dashboards.dead_letter_widget(f"{label}: failed", registered.failure_queue)
                )
        return [*widgets, *dashboards.alarm_widget(self.alarms)]

    def _build_api(
        self,
        authorization: Authorization,
        user_pool: cognito.IUserPool | None,
        throttle_rate: float,
        throttle_burst: int,
        api_name: str | None,
    ) -> apigateway.RestApi:
        if authorization == "COGNITO":
            assert user_pool is not None
            method_options = apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.COGNITO,
                authorizer=apigateway.CognitoUserPoolsAuthorizer(
                    self, "Authorizer", cognito_user_pools=[user_pool]
                ),
            )
        elif authorization == "NONE":
            method_options = apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.NONE
            )
        else:
            method_options = apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM
            )
        api = secure_rest_api(
            self,
            description=f"Command API of {_tree.path(self)}",
            throttle_rate=throttle_rate,
            throttle_burst=throttle_burst,
            method_options=method_options,
            name=api_name,
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigateway.LambdaIntegration(self.router_function)
        commands = api.root.add_resource("commands")
        commands.add_method("GET", integration, request_validator=validator)
        commands.add_resource("{name}").add_method(
            "POST",
            integration,
            request_validator=validator,
            request_parameters={"method.request.path.name": True},
        )
        acknowledge_stage_findings(api)
        unauthenticated = (
            "Unauthenticated by the explicit choice allow_unauthenticated=True."
            if authorization == "NONE"
            else ""
        )
        for method in api.methods:
            acknowledge_method_findings(
                method, unauthenticated=unauthenticated, iam=authorization == "IAM"
            )
        self._book.api_server_errors(
            self, "Api5xxAlarm", api, behind="the router's logs (the receiver's error it relays)"
        )
        return api


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
