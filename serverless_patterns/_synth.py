"""Adapters from plain Python callables to the jsii interfaces CDK calls back at synth time."""

from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import IStableStringProducer, Lazy
from constructs import IValidation


@jsii.implements(IStableStringProducer)
class _Producer:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


@jsii.implements(IValidation)
class Validation:
    """A construct validation (``node.add_validation``) from a callable returning errors."""

    def __init__(self, validate: Callable[[], list[str]]) -> None:
        self._validate = validate

    def validate(self) -> list[str]:
        return self._validate()


def lazy_string(produce: Callable[[], str]) -> str:
    """A string rendered at synth time (for configuration that grows after construction)."""
    return Lazy.string(_Producer(produce))
