"""CommandRouterExample: account commands behind one IAM-authorized endpoint and a router."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from benchmarks.twin_examples import _common as c
from benchmarks.twin_examples._layers import PACKAGED_HANDLERS, code, powertools_layer

#: (construct id, lambda_src folder, grant, command, version, invoked asynchronously)
RECEIVERS = (
    ("GetUserV1Function", "account_get_user_v1", "dynamodb:GetItem", "get-user", "v1", False),
    ("GetUserV2Function", "account_get_user_v2", "dynamodb:GetItem", "get-user", "v2", False),
    ("CreateUserFunction", "account_create_user", "dynamodb:PutItem", "create-user", "v1", False),
    (
        "SendWelcomeEmailFunction",
        "account_send_welcome_email",
        "dynamodb:PutItem",
        "send-welcome-email",
        "v1",
        True,
    ),
)


class CommandRouterExampleTwin(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        board = c.dashboard(self)
        users = c.table(self, "UsersTable", "id")
        alarm_topic = c.alarm_topic(self, "AlarmTopic")
        accounts = Construct(self, "Accounts")
        layer = powertools_layer(self)
        router = c.function(
            accounts,
            "RouterFunction",
            layer=layer,
            code_=code(PACKAGED_HANDLERS / "router"),
            service_name="CommandRouterExample-Accounts",
            timeout=29,
            description=f"Dispatches the commands of {accounts.node.path}",
        )
        book = c.Alarms(alarm_topic)
        book.function_health(
            accounts,
            "Router",
            router,
            timeout=29,
            after_failure="Callers got the error; nothing is kept for a retry.",
        )
        api = c.rest_api(
            accounts,
            name="CommandRouterExample-Accounts",
            description=f"Command API of {accounts.node.path}",
            throttle_rate=50,
            throttle_burst=100,
            authorization_type=apigateway.AuthorizationType.IAM,
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigateway.LambdaIntegration(router)
        commands = api.root.add_resource("commands")
        commands.add_method("GET", integration, request_validator=validator)
        commands.add_resource("{name}").add_method(
            "POST",
            integration,
            request_validator=validator,
            request_parameters={"method.request.path.name": True},
        )
        book.alarm(
            accounts,
            "Api5xxAlarm",
            f"{accounts.node.path}: more than 5% of the API's requests were answered 5XX. First: "
            "the API's access log (status, integration error) and the router's logs (the "
            "receiver's error it relays); callers see the errors, nothing is kept for a retry.",
            api.metric_server_error(period=c.FIVE_MINUTES, statistic=cloudwatch.Stats.AVERAGE),
            0.05,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=c.GT,
        )

        routes: dict[str, dict[str, object]] = {}
        widgets: list[cloudwatch.IWidget] = [
            c.header("CommandRouter", accounts.node.path),
            *c.api_widgets("API", api),
            *c.function_widgets("Router", router, 29),
        ]
        for fn_id, folder, action, command, version, asynchronous in RECEIVERS:
            function = c.function(
                self,
                fn_id,
                layer=layer,
                folder=folder,
                service_name=folder.replace("_", "-"),
                timeout=10,
                environment={"TABLE_NAME": users.table_name},
            )
            users.grant(function, action)
            key = "".join(part.capitalize() for part in command.split("-")) + version.upper()
            router.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[function.function_arn]
                )
            )
            after = "Callers got the error; nothing is kept for a retry."
            failures = None
            if asynchronous:
                failures = c.dead_letter_queue(accounts, f"{key}FailureQueue")
                lambda_.EventInvokeConfig(
                    accounts,
                    f"{key}InvokeConfig",
                    function=function,
                    on_failure=destinations.SqsDestination(failures),
                    retry_attempts=2,
                )
                book.dead_letter(
                    accounts,
                    f"{key}FailureAlarm",
                    failures,
                    consumer=f"the record's responsePayload and the logs of {function.node.path}",
                    redrive_command=c.redrive(id, "Accounts"),
                )
                after = f"Failed invocations are retried twice, then kept in {failures.node.path}."
            book.function_health(accounts, key, function, timeout=10, after_failure=after)
            entry = routes.setdefault(command, {"default": "v1", "versions": {}})
            entry["versions"][version] = {  # type: ignore[index]
                "function": function.function_arn,
                "async": asynchronous,
            }
            label = f"{command} {version}"
            widgets += c.function_widgets(label, function, 10)
            if failures is not None:
                widgets.append(c.dead_letter_widget(f"{label}: failed", failures))
        router.add_environment("COMMAND_ROUTES", self.to_json_string({"commands": routes}))
        widgets.append(c.alarm_widget(book.alarms, 7))
        c.add_segment(board, widgets)

        CfnOutput(self, "CommandsUrl", value=api.url_for_path("/commands"))
        CfnOutput(self, "UsersTableName", value=users.table_name)
