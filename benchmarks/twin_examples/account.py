"""ApiGatewayAccount: the account's API Gateway CloudWatch Logs role, kept on delete."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from constructs import Construct


class ApiGatewayAccountTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        logging = Construct(self, "ApiGatewayLogging")
        role = iam.Role(
            logging,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "apigateway.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description="API Gateway writes the account's API logs to CloudWatch Logs",
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        policy = iam.Policy(
            logging,
            "Policy",
            roles=[role],
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
                        f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:*"
                    ],
                )
            ],
        )
        policy.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(logging, "Account", cloud_watch_role_arn=role.role_arn)
        account.node.add_dependency(policy)
