"""Run-time type checks at the public boundary, in the library's message style.

jsii's bindings check CDK's own arguments with typeguard; the library's constructors, ``add_*``
and ``grant_*`` methods and argument dataclasses do the same, and say where::

    TypeError: QueueWorker at 'Stack/Orders': max_batching_window must be Duration or None,
    got int (5): use Duration.seconds(5)

typeguard checks the leaves (classes, enums, callables); this module walks unions, literals
and containers itself for three reasons typeguard does not cover: jsii interfaces (``IQueue``)
are protocols that typeguard lets any value pass, so a value must declare the interface (or
be jsii's proxy of it); a string is never taken for a sequence of strings (``"GET"`` is not
``["G", "E", "T"]``); and ``True`` is not a count. Every problem of one call is reported at
once, with the argument's path (``targets[1]``) and, where one is obvious, the fix.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

import typeguard
from constructs import Construct

P = ParamSpec("P")
R = TypeVar("R")

_SEQUENCES = (
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Collection,
    list,
    tuple,
)
_MAPPINGS = (collections.abc.Mapping, dict)
_MAX_SHOWN = 60


def checked(function: Callable[P, R]) -> Callable[P, R]:
    """Check the arguments of ``function`` against its annotations on every call.

    For ``__init__(self, scope, id, ...)`` of a construct the messages name ``scope``'s path
    and ``id``; for a method of a construct, the construct's path. ``**kwargs`` annotated
    ``Any`` are not checked here (they are forwarded to a checked callable).
    """
    signature = inspect.signature(function)
    owner = function.__qualname__.split(".")[0]
    hints: dict[str, Any] = {}

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not hints:
            hints.update(typing.get_type_hints(function))
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            where = _where(owner, function.__name__, signature.parameters, args, kwargs)
            raise TypeError(f"{where}: {_binding_problem(error, signature, kwargs)}") from None
        problems: list[str] = []
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if name not in hints or kind is inspect.Parameter.VAR_KEYWORD:
                continue
            if kind is inspect.Parameter.VAR_POSITIONAL:
                for index, element in enumerate(value):
                    problems += _problems(f"{name}[{index}]", element, hints[name])
            else:
                problems += _problems(name, value, hints[name])
        if problems:
            where = _where(owner, function.__name__, signature.parameters, args, kwargs)
            raise TypeError(_joined(where, problems))
        return function(*args, **kwargs)

    return wrapper


def check_keywords(
    where: str | Callable[[], str],
    target: Callable[..., Any],
    keywords: Mapping[str, Any],
    *,
    skip: tuple[str, ...],
) -> None:
    """Check ``keywords`` that will be forwarded to ``target`` (names and types), now.

    ``where`` is the message prefix (``"KinesisBatchConsumer at 'Stack/Clicks'"``), or what
    renders it when there is a problem; ``skip`` names parameters the caller sets itself.
    """
    if not keywords:
        return
    allowed, hints = _keywords_of(target)
    allowed = [name for name in allowed if name not in skip]
    problems: list[str] = []
    for name, value in keywords.items():
        if name not in allowed:
            problems.append(_unknown_argument(name, allowed))
        elif name in hints:
            problems.extend(_problems(name, value, hints[name]))
    if problems:
        raise TypeError(_joined(where if isinstance(where, str) else where(), problems))


@functools.cache
def _keywords_of(target: Callable[..., Any]) -> tuple[list[str], dict[str, Any]]:
    """The names ``target`` takes by keyword, and its type hints."""
    signature = inspect.signature(target)
    allowed = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        or (parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and name != "self")
    ]
    return allowed, typing.get_type_hints(target)


def check_fields(instance: object) -> None:
    """Check the fields of a dataclass instance (call from ``__post_init__``)."""
    cls = type(instance)
    hints = typing.get_type_hints(cls)
    problems = [
        problem
        for field in dataclasses.fields(instance)  # type: ignore[arg-type]
        if field.name in hints
        for problem in _problems(field.name, getattr(instance, field.name), hints[field.name])
    ]
    if problems:
        raise TypeError(_joined(cls.__name__, problems))


def _joined(where: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{where}: {problems[0]}"
    return f"{where}: {len(problems)} problems:\n  - " + "\n  - ".join(problems)


def _where(
    owner: str,
    function_name: str,
    parameters: Mapping[str, inspect.Parameter],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> str:
    """``Owner at 'path'`` as far as the arguments tell the path."""
    names = list(parameters)
    given = dict(zip(names, args, strict=False)) | dict(kwargs)
    if function_name == "__init__":
        scope, construct_id = given.get("scope"), given.get("id")
        if isinstance(scope, Construct) and isinstance(construct_id, str):
            path = f"{scope.node.path}/{construct_id}" if scope.node.path else construct_id
            return f"{owner} at '{path}'"
        return owner
    this = given.get("self")
    if isinstance(this, Construct):
        return f"{owner} at '{this.node.path}'"
    scope = given.get("scope")
    if isinstance(scope, Construct):
        return f"{function_name} at '{scope.node.path}'"
    return function_name


def _binding_problem(
    error: TypeError, signature: inspect.Signature, kwargs: Mapping[str, Any]
) -> str:
    """Python's message for a call that does not fit the signature, in the library's style."""
    allowed = [name for name in signature.parameters if name != "self"]
    unknown = [name for name in kwargs if name not in signature.parameters]
    if unknown:
        return _unknown_argument(unknown[0], allowed)
    message = str(error)
    if "missing a required argument" in message:
        name = message.split("'")[1]
        return f"{name} is required (allowed: {', '.join(allowed)})"
    if "too many positional arguments" in message:
        positional = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and name != "self"
        ]
        return (
            f"takes {', '.join(positional) or 'no arguments'} by position, the rest by name "
            "(allowed: name=value for every other argument)"
        )
    return message


def _unknown_argument(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name} is not an argument{hint} (allowed: {', '.join(allowed)})"


# --- matching ------------------------------------------------------------------------------------


def _problems(name: str, value: object, hint: Any) -> list[str]:
    mismatch = _mismatch(name, value, hint)
    if mismatch is None:
        return []
    path, offending, expected = mismatch
    message = f"{path} must be {_describe(expected)}, got {_show(offending)}"
    fix = _fix(offending, expected)
    return [f"{message}: {fix}" if fix else message]


def _mismatch(path: str, value: object, hint: Any) -> tuple[str, object, Any] | None:
    """The first place where ``value`` does not fit ``hint``: (path, value there, expected)."""
    if hint is Any or hint is object:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if any(_mismatch(path, value, option) is None for option in options):
            return None
        # A container of the right kind with a wrong element: point at the element.
        for option in options:
            if _container_fits(value, option):
                return _mismatch(path, value, option)
        return (path, value, hint)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if any(value == option and type(value) is type(option) for option in allowed):
            return None
        if isinstance(value, str) and all(isinstance(option, str) for option in allowed):
            return None  # the right type with a wrong value: the construct's ValueError says so
        return (path, value, hint)
    if origin in _SEQUENCES:
        if not _container_fits(value, hint):
            return (path, value, hint)
        item_hints = typing.get_args(hint)
        value = cast(collections.abc.Iterable[object], value)  # _container_fits says so
        if origin is tuple and item_hints and item_hints[-1] is not Ellipsis:
            items = list(value)
            if len(items) != len(item_hints):
                return (path, value, hint)
            pairs = list(zip(items, item_hints, strict=True))
        else:
            item = item_hints[0] if item_hints else Any
            pairs = [(element, item) for element in value]
        for index, (element, element_hint) in enumerate(pairs):
            found = _mismatch(f"{path}[{index}]", element, element_hint)
            if found is not None:
                return found
        return None
    if origin in _MAPPINGS:
        if not isinstance(value, collections.abc.Mapping):
            return (path, value, hint)
        key_hint, value_hint = typing.get_args(hint) or (Any, Any)
        for key, element in value.items():
            found = _mismatch(f"{path} key", key, key_hint) or _mismatch(
                f"{path}[{key!r}]", element, value_hint
            )
            if found is not None:
                return found
        return None
    if _is_jsii_interface(hint):
        return None if _implements(value, hint) else (path, value, hint)
    if hint in (int, float) and isinstance(value, bool):
        return (path, value, hint)
    return None if _typeguard_accepts(value, hint) else (path, value, hint)


def _container_fits(value: object, hint: Any) -> bool:
    """Whether ``value`` is the kind of container ``hint`` asks for (not looking inside)."""
    origin = typing.get_origin(hint)
    if origin in _SEQUENCES:
        if isinstance(value, str | bytes | collections.abc.Mapping):
            return False
        runtime = origin if origin in (list, tuple) else collections.abc.Sequence
        if origin is collections.abc.Iterable or origin is collections.abc.Collection:
            runtime = origin
        return isinstance(value, runtime)
    if origin in _MAPPINGS:
        return isinstance(value, collections.abc.Mapping)
    return False


def _typeguard_accepts(value: object, hint: Any) -> bool:
    try:
        if _TYPEGUARD_2:
            typeguard.check_type("value", value, hint)
        else:  # typeguard 4: check_type(value, expected_type)
            cast(Any, typeguard.check_type)(value, hint)
    except (TypeError, getattr(typeguard, "TypeCheckError", TypeError)):
        return False
    return True


_TYPEGUARD_2 = "argname" in inspect.signature(typeguard.check_type).parameters


def _is_jsii_interface(hint: Any) -> bool:
    return (
        isinstance(hint, type)
        and getattr(hint, "_is_protocol", False)
        and hasattr(hint, "__jsii_type__")
    )


def _implements(value: object, interface: type) -> bool:
    """Whether ``value``'s class declares ``interface`` (directly or by a sub-interface)."""
    delegates = getattr(value, "_delegates", None)  # jsii's proxy of several interfaces
    if type(value).__name__ == "InterfaceDynamicProxy" and isinstance(delegates, list):
        return any(_implements(delegate, interface) for delegate in delegates)
    proxy = getattr(interface, "__jsii_proxy_class__", None)
    proxy_class = proxy() if callable(proxy) else None
    if isinstance(proxy_class, type) and proxy_class in type(value).__mro__:
        return True
    for cls in type(value).__mro__:
        for declared in getattr(cls, "__jsii_ifaces__", ()):
            if interface in getattr(declared, "__mro__", ()):
                return True
    return False


