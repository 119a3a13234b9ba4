"""CommandRouter example: account commands behind one IAM-authorized endpoint."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from examples._shared import lambda_code, table
from serverless_patterns import CommandRouter, PatternsDashboard, ServerlessFunction
from serverless_patterns.alarms import encrypted_alarm_topic


class CommandRouterExampleStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # Filled at synthesis: every construct of this stack, created below, gets a segment.
        PatternsDashboard(self, "Dashboard")
        users = table(self, "UsersTable", "id")
        router = CommandRouter(
            self, "Accounts", alarm_topic=encrypted_alarm_topic(self, "AlarmTopic")
        )

        def receiver(id: str, folder: str, *actions: str) -> ServerlessFunction:
            function = ServerlessFunction(
                self,
                id,
                code=lambda_code(folder),
                service_name=folder.replace("_", "-"),
                timeout=Duration.seconds(10),
                environment={"TABLE_NAME": users.table_name},
            )
            users.grant(function, *actions)
            return function

        router.add_command(
            "get-user",
            receiver("GetUserV1Function", "account_get_user_v1", "dynamodb:GetItem"),
            version="v1",
            default=True,
        )
        router.add_command(
            "get-user",
            receiver("GetUserV2Function", "account_get_user_v2", "dynamodb:GetItem"),
            version="v2",
        )
        router.add_command(
            "create-user",
            receiver("CreateUserFunction", "account_create_user", "dynamodb:PutItem"),
        )
        router.add_command(
            "send-welcome-email",
            receiver("SendWelcomeEmailFunction", "account_send_welcome_email", "dynamodb:PutItem"),
            asynchronous=True,
        )

        assert router.api is not None
        CfnOutput(self, "CommandsUrl", value=router.api.url_for_path("/commands"))
        CfnOutput(self, "UsersTableName", value=users.table_name)
