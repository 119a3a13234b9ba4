#!/usr/bin/env python3
import aws_cdk as cdk
from user_app.api_stack import ApiStack
from user_app.platform_stack import PlatformStack
from user_app.service_stack import ServiceStack

app = cdk.App()
env = cdk.Environment(account="123456789012", region="eu-west-1")
platform = PlatformStack(app, "Platform", env=env)
services = ServiceStack(app, "Services", platform=platform, env=env)
ApiStack(app, "Api", platform=platform, services=services, env=env)
app.synth()
