"""The floor of a cold ``python app.py``: import aws_cdk and synthesize one stack with one queue.

Run by ``benchmarks/cold.py`` in a fresh process, with the same environment as ``app.py``.
"""

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs

app = cdk.App()
stack = cdk.Stack(app, "Floor")
sqs.Queue(stack, "Queue")
app.synth()