# --- messages ----------------------------------------------------------------------------------


def _describe(hint: Any) -> str:
    if hint is type(None) or hint is None:
        return "None"
    if hint is Any:
        return "any value"
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        named: list[str] = []
        for option in options:
            if typing.get_origin(option) is typing.Literal:
                named += [repr(literal) for literal in typing.get_args(option)]
            elif option is not type(None):
                named.append(_describe(option))
        if type(None) in options:
            named.append("None")
        return ", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else named[0]
    if origin is typing.Literal:
        return " or ".join(repr(option) for option in typing.get_args(hint))
    if origin in _SEQUENCES:
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a tuple ({', '.join(_describe(arg) for arg in args)})"
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin in _MAPPINGS:
        args = typing.get_args(hint)
        return f"a dict of {_describe(args[0])} to {_describe(args[1])}" if args else "a dict"
    if origin is collections.abc.Callable or hint is collections.abc.Callable:
        return "a callable"
    if isinstance(hint, type):
        return _type_name(hint)
    return str(hint)


def _type_name(cls: type) -> str:
    """``Duration``, ``aws_sqs.IQueue``, ``ProbeTarget``: as a user of CDK would write it."""
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    if module.startswith("aws_cdk.") and module != "aws_cdk":
        return f"{module.split('.', 1)[1].split('.')[0]}.{cls.__qualname__}"
    return cls.__qualname__


