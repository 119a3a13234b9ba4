"""The team's own functions, on the runtimes it chose, plugged into the platform's patterns."""

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from user_app.platform_stack import PlatformStack

from serverless_patterns import (
    FilterPipeline,
    KinesisBatchConsumer,
    QueueWorker,
    ServerlessFunction,
    Stage,
)

ACCOUNT = "123456789012"


def function(
    scope: Construct, name: str, folder: str, runtime: lambda_.Runtime
) -> lambda_.Function:
    return lambda_.Function(
        scope,
        name,
        runtime=runtime,
        architecture=lambda_.Architecture.X86_64,
        handler="index.handler",
        code=lambda_.Code.from_asset(f"functions/{folder}"),
        timeout=Duration.seconds(20),
    )


class ServiceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: PlatformStack, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        py312, py313 = lambda_.Runtime.PYTHON_3_12, lambda_.Runtime.PYTHON_3_13
        self.worker = function(self, "Worker", "worker", py312)
        self.receiver = function(self, "Receiver", "receiver", py313)
        self.mailer = function(self, "Mailer", "receiver", py312)
        self.validate = function(self, "Validate", "stages", py312)
        self.enrich = function(self, "Enrich", "stages", py313)
        self.screen = function(self, "Screen", "stages", py312)
        self.persist = function(self, "Persist", "stages", py313)

        # The platform's constructs, fed by this stack's functions (this stack depends on it).
        platform.events.add_worker(self.worker, batch_size=5)
        platform.events.add_lambda_subscriber(
            function(self, "Audit", "worker", py313),
            filter_policy={"type": ["OrderPlaced", {"prefix": "Refund"}]},  # SNS's JSON form
        )
        platform.jobs = QueueWorker(
            platform, "Jobs", handler=function(self, "Jobs", "worker", py313)
        )
        platform.clicks = KinesisBatchConsumer(
            platform,
            "Clicks",
            handler=function(self, "Clicks", "worker", py312),
            alarm_topic=platform.alarm_topic,
            filters=[{"data": {"kind": ["click"]}}],
        )
        FilterPipeline(
            platform,
            "Orders",
            stages=[
                Stage(name="validate", handler=self.validate),
                Stage(name="enrich", handler=self.enrich),
            ],
            alarm_topic=platform.alarm_topic,
        )

        # Two QueueWorkers in one stack, one on an imported queue with its DLQ, both notifying
        # the platform's (cross-stack) alarm topic; one on the library's own function.
        QueueWorker(
            self,
            "Imports",
            handler=function(self, "Importer", "worker", py313),
            queue=sqs.Queue.from_queue_arn(
                self, "ImportQueue", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:imports"
            ),
            dead_letter_queue=sqs.Queue.from_queue_arn(
                self, "ImportDlq", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:imports-dlq"
            ),
            alarm_topic=platform.alarm_topic,
        )
        QueueWorker(
            self,
            "Reports",
            handler=ServerlessFunction(
                self,
                "Reporter",
                code=lambda_.Code.from_asset("functions/worker"),
                handler="index.handler",
            ),
            alarm_topic=platform.alarm_topic,
        )
        # An imported function with its role, as a second consumer of the stream.
        platform.clicks.add_consumer(
            lambda_.Function.from_function_attributes(
                self,
                "Sessionizer",
                function_arn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:sessionizer",
                role=iam.Role.from_role_arn(
                    self, "SessionizerRole", f"arn:aws:iam::{ACCOUNT}:role/sessionizer"
                ),
            ),
            id="Sessions",
        )
