"""REST APIs with the library's defaults, shared by every construct that fronts a service.

Regional endpoint, X-Ray tracing, stage throttling, JSON access logs with a finite retention,
authorization explicit on every method, and a name of its own (API Gateway's metrics, and so the
library's alarms, select an API by name). API Gateway needs the account's CloudWatch Logs role
before any stage may log; :class:`ApiGatewayAccountLogging` sets it, once per account and region.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from serverless_patterns import _tree
from serverless_patterns._typecheck import checked
from serverless_patterns._validation import Problems
from serverless_patterns.nag import acknowledge, acknowledge_all

#: API Gateway's limit on a REST API's name.
MAX_API_NAME = 1024


def default_api_name(scope: Construct) -> str:
    """``<stack name>-<path below the stack>`` of ``scope``: unique in an account and region,
    as stack names are, and readable in the console and in metric dimensions."""
    below = _tree.path(scope)[len(_tree.path(_tree.stack(scope))) :].strip("/")
    name = "-".join(part for part in (_tree.stack_name(scope), below.replace("/", "-")) if part)
    return name[:MAX_API_NAME]


def authorization_mode(authorization: str | apigateway.AuthorizationType) -> str:
    """The library's name of an authorization mode, for CDK's enum too
    (``AuthorizationType.IAM`` -> ``"IAM"``); the constructs check the name."""
    if isinstance(authorization, apigateway.AuthorizationType):
        return authorization.name
    return authorization


def check_api_name(problems: Problems, name: str | None) -> None:
    """Record a problem for a given ``name`` API Gateway would refuse."""
    if name is not None and (not name.strip() or len(name) > MAX_API_NAME or "\n" in name):
        problems.add(
            "api_name", name, "is not a REST API name", f"1..{MAX_API_NAME} characters, one line"
        )


def secure_rest_api(
    scope: Construct,
    *,
    description: str,
    throttle_rate: float,
    throttle_burst: int,
    method_options: apigateway.MethodOptions,
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    stage_name: str = "v1",
    name: str | None = None,
) -> apigateway.RestApi:
    """``Api`` and its ``AccessLogs`` log group in ``scope``, named ``name`` or after ``scope``."""
    access_logs = logs.LogGroup(scope, "AccessLogs", retention=access_log_retention)
    return apigateway.RestApi(
        scope,
        "Api",
        rest_api_name=name or default_api_name(scope),
        description=description,
        endpoint_types=[apigateway.EndpointType.REGIONAL],
        cloud_watch_role=False,
        deploy_options=apigateway.StageOptions(
            stage_name=stage_name,
            tracing_enabled=True,
            metrics_enabled=True,
            throttling_rate_limit=throttle_rate,
            throttling_burst_limit=throttle_burst,
            access_log_destination=apigateway.LogGroupLogDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        ),
        default_method_options=method_options,
    )


def acknowledge_rest_api_findings(api: apigateway.RestApi, *, iam: bool | None = None) -> None:
    """The acknowledgements every REST API of this library carries, each with its reason.

    Call after all methods are added (IAM-authorized methods are acknowledged one by one;
    ``iam``: whether all of them are, when the caller set it, else read from each method).
    """
    acknowledge_stage_findings(api)
    for method in api.methods:
        acknowledge_method_findings(method, iam=iam)


def acknowledge_stage_findings(
    api: apigateway.RestApi, *, stage: apigateway.Stage | None = None
) -> None:
    """Stage-level acknowledgements (execution logging, WAF) on ``stage``, by default the
    API's deployment stage."""
    acknowledge_all(
        stage or api.deployment_stage,
        cdk_nag={
            "AwsSolutions-APIG6": (
                "Access logs are on; execution logs (every request's detail, including "
                "payloads) are left off on purpose: they cost per request and can carry "
                "personal data."
            ),
            "AwsSolutions-APIG3": (
                "Authorized, throttled API; associate a WAF web ACL where the API is exposed to "
                "untrusted networks (an account-level decision)."
            ),
        },
    )


def acknowledge_method_findings(
    method: apigateway.Method, *, unauthenticated: str = "", iam: bool | None = None
) -> None:
    """Per-method acknowledgements: COG4 for IAM methods; APIG4 and COG4 with a reason when
    the method is deliberately without IAM/Cognito authorization (``unauthenticated``).

    ``iam``: whether the method is IAM-authorized, where the caller set its authorization
    (the default method options it gave the API); default: read from the method.
    """
    if unauthenticated:
        acknowledge_all(
            method,
            cdk_nag={rule: unauthenticated for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4")},
        )
        return
    if iam is None:
        cfn_method = method.node.default_child
        iam = (
            isinstance(cfn_method, apigateway.CfnMethod)
            and method.stack.resolve(cfn_method.authorization_type) == "AWS_IAM"
        )
    if iam:
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "Callers are authorized with IAM (SigV4), not a Cognito user pool.",
        )


class ApiGatewayAccountLogging(Construct):
    """The account's API Gateway CloudWatch Logs role, which every logging stage needs.

    API Gateway writes a stage's access (and execution) logs with one role per account and
    region, set in the account settings; where nobody set it, a stage that logs fails to deploy
    with "CloudWatch Logs role ARN must be set in account settings to enable logging". Deploy
    this construct once per account and region, in a stack of its own, and make the stacks with
    APIs depend on that stack (``api_stack.add_stack_dependency(account_stack)``).

    The role is kept when the stack is deleted: the setting outlives the stack, and deleting the
    role would stop the logs of every API of the account. Its permissions are the log-writing
    actions of AWS's ``AmazonAPIGatewayPushToCloudWatchLogs`` policy, on this account's and
    region's log groups.

    Args:
        scope: parent construct.
        id: construct id.
    """

    @checked
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "apigateway.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="API Gateway writes the account's API logs to CloudWatch Logs",
        )
        """The role API Gateway writes logs with."""
        self.role.apply_removal_policy(RemovalPolicy.RETAIN)
        policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                        "logs:GetLogEvents",
                        "logs:FilterLogEvents",
                    ],
                    resources=[
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                )
            ],
        )
        policy.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]",
            "API Gateway writes access and execution logs of every API of the account and region "
            "(groups named per API and stage, and the access log groups of each stage).",
        )
        self.account = apigateway.CfnAccount(
            self, "Account", cloud_watch_role_arn=self.role.role_arn
        )
        """The account settings (``AWS::ApiGateway::Account``)."""
        self.account.node.add_dependency(policy)