def _show(value: object) -> str:
    if isinstance(value, Construct):
        return f"{_type_name(type(value))} <{value.node.path}>"
    shown = repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[: _MAX_SHOWN - 3] + "..."
    return f"{_type_name(type(value))} ({shown})"


def _fix(value: object, expected: Any) -> str:
    """A one-line fix for the common mistakes, or ""."""
    options = _options(expected)
    if isinstance(value, str):
        for option in options:
            if typing.get_origin(option) in _SEQUENCES:
                return f"wrap a single value in a list: [{value!r}]"
    for option in options:
        if not isinstance(option, type):
            continue
        if (
            option.__name__ == "Duration"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            return f"use Duration.seconds({value!r}) (or minutes, hours, ...)"
        if issubclass(option, enum.Enum) and isinstance(value, str):
            members = [
                member
                for member in option
                if value in (member.name, member.value)
                or value.upper() == member.name
                or str(member.value).lower() == value.lower()
            ]
            if members:
                return f"use {option.__name__}.{members[0].name}"
            return f"use one of {', '.join(f'{option.__name__}.{m.name}' for m in option)}"
        if _is_jsii_interface(option) and isinstance(value, str):
            importer = _importer(option)
            if importer:
                return f"import it first: {importer}(scope, id, {value!r})"
        if dataclasses.is_dataclass(option) and isinstance(value, str):
            first = dataclasses.fields(option)[0].name
            return f"use {option.__name__}({first}={value!r})"
        if isinstance(value, Mapping) and hasattr(option, "__jsii_type__"):
            return f"use {_type_name(option)}(...) with these keyword arguments"
    return ""


def _options(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(hint)
    return (hint,)


def _importer(interface: type) -> str:
    """``aws_sns.Topic.from_topic_arn`` for ``aws_sns.ITopic``, if the module has one."""
    module = inspect.getmodule(interface)
    implementation = getattr(module, interface.__name__[1:], None)
    if implementation is None:
        return ""
    stem = interface.__name__[1:]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in stem).lstrip("_")
    for method in (f"from_{snake}_arn", f"from_{snake}_name"):
        if hasattr(implementation, method):
            return f"{_type_name(implementation)}.{method}"
    return ""
