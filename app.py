#!/usr/bin/env python3
"""The CDK app of the example stacks: ``npx cdk synth`` / ``make deploy``."""

import aws_cdk as cdk

from examples import build_examples

app = cdk.App()
build_examples(app)
app.synth()
