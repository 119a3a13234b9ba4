"""Facts of the construct tree that never change, asked of jsii at most once.

Every property read and method call on a CDK object is a round trip to jsii's Node.js process.
A construct that asks for the same path, stack or timeout for each message, check and
acknowledgement pays that again and again: warm, those round trips were most of what the
library added to a synthesis. A construct's path, its stack, a stack's name and environment,
a function's timeout and a ``Duration``'s seconds are fixed once they exist, so they are asked
once and kept here, by Python object. jsii keeps the Python object of whatever Python created
(constructs, durations) for as long as the process lives; an object made on the JavaScript side
comes back as a new Python object on every read, and is simply asked again. For a construct the
library creates, :func:`created` records its parent and id: its path and stack then follow
without asking at all.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import TypeVar

from aws_cdk import Duration, Stack, Token
from constructs import IConstruct, Node

C = TypeVar("C", bound=IConstruct)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Environment:
    """An account and region; each ``None`` where it is a token (unknown at synth time)."""

    account: str | None
    region: str | None


_PARENTS: weakref.WeakKeyDictionary[IConstruct, tuple[IConstruct, str]] = (
    weakref.WeakKeyDictionary()
)
_NODES: weakref.WeakKeyDictionary[IConstruct, Node] = weakref.WeakKeyDictionary()
_DEFAULT_CHILDREN: weakref.WeakKeyDictionary[IConstruct, IConstruct] = weakref.WeakKeyDictionary()
_IDS: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()
_PATHS: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()
_STACKS: weakref.WeakKeyDictionary[IConstruct, Stack] = weakref.WeakKeyDictionary()
_STACK_NAMES: weakref.WeakKeyDictionary[Stack, str] = weakref.WeakKeyDictionary()
_ENVIRONMENTS: weakref.WeakKeyDictionary[Stack, Environment] = weakref.WeakKeyDictionary()
_MILLISECONDS: weakref.WeakKeyDictionary[Duration, float] = weakref.WeakKeyDictionary()
_SECONDS: weakref.WeakKeyDictionary[Duration, tuple[float | None]] = weakref.WeakKeyDictionary()


def lookup(cache: weakref.WeakKeyDictionary[K, V], key: K) -> V | None:
    """``cache[key]``, or None (also for a key that takes no weak reference)."""
    try:
        return cache.get(key)
    except TypeError:
        return None


def remember(cache: weakref.WeakKeyDictionary[K, V], key: K, value: V) -> V:
    """Keep ``value`` as ``cache[key]`` where ``key`` takes a weak reference; return it."""
    with contextlib.suppress(TypeError):
        cache[key] = value
    return value


def created(construct: C, scope: IConstruct, id: str) -> C:
    """Record that the library just created ``construct`` as ``id`` in ``scope``.

    Its path (``scope``'s path and the id, escaped as ``constructs`` escapes it) and its stack
    (``scope``, or ``scope``'s stack) are then known without a round trip.
    """
    key: IConstruct = construct
    remember(_PARENTS, key, (scope, id))
    return construct


def node(construct: IConstruct) -> Node:
    """``construct.node``, asked once."""
    return lookup(_NODES, construct) or remember(_NODES, construct, construct.node)


def default_child(construct: IConstruct) -> IConstruct | None:
    """``construct.node.default_child``; asked once for a construct the library created (its
    default child is made in its constructor and never replaced)."""
    known = lookup(_DEFAULT_CHILDREN, construct)
    if known is not None:
        return known
    child = node(construct).default_child
    if child is not None and lookup(_PARENTS, construct) is not None:
        remember(_DEFAULT_CHILDREN, construct, child)
    return child


def construct_id(construct: IConstruct) -> str:
    """``construct.node.id``, asked at most once."""
    parent = lookup(_PARENTS, construct)
    if parent is not None:
        return _escaped(parent[1])
    return lookup(_IDS, construct) or remember(_IDS, construct, node(construct).id)


def _escaped(id: str) -> str:
    """``id`` as ``constructs`` keeps it: the path separators escaped (its ``sanitizeId``)."""
    return id.replace("/", "--").replace("\n", "--")


def path(construct: IConstruct) -> str:
    """``construct.node.path``, asked at most once."""
    known = lookup(_PATHS, construct)
    if known is not None:
        return known
    parent = lookup(_PARENTS, construct)
    if parent is None:
        return remember(_PATHS, construct, node(construct).path)
    scope, id = parent
    above = path(scope)
    return remember(_PATHS, construct, f"{above}/{_escaped(id)}" if above else _escaped(id))


def stack(construct: IConstruct) -> Stack:
    """``Stack.of(construct)``, asked at most once."""
    if isinstance(construct, Stack):
        return construct
    known = lookup(_STACKS, construct)
    if known is not None:
        return known
    parent = lookup(_PARENTS, construct)
    return remember(
        _STACKS, construct, stack(parent[0]) if parent is not None else Stack.of(construct)
    )


def same_stack(first: IConstruct, second: IConstruct) -> bool:
    """Whether both constructs are in the same stack."""
    mine, theirs = stack(first), stack(second)
    return mine is theirs or path(mine) == path(theirs)


def stack_name(construct: IConstruct) -> str:
    """The name of ``construct``'s stack."""
    owner = stack(construct)
    return lookup(_STACK_NAMES, owner) or remember(_STACK_NAMES, owner, owner.stack_name)


def environment(construct: IConstruct) -> Environment:
    """The account and region of ``construct``'s stack."""
    owner = stack(construct)
    known = lookup(_ENVIRONMENTS, owner)
    if known is None:
        known = Environment(account=known_value(owner.account), region=known_value(owner.region))
        remember(_ENVIRONMENTS, owner, known)
    return known


def known_value(value: str) -> str | None:
    """``value``, or None when it is a token."""
    return None if is_unresolved(value) else value


def is_unresolved(value: object) -> bool:
    """``Token.is_unresolved`` of a string; asked of jsii only where it could be one (every
    token CDK renders into a string is marked ``${Token[...]}`` or ``#{Token[...]}``)."""
    if isinstance(value, str) and "Token[" not in value:
        return False
    return Token.is_unresolved(value)


def exact_seconds(duration: Duration) -> float:
    """``duration.to_seconds(integral=False)``, asked once (for a token's duration, whatever
    CDK answers: the token's number, or its error)."""
    known = seconds(duration)
    return known if known is not None else duration.to_seconds(integral=False)


def whole_seconds(duration: Duration) -> float:
    """``duration.to_seconds()``: whole seconds (else jsii's error), asked once."""
    known = seconds(duration)
    if known is not None and float(known).is_integer():
        return known
    return duration.to_seconds()


def milliseconds(duration: Duration) -> float:
    """``duration.to_milliseconds(integral=False)``, asked once."""
    known = lookup(_MILLISECONDS, duration)
    if known is None:
        known = remember(_MILLISECONDS, duration, duration.to_milliseconds(integral=False))
    return known


def seconds(duration: Duration) -> float | None:
    """``duration`` in seconds (fractions kept); None for a token's duration."""
    known = lookup(_SECONDS, duration)
    if known is None:
        known = remember(_SECONDS, duration, (_seconds_of(duration),))
    return known[0]


def _seconds_of(duration: Duration) -> float | None:
    # One round trip where ``is_unresolved()`` and then ``to_seconds()`` would be two.
    try:
        value = duration.to_seconds(integral=False)
    except RuntimeError:  # a token's duration in another unit than seconds
        if duration.is_unresolved():
            return None
        raise
    # A token's number comes back as the token itself, which CDK encodes as a huge double.
    if abs(value) >= _ENCODED_NUMBER_MAGNITUDE and Token.is_unresolved(value):
        return None
    return value


#: CDK encodes a token as a number of magnitude about 1.9e289: anything smaller is a number.
_ENCODED_NUMBER_MAGNITUDE = 1e288
