"""The account settings the API examples need: API Gateway's CloudWatch Logs role.

Deployed once per account and region, before the stacks whose API stages write access logs
(they depend on this stack). Nothing here bills; the role is kept when the stack is deleted, as
the account setting that names it outlives the stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from serverless_patterns import ApiGatewayAccountLogging


class ApiGatewayAccountStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.logging = ApiGatewayAccountLogging(self, "ApiGatewayLogging")
