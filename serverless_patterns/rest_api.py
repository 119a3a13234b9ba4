"""REST APIs with the library's defaults, shared by every construct that fronts a service.

Regional endpoint, X-Ray tracing, stage throttling, JSON access logs with a finite retention,
no account-wide CloudWatch role, authorization explicit on every method.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from serverless_patterns.nag import acknowledge


def secure_rest_api(
    scope: Construct,
    *,
    description: str,
    throttle_rate: float,
    throttle_burst: int,
    method_options: apigateway.MethodOptions,
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    stage_name: str = "v1",
) -> apigateway.RestApi:
    """``Api`` and its ``AccessLogs`` log group in ``scope``."""
    access_logs = logs.LogGroup(scope, "AccessLogs", retention=access_log_retention)
    return apigateway.RestApi(
        scope,
        "Api",
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


def acknowledge_rest_api_findings(api: apigateway.RestApi) -> None:
    """The acknowledgements every REST API of this library carries, each with its reason.

    Call after all methods are added (IAM-authorized methods are acknowledged one by one).
    """
    acknowledge_stage_findings(api)
    for method in api.methods:
        acknowledge_method_findings(method)


def acknowledge_stage_findings(api: apigateway.RestApi) -> None:
    """Stage-level acknowledgements (execution logging, WAF)."""
    stage = api.deployment_stage
    acknowledge(
        stage,
        "AwsSolutions-APIG6",
        "Access logs are on; execution logging needs the account-wide API Gateway CloudWatch "
        "role, which a library construct must not create or replace.",
    )
    acknowledge(
        stage,
        "AwsSolutions-APIG3",
        "Authorized, throttled API; associate a WAF web ACL where the API is exposed to "
        "untrusted networks (an account-level decision).",
    )


def acknowledge_method_findings(method: apigateway.Method, *, unauthenticated: str = "") -> None:
    """Per-method acknowledgements: COG4 for IAM methods; APIG4 and COG4 with a reason when
    the method is deliberately without IAM/Cognito authorization (``unauthenticated``)."""
    if unauthenticated:
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(method, rule, unauthenticated)
        return
    cfn_method = method.node.default_child
    if (
        isinstance(cfn_method, apigateway.CfnMethod)
        and method.stack.resolve(cfn_method.authorization_type) == "AWS_IAM"
    ):
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "Callers are authorized with IAM (SigV4), not a Cognito user pool.",
        )
