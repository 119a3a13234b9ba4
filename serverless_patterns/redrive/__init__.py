"""``serverless-patterns redrive``: dead-lettered work back to where it failed.

Given a stack and a construct path (or a DLQ's URL), every dead-letter or failure queue under
the path is found from the deployed template and redriven by what kept it there:

- an SQS queue's redrive policy: the messages back to the source queue (an SQS message move
  task where the service has one, else received, sent with their attributes, then deleted);
- Lambda's asynchronous invocation records: the function invoked again (Event) with
  ``requestPayload``; a function's own DLQ: invoked again with the event;
- Kinesis on-failure records: the records read again from the stream by their sequence
  numbers and given to the consumer (synchronously), the record deleted when all succeeded;
- FilterPipeline's dead-letter queue: the failed ``item`` back onto the pipeline's input;
- an SNS subscription's DLQ: the notification to the subscriber (an SQS queue or a function).

``--dry-run`` describes without changing anything; ``--max N`` bounds the messages of a run.
A message is deleted only after its work was handed back; a failed one stays in its queue.
Exit status: 0 done, 1 something failed (the summary says what), 2 a usage or credentials
problem (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from serverless_patterns.redrive import _template as template
from serverless_patterns.redrive._aws import PROG, Aws, Client, UsageError, connect, require_boto3
from serverless_patterns.redrive._kinesis import StreamRoute
from serverless_patterns.redrive._routes import (
    AsyncRoute,
    FunctionDlqRoute,
    PipelineRoute,
    QueueRoute,
    Refused,
    Route,
    SubscriptionRoute,
)
from serverless_patterns.redrive._run import Budget, Tally, Target, run
from serverless_patterns.redrive._sqs import QueueRef, queue_ref

__all__ = ["add_arguments", "main"]

REFUSALS = {
    template.RULE_TARGET: (
        "events an EventBridge rule could not deliver are not redriven (the rule's input "
        "transformation would not be applied again): deliver them to the target yourself"
    ),
    template.SCHEDULE: (
        "invocations a Scheduler schedule could not deliver are not redriven: run the schedule "
        "again (serverless-patterns-local run-schedule locally)"
    ),
    template.PIPE: "events a pipe could not deliver are not redriven",
}
#: Routes that recognize their messages by shape come first; the catch-all ones after.
_ORDER = (StreamRoute, AsyncRoute, PipelineRoute, QueueRoute, SubscriptionRoute, FunctionDlqRoute)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("what to redrive (a construct of a stack, or a queue)")
    where.add_argument("--stack", help="the deployed stack's name")
    where.add_argument(
        "--construct",
        metavar="PATH",
        help="construct path in the stack (Orders, Uploads/Metadata; the stack's own prefix is "
        "accepted): every dead-letter or failure queue under it is redriven",
    )
    where.add_argument("--dlq-url", metavar="URL", help="one dead-letter queue, by its URL")
    where.add_argument(
        "--target-url",
        metavar="URL",
        help="with --dlq-url: move its messages to this queue, as they are",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="count and describe what would be done; change nothing",
    )
    parser.add_argument(
        "--max", type=int, metavar="N", help="handle at most N messages in this run"
    )
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="an AWS emulator's endpoint (default: AWS_ENDPOINT_URL, else AWS itself), e.g. "
        "http://localhost:5000",
    )
    parser.add_argument("--region", help="default: the configured region")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(__doc__ or "").split("\n\n", 1)[0].split(": ", 1)[-1],
        epilog="Exit status: 0 done, 1 something failed, 2 usage or credentials.",
    )
    add_arguments(parser)
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.dlq_url and (args.stack or args.construct):
        parser.error("give either --stack and --construct, or --dlq-url")
    if not args.dlq_url and not (args.stack and args.construct):
        parser.error("give --stack and --construct (or --dlq-url)")
    if args.target_url and not args.dlq_url:
        parser.error("--target-url goes with --dlq-url")
    if args.max is not None and args.max < 1:
        parser.error(f"--max must be at least 1, got {args.max}")


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: Mapping[str, Client] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run ``serverless-patterns redrive`` with ``argv``; the exit status. ``clients`` replace
    boto3's by service name (tests record calls with them)."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check(parser, args)
    except SystemExit as exit:
        return int(exit.code or 0)
    try:
        require_boto3()
    except UsageError as error:
        print(error, file=err)
        return 2
    import botocore.exceptions  # type: ignore[import-untyped]

    where = args.endpoint_url or "AWS"
    try:
        aws = connect(
            endpoint_url=args.endpoint_url,
            region=args.region,
            queue_url=args.dlq_url,
            overrides=clients,
        )
        where = aws.where
        return _redrive(aws, _targets(aws, args, err), args, out, err)
    except UsageError as error:
        print(error, file=err)
        return 2
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.NoRegionError,
    ) as error:
        print(f"{PROG}: {error}", file=err)
        return 2
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        print(f"{PROG}: {where}: {error}", file=err)
        return 2 if code in _CREDENTIALS_OR_ACCESS else 1
    except botocore.exceptions.BotoCoreError as error:
        print(f"{PROG}: {where}: {error}", file=err)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130


#: Errors that mean: these credentials cannot do this here (exit status 2, as a usage error).
_CREDENTIALS_OR_ACCESS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AccessDeniedException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
}


def _redrive(
    aws: Aws, targets: Sequence[Target], args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    budget = Budget(args.max)
    total = Tally()
    for target in targets:
        total.add(run(aws, target, dry_run=args.dry_run, budget=budget, out=out, err=err))
    queues = f"{len(targets)} queue{'s' if len(targets) != 1 else ''}"
    if args.dry_run:
        print(
            f"Total (dry run, {queues}): {total.line(dry_run=True, queues=len(targets))}",
            file=out,
        )
        return 0
    print(f"Total ({queues}): {total.line()}", file=out)
    return 1 if total.failed else 0


# --- finding the queues and their routes -----------------------------------------------------


def _targets(aws: Aws, args: argparse.Namespace, err: TextIO) -> list[Target]:
    if args.dlq_url:
        return [_dlq_target(aws, args.dlq_url, args.target_url)]
    stack = template.load(aws, args.stack)
    roles = template.dead_letter_roles(stack)
    if not stack.has_paths:
        print(
            f"{PROG}: {stack.name}'s template has no aws:cdk:path metadata (deployed with "
            "--no-path-metadata?): construct paths are matched against logical ids",
            file=err,
        )
    under = {resource.logical_id for resource in stack.under(args.construct)}
    chosen = [logical_id for logical_id in roles if logical_id in under]
    if not chosen:
        known = sorted(stack.relative(stack.resources[logical_id]) for logical_id in roles)
        listed = ", ".join(known) if known else "none"
        what = (
            f"no construct at {args.construct!r}"
            if not under
            else f"nothing under {args.construct!r} that is a dead-letter or failure queue"
        )
        raise UsageError(f"{PROG}: {stack.name} has {what}. Construct paths with one: {listed}")
    targets = [_stack_target(aws, stack, logical_id, roles[logical_id]) for logical_id in chosen]
    return sorted(targets, key=lambda t: t.queue.label)


def _physical_queue(aws: Aws, stack: template.StackView, resource: template.Resource) -> QueueRef:
    return queue_ref(aws, resource.physical_id, stack.display(resource))


def _function(stack: template.StackView, value: Any) -> tuple[str, str]:
    """A function reference of the template: its physical name (or ARN) and its label."""
    resource = stack.ref(value)
    if resource is not None:
        return resource.physical_id, stack.display(resource)
    return str(value), str(value).rsplit(":", 1)[-1]


def _stack_target(
    aws: Aws, stack: template.StackView, logical_id: str, roles: Sequence[template.Role]
) -> Target:
    resource = stack.resources[logical_id]
    label = stack.display(resource)
    if not resource.physical_id:
        queue = QueueRef(url="", arn="", label=label)
        return Target(queue, [Refused("missing", "the stack lists no physical id for it")])
    queue = _physical_queue(aws, stack, resource)
    routes: list[Route] = []
    by_kind: dict[str, list[template.Resource]] = {}
    for role in roles:
        owners = by_kind.setdefault(role.kind, [])
        if role.owner not in owners:  # a state machine names its DLQ once per stage
            owners.append(role.owner)
    for kind, owners in by_kind.items():
        routes += _routes(aws, stack, kind, owners)
    routes.sort(key=lambda r: next((i for i, c in enumerate(_ORDER) if isinstance(r, c)), 99))
    return Target(queue, routes)


def _routes(
    aws: Aws, stack: template.StackView, kind: str, owners: Sequence[template.Resource]
) -> list[Route]:
    if kind == template.QUEUE_REDRIVE:
        missing = [stack.display(o) for o in owners if not o.physical_id]
        if missing:
            return [Refused(kind, f"its source queue {missing[0]} is not deployed")]
        return [QueueRoute([_physical_queue(aws, stack, owner) for owner in owners])]
    if kind == template.ASYNC_FAILURE:
        labels = [_function(stack, o.properties.get("FunctionName"))[1] for o in owners]
        return [AsyncRoute(", ".join(labels))]
    if kind == template.STREAM_FAILURE:
        return [_stream_route(stack, owner) for owner in owners]
    if kind == template.SUBSCRIPTION:
        if len(owners) > 1:
            return [
                Refused(
                    kind,
                    f"it is the DLQ of {len(owners)} subscriptions and a message does not say "
                    "which subscriber it was for",
                )
            ]
        return [_subscription_route(aws, stack, owners[0])]
    if kind == template.FUNCTION_DLQ:
        if len(owners) > 1:
            return [Refused(kind, f"it is the DLQ of {len(owners)} functions")]
        return [FunctionDlqRoute(owners[0].physical_id, stack.display(owners[0]))]
    if kind == template.PIPELINE:
        return [_pipeline_route(aws, stack, owner) for owner in owners]
    return [Refused(kind, REFUSALS.get(kind, "not a kind of failure the redrive knows"))]


def _stream_route(stack: template.StackView, mapping: template.Resource) -> Route:
    props = mapping.properties
    source = stack.ref(props.get("EventSourceArn"))
    source_text = str(props.get("EventSourceArn"))
    if (
        source is not None and source.type == "AWS::DynamoDB::Table"
    ) or ":dynamodb:" in source_text:
        return Refused(
            "stream",
            "DynamoDB stream on-failure records are not replayed (Kinesis ones are)",
        )
    function, label = _function(stack, props.get("FunctionName"))
    window = props.get("TumblingWindowInSeconds")
    return StreamRoute(
        functions=label,
        batch_size=int(props.get("BatchSize") or 100),
        tumbling_seconds=int(window) if window else None,
        partial="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        function_name=function.rsplit(":", 1)[-1] if function else None,
    )


def _subscription_route(
    aws: Aws, stack: template.StackView, subscription: template.Resource
) -> Route:
    props = subscription.properties
    protocol = str(props.get("Protocol", "")).lower()
    topic = stack.ref(props.get("TopicArn"))
    topic_arn = topic.physical_id if topic is not None else str(props.get("TopicArn", ""))
    raw = str(props.get("RawMessageDelivery", "false")).lower() == "true"
    endpoint = stack.ref(props.get("Endpoint"))
    label = stack.display(endpoint) if endpoint is not None else str(props.get("Endpoint"))
    if protocol == "sqs":
        queue = (
            _physical_queue(aws, stack, endpoint)
            if endpoint is not None
            else queue_ref(aws, str(props.get("Endpoint")))
        )
        return SubscriptionRoute(protocol, topic_arn, raw, label, queue=queue)
    if protocol == "lambda":
        function, label = _function(stack, props.get("Endpoint"))
        return SubscriptionRoute(
            protocol,
            topic_arn,
            raw,
            label,
            function=function,
            subscription_arn=_subscription_arn(aws, topic_arn, function),
        )
    return Refused(
        template.SUBSCRIPTION,
        f"its subscriber is an {protocol or 'unknown'} endpoint, which only SNS can deliver to "
        "(publishing again to the topic would reach every subscriber)",
    )


def _subscription_arn(aws: Aws, topic_arn: str, function: str) -> str | None:
    name = function.rsplit(":", 1)[-1]
    try:
        pages = aws.client("sns").get_paginator("list_subscriptions_by_topic")
        for page in pages.paginate(TopicArn=topic_arn):
            for subscription in page.get("Subscriptions", []):
                endpoint = str(subscription.get("Endpoint", ""))
                if endpoint.split(":function:")[-1].split(":")[0] == name:
                    return str(subscription["SubscriptionArn"])
    except Exception:
        return None
    return None


def _pipeline_route(aws: Aws, stack: template.StackView, state_machine: template.Resource) -> Route:
    input_queue = None
    for resource in stack.resources.values():
        if (
            resource.type == "AWS::Pipes::Pipe"
            and stack.ref(resource.properties.get("Target")) == state_machine
        ):
            source = stack.ref(resource.properties.get("Source"))
            if source is not None and source.physical_id:
                input_queue = _physical_queue(aws, stack, source)
    return PipelineRoute(state_machine.physical_id, input_queue, stack.display(state_machine))


def _dlq_target(aws: Aws, dlq_url: str, target_url: str | None) -> Target:
    if target_url:
        queue = queue_ref(aws, dlq_url)
        return Target(queue, [QueueRoute([queue_ref(aws, target_url)], explicit=True)])
    queue = queue_ref(aws, dlq_url)
    found = template.find_by_queue_name(aws, queue.name)
    if found is not None:
        stack, resource = found
        roles = template.dead_letter_roles(stack).get(resource.logical_id)
        if roles:
            return _stack_target(aws, stack, resource.logical_id, roles)
    sources = aws.client("sqs").list_dead_letter_source_queues(QueueUrl=queue.url)
    routes: list[Route] = [
        StreamRoute(functions="the consumer each record names"),
        AsyncRoute("the function each record names"),
    ]
    urls = sources.get("queueUrls") or []
    if urls:
        routes.append(QueueRoute([queue_ref(aws, url) for url in urls]))
    routes.append(
        Refused(
            "unknown",
            "no stack this tool can read has this queue, and the message is not an invocation "
            "record: give --target-url",
        )
    )
    return Target(queue, routes)
