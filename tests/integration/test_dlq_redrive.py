"""``serverless-patterns redrive`` end to end: real dead-lettered work, made by faults the
emulator injects (a table that refuses writes, a missing grant), is put back once the fault is
gone, and then completes where it failed.

Each test parks what other tests left in the queues it redrives (and puts it back afterwards,
pass or fail), so that only its own messages are redriven and every other test's counts hold
whatever the order. Faults and grants are restored, pass or fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from serverless_patterns import cli
from tests.integration.conftest import Deployed
from tools import demo, deploy

pytestmark = pytest.mark.slow

#: The examples whose dead-lettered work these tests redrive.
STACKS = (
    "QueueWorkerExample",
    "CommandRouterExample",
    "KinesisExample",
    "PipelineStateMachineExample",
)


@pytest.fixture(scope="module", autouse=True)
def examples(
    deployed: Deployed, local: demo.Local, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The examples deployed, again if a test destroyed them (test_local_deploy's last test
    destroys every example and deploys one back)."""
    listed = local.client("cloudformation").list_stacks()["StackSummaries"]
    live = {
        s["StackName"] for s in listed if s["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    }
    missing = [name for name in STACKS if name not in live]
    if missing:
        deploy.deploy_local(
            deployed.emulator,
            assembly=tmp_path_factory.mktemp("cdk.out"),
            bootstrap=False,
            quiet=True,
            stacks=missing,
            context={"legacy_inventory_url": f"http://127.0.0.1:{deployed.legacy_port}"},
        )
        local.control("refresh", method="POST")


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment without AWS settings: the redrive must use dummy credentials itself."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return dict(os.environ)


def redrive(local: demo.Local, stack: str, construct: str, *options: str) -> int:
    where = ["--stack", stack, "--construct", construct, "--endpoint-url", local.endpoint]
    return cli.main(["redrive", *where, *options])


# --- helpers: parking other tests' messages, faults, waiting ----------------------------------


def _move_all(local: demo.Local, source: str, target: str) -> int:
    sqs, moved = local.client("sqs"), 0
    while True:
        answer = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=10,
            VisibilityTimeout=600,
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            attributes = {
                name: {
                    k: v
                    for k, v in value.items()
                    if k in ("DataType", "StringValue", "BinaryValue")
                }
                for name, value in message.get("MessageAttributes", {}).items()
            }
            sqs.send_message(
                QueueUrl=target,
                MessageBody=message["Body"],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


@contextmanager
def parked(local: demo.Local, *queues: str) -> Iterator[None]:
    """The messages of ``queues`` (URLs or names) elsewhere for the block, then back."""
    sqs = local.client("sqs")
    parking = {
        local.queue_url(queue): sqs.create_queue(QueueName=f"parked-{uuid.uuid4().hex[:12]}")[
            "QueueUrl"
        ]
        for queue in queues
    }
    for queue, place in parking.items():
        _move_all(local, queue, place)
    try:
        yield
    finally:
        for queue, place in parking.items():
            _move_all(local, place, queue)
            sqs.delete_queue(QueueUrl=place)


@contextmanager
def failing(local: demo.Local, service: str, operation: str) -> Iterator[None]:
    """Every call of ``operation`` fails for the block (a resource that is not there)."""
    local.fault(
        service=service, operation=operation, error="ResourceNotFoundException", count=100_000
    )
    try:
        yield
    finally:
        local.clear_faults()


@contextmanager
def without_grant(local: demo.Local, function: str, action: str) -> Iterator[None]:
    """``function``'s role loses ``action`` for the block (the emulator enforces IAM for it)."""
    iam = local.client("iam")
    role = local.client("lambda").get_function_configuration(FunctionName=function)["Role"]
    role = role.rsplit("/", 1)[-1]
    (name,) = [
        n for n in iam.list_role_policies(RoleName=role)["PolicyNames"] if "DefaultPolicy" in n
    ]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        kept = [a for a in ([actions] if isinstance(actions, str) else actions) if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    reduced = {**document, "Statement": statements}
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(reduced))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def wait_for(local: demo.Local, what: str, until: Callable[[], bool], timeout: float = 120) -> None:
    assert local.settle(until=until, timeout=timeout), f"timed out waiting for {what}"


# --- a QueueWorker's DLQ ----------------------------------------------------------------------


def test_a_queue_workers_dead_letters_go_back_and_are_stored(
    local: demo.Local, no_aws_credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = local.outputs("QueueWorkerExample")
    dlq, table = out["DeadLetterQueueUrl"], out["TableName"]
    run = uuid.uuid4().hex[:8]
    with parked(local, dlq):
        with failing(local, "dynamodb", "PutItem"):
            local.client("sqs").send_message_batch(
                QueueUrl=local.queue_url(out["QueueUrl"]),
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": json.dumps(
                            {"order_id": f"{run}-{i}", "items": [{"quantity": 1, "unit_price": 2}]}
                        ),
                    }
                    for i in range(3)
                ],
            )
            with local.retries_faster():  # every order fails: received until dead-lettered
                wait_for(local, "3 dead letters", lambda: local.depth(dlq) == 3)
        assert local.count(table, "order_id", run) == 0

        assert redrive(local, "QueueWorkerExample", "Orders", "--dry-run") == 0
        dry = capsys.readouterr().out
        assert "(dry run): would move 3, would replay 0, would fail 0; in the queue 3" in dry
        assert local.depth(dlq) == 3  # nothing changed

        assert redrive(local, "QueueWorkerExample", "Orders") == 0
        printed = capsys.readouterr().out
        assert (
            "QueueWorkerExample/Orders/DeadLetterQueue: moved 3, replayed 0, failed 0, left 0"
            in printed
        ), printed
        wait_for(local, "the orders stored", lambda: local.count(table, "order_id", run) == 3)
        assert local.depth(dlq) == 0


# --- Lambda asynchronous invocation records (the console script) ------------------------------


def test_a_commands_async_failure_record_is_invoked_again_by_the_console_script(
    local: demo.Local, no_aws_credentials: dict[str, str]
) -> None:
    router = local.physical("CommandRouterExample", "AccountsRouterFunction")
    failures = local.physical("CommandRouterExample", "AccountsSendWelcomeEmailV1FailureQueue")
    table = local.outputs("CommandRouterExample")["UsersTableName"]
    user = f"u-{uuid.uuid4().hex[:8]}"

    def welcomed() -> bool:
        return any(i["id"] == f"email#{user}" for i in local.items(table))

    script = Path(sys.executable).parent / "serverless-patterns"
    assert script.exists(), "the console script is not installed: run make setup"
    with parked(local, failures):
        with failing(local, "dynamodb", "PutItem"):
            accepted = local.invoke(
                router, {"command": "send-welcome-email", "payload": {"id": user}}
            )
            assert accepted["statusCode"] == 202
            with local.retries_faster():  # Lambda's two retries (after 1 and 2 minutes) fail
                wait_for(local, "the failure record", lambda: local.depth(failures) == 1)
        assert not welcomed()

        done = subprocess.run(
            [
                str(script),
                "redrive",
                "--stack",
                "CommandRouterExample",
                "--construct",
                "CommandRouterExample/Accounts",
                "--endpoint-url",
                local.endpoint,
            ],
            env=no_aws_credentials,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        assert done.returncode == 0, done.stdout + done.stderr
        assert "(lambda-async)" in done.stdout
        assert "moved 0, replayed 1, failed 0, left 0" in done.stdout
        assert "] 1/1" in done.stderr  # the progress bar
        wait_for(local, "the welcome email recorded", welcomed)
        assert local.depth(failures) == 0


# --- Kinesis on-failure records -----------------------------------------------------------------


def test_kinesis_failure_records_are_replayed_and_the_clicks_archived(
    local: demo.Local, no_aws_credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    archiver = local.physical("KinesisExample", "ArchiverFunction")
    bucket = local.physical("KinesisExample", "ArchiveBucket")
    failures = local.physical("KinesisExample", "ClicksArchiveFailureQueue")
    aggregator_failures = local.physical("KinesisExample", "ClicksConsumerFailureQueue")
    stream = local.outputs("KinesisExample")["StreamName"]
    run = uuid.uuid4().hex[:8]

    def archived() -> int:
        s3, total = local.client("s3"), 0
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="clicks/").get("Contents", []):
            total += (
                s3.get_object(Bucket=bucket, Key=item["Key"])["Body"]
                .read()
                .count(f"/{run}/".encode())
            )
        return total

    with parked(local, failures, aggregator_failures):
        with without_grant(local, archiver, "s3:PutObject"):
            answer = local.client("kinesis").put_records(
                StreamName=stream,
                Records=[
                    {
                        "Data": json.dumps({"page": f"/{run}/p{i}", "user_id": f"u{i}"}).encode(),
                        "PartitionKey": f"u{i}",
                    }
                    for i in range(3)
                ],
            )
            sequences = {r["SequenceNumber"] for r in answer["Records"]}

            def reported() -> set[str]:
                return {
                    json.loads(m["Body"])["KinesisBatchInfo"]["startSequenceNumber"]
                    for m in local.messages(failures)
                }

            wait_for(local, "3 on-failure records", lambda: reported() >= sequences)
        assert archived() == 0

        assert redrive(local, "KinesisExample", "Clicks") == 0
        printed = capsys.readouterr().out
        assert "KinesisExample/Clicks/Archive/FailureQueue (kinesis)" in printed, printed
        assert "moved 0, replayed 3, failed 0, left 0" in printed, printed
        wait_for(local, "the clicks archived", lambda: archived() == 3, timeout=30)
        assert local.depth(failures) == 0


# --- FilterPipeline's dead-letter queue ----------------------------------------------------------


def test_a_pipelines_dead_letter_item_goes_back_on_its_input_and_is_persisted(
    local: demo.Local, no_aws_credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stack = "PipelineStateMachineExample"
    out = local.outputs(stack)
    dlq = local.physical(stack, "OrdersDeadLetterQueue")
    input_dlq = local.physical(stack, "OrdersInputDeadLetterQueue")
    order = f"{uuid.uuid4().hex[:8]}-redriven"

    def stored() -> bool:
        return any(i.get("order_id") == order for i in local.items(out["TableName"]))

    with parked(local, dlq, input_dlq):
        with failing(local, "dynamodb", "PutItem"):  # the persist stage fails
            local.client("sqs").send_message(
                QueueUrl=local.queue_url(out["InputQueueUrl"]),
                MessageBody=json.dumps(demo.order(order)),
            )
            wait_for(local, "the dead-lettered item", lambda: local.depth(dlq) == 1)
        (dead,) = [json.loads(m["Body"]) for m in local.messages(dlq)]
        assert (dead["stage"], dead["item"]["order_id"]) == ("persist", order)
        assert not stored()

        assert redrive(local, stack, "Orders") == 0
        printed = capsys.readouterr().out
        assert (
            f"{stack}/Orders/DeadLetterQueue (pipeline): item onto {stack}/Orders/Input/Queue"
        ) in printed, printed
        assert f"{stack}/Orders/DeadLetterQueue: moved 0, replayed 1, failed 0, left 0" in printed
        wait_for(local, "the order persisted", stored)
        assert local.depth(dlq) == 0


def test_a_replay_that_fails_again_keeps_the_message_and_exits_1(
    local: demo.Local, no_aws_credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """While the grant is still missing, the replayed records fail again: the on-failure
    record is kept (visible again for the next run) and the run exits 1."""
    archiver = local.physical("KinesisExample", "ArchiverFunction")
    failures = local.physical("KinesisExample", "ClicksArchiveFailureQueue")
    aggregator_failures = local.physical("KinesisExample", "ClicksConsumerFailureQueue")
    stream = local.outputs("KinesisExample")["StreamName"]
    with (
        parked(local, failures, aggregator_failures),
        without_grant(local, archiver, "s3:PutObject"),
    ):
        local.client("kinesis").put_record(
            StreamName=stream, Data=json.dumps({"page": "/again"}).encode(), PartitionKey="again"
        )
        wait_for(local, "the on-failure record", lambda: local.depth(failures) == 1)

        assert redrive(local, "KinesisExample", "Clicks") == 1
        printed = capsys.readouterr().out
        assert "replayed 0, failed 1, left 1" in printed, printed
        assert f"{archiver} failed (Unhandled): AccessDenied" in printed, printed
        # Kept, and visible again at once for the next run.
        assert len(local.messages(failures)) == 1
