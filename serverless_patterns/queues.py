"""Encrypted, TLS-only SQS queues with a dead-letter queue: the durable edge of every pattern."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from serverless_patterns import _tree
from serverless_patterns.nag import acknowledge_created

#: SQS's visibility timeout for a queue that sets none.
SQS_DEFAULT_VISIBILITY_SECONDS = 30.0
#: SQS keeps a message at most 14 days; a DLQ keeps its messages that long so people can act.
DEAD_LETTER_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class QueueWithDeadLetter:
    """A queue and the dead-letter queue its redrive policy points at."""

    queue: sqs.Queue
    dead_letter_queue: sqs.Queue


def _encryption(key: kms.IKey | None) -> dict[str, object]:
    if key is None:
        return {"encryption": sqs.QueueEncryption.SQS_MANAGED}
    return {"encryption": sqs.QueueEncryption.KMS, "encryption_master_key": key}


def dead_letter_queue(
    scope: Construct,
    id: str,
    *,
    fifo: bool = False,
    encryption_key: kms.IKey | None = None,
) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps failed messages for 14 days."""
    queue = sqs.Queue(
        scope,
        id,
        fifo=fifo or None,
        retention_period=DEAD_LETTER_RETENTION,
        enforce_ssl=True,
        **_encryption(encryption_key),  # type: ignore[arg-type]
    )
    remember_encryption_key(queue, encryption_key)
    acknowledge_created(
        _tree.created(queue, scope, id),
        cdk_nag={
            "Serverless-SQSRedrivePolicy": (
                "This queue is itself a dead-letter queue: the end of the failure path, kept 14 "
                "days and alarmed on; a DLQ of a DLQ would only move the problem."
            ),
            "AwsSolutions-SQS3": (
                "This queue is itself a dead-letter queue or failure destination (of an SQS "
                "redrive, an SNS subscription or a Lambda on-failure destination)."
            ),
        },
        cfn_lint={
            "ES6000": (
                "This queue is itself a dead-letter queue (cfn-lint-serverless: queue without "
                "redrive)."
            ),
        },
    )
    return queue


def queue_with_dead_letter(
    scope: Construct,
    *,
    visibility_timeout: Duration,
    max_receive_count: int,
    retention_period: Duration,
    fifo: bool = False,
    content_based_deduplication: bool = False,
    encryption_key: kms.IKey | None = None,
) -> QueueWithDeadLetter:
    """Create ``Queue`` and ``DeadLetterQueue`` in ``scope``, joined by a redrive policy."""
    dlq = dead_letter_queue(scope, "DeadLetterQueue", fifo=fifo, encryption_key=encryption_key)
    queue = sqs.Queue(
        scope,
        "Queue",
        fifo=fifo or None,
        content_based_deduplication=content_based_deduplication or None,
        visibility_timeout=visibility_timeout,
        retention_period=retention_period,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
        **_encryption(encryption_key),  # type: ignore[arg-type]
    )
    remember_encryption_key(queue, encryption_key)
    return QueueWithDeadLetter(queue=_tree.created(queue, scope, "Queue"), dead_letter_queue=dlq)


#: Queue -> its KMS key (None with SSE-SQS): fixed once the queue exists.
_KEYS: weakref.WeakKeyDictionary[sqs.IQueue, tuple[kms.IKey | None]] = weakref.WeakKeyDictionary()


def remember_encryption_key(queue: sqs.Queue, key: kms.IKey | None) -> None:
    """A queue made here has the key it was given (``_encryption``), or none (SSE-SQS)."""
    _tree.remember(_KEYS, queue, (key,))


def encryption_key_of(queue: sqs.IQueue) -> kms.IKey | None:
    """``queue.encryption_master_key``, asked at most once."""
    known = _tree.lookup(_KEYS, queue)
    if known is None:
        known = _tree.remember(_KEYS, queue, (queue.encryption_master_key,))
    return known[0]


def configured_dead_letter_queue(queue: sqs.IQueue) -> sqs.IQueue | None:
    """The DLQ of a ``Queue`` defined in this app with ``dead_letter_queue=``, else None."""
    configured = queue.dead_letter_queue if isinstance(queue, sqs.Queue) else None
    return configured.queue if configured is not None else None


def configured_visibility_seconds(queue: sqs.IQueue) -> float | None:
    """The visibility timeout of a queue defined in this app (SQS's default when it sets none);
    None for an imported queue, whose setting is unknown at synth time."""
    return _configured_seconds(queue, "visibility_timeout", SQS_DEFAULT_VISIBILITY_SECONDS)


#: SQS's retention for a queue that sets none.
SQS_DEFAULT_RETENTION_SECONDS = 4 * 86400.0


def configured_retention_seconds(queue: sqs.IQueue) -> float | None:
    """How long a queue defined in this app keeps messages (SQS's 4 days when it sets none);
    None for an imported queue."""
    return _configured_seconds(queue, "message_retention_period", SQS_DEFAULT_RETENTION_SECONDS)


def _configured_seconds(queue: sqs.IQueue, attribute: str, default: float) -> float | None:
    resource = queue.node.default_child
    if not isinstance(resource, sqs.CfnQueue):
        return None
    configured = getattr(resource, attribute)
    return float(configured) if isinstance(configured, int | float) else default
