"""The translator's route table: its grammar, parsed and checked without touching the network.

Shared by the translator (``app.py`` reads ``TRANSLATOR_ROUTES`` with it when its container
starts) and by ``LegacyApiProxy``, which checks every translated route with the same code at
synth time, so a mapping the translator would refuse never deploys. Standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

ROUTES_ENV = "TRANSLATOR_ROUTES"
# The longest caller or legacy value echoed in a message.
MAX_ECHO = 64

ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
LEGACY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORMATS = ("xml", "json", "form")
TYPES = ("int", "float", "bool")
ROUTE_KEYS = frozenset(
    {"legacy_path", "legacy_method", "response_format", "request_mapping", "response_mapping"}
)
# API Gateway path parameter names; a resource's parameter may be greedy ({proxy+}).
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\}")
RESOURCE_PARAMETER = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")
INDEX = re.compile(r"0|[1-9][0-9]*")
INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})


# --- mapping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSpec:
    """A value read at ``path``, optionally converted to ``type``."""

    text: str
    path: tuple[str, ...]
    type: str | None = None


@dataclass(frozen=True)
class ListSpec:
    """A list: ``each`` applied to every element of the list at ``source``."""

    source: PathSpec
    each: Spec


@dataclass(frozen=True)
class ObjectSpec:
    """A nested object: one output field per entry."""

    fields: tuple[tuple[str, Spec], ...]


Spec = PathSpec | ListSpec | ObjectSpec


class MappingError(Exception):
    """A legacy value that does not convert to its mapping's declared type."""


def _echo(value: str) -> str:
    """A value, quoted and shortened, for an error message."""
    return repr(value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "...")


def parse_path(raw: Any, where: str) -> PathSpec:
    if raw == ".":
        return PathSpec(raw, ())
    if not isinstance(raw, str) or not all(
        segment and segment.strip() == segment for segment in raw.split(".")
    ):
        raise ValueError(
            f"{where} must be a path: names separated by dots (e.g. 'item.sku'), or '.'"
        )
    return PathSpec(raw, tuple(raw.split(".")))


def compile_spec(raw: Any, where: str) -> Spec:
    """One mapping value: a path, a typed path, a from/each list or a nested object."""
    if isinstance(raw, str):
        return parse_path(raw, where)
    if isinstance(raw, dict) and set(raw) == {"from", "each"}:
        source = parse_path(raw["from"], f"{where}.from")
        return ListSpec(source, compile_spec(raw["each"], f"{where}.each"))
    if isinstance(raw, dict) and set(raw) == {"path", "type"}:
        if raw["type"] not in TYPES:
            raise ValueError(f"{where}.type must be one of {list(TYPES)}")
        path = parse_path(raw["path"], f"{where}.path")
        return PathSpec(path.text, path.path, raw["type"])
    if isinstance(raw, dict):
        return compile_mapping(raw, where)
    raise ValueError(
        f"{where} must be a path string, {{'path', 'type'}}, {{'from', 'each'}} "
        "or a nested mapping object"
    )


def compile_mapping(raw: Any, where: str) -> ObjectSpec:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{where} must be a non-empty JSON object")
    fields: list[tuple[str, Spec]] = []
    for name, value in raw.items():
        if not name:
            raise ValueError(f"{where} has an empty field name")
        fields.append((name, compile_spec(value, f"{where}.{name}")))
    return ObjectSpec(tuple(fields))


def resolve(node: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``node``, or None where the path leads nowhere."""
    for segment in path:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list):
            index = int(segment) if INDEX.fullmatch(segment) else len(node)
            node = node[index] if index < len(node) else None
        elif segment == "0" and node is not None:
            continue  # a single element where a list could be: index 0 is the element
        else:
            return None
    return node


def _convert(value: Any, spec: PathSpec) -> Any:
    text = value.strip() if isinstance(value, str) else None
    try:
        if spec.type == "int" and not isinstance(value, bool):
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if text is not None and INTEGER.fullmatch(text):
                return int(text)
        elif spec.type == "float" and not isinstance(value, bool):
            if isinstance(value, int | float):
                return float(value)
            if text is not None and DECIMAL.fullmatch(text) and math.isfinite(float(text)):
                return float(text)
        elif spec.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return value == 1
            if text is not None and text.lower() in TRUE_WORDS | FALSE_WORDS:
                return text.lower() in TRUE_WORDS
    except ValueError:  # int() of more digits than Python converts
        pass
    article = "an" if spec.type == "int" else "a"
    shown = _echo(value) if isinstance(value, str) else f"a {type(value).__name__}"
    raise MappingError(f"{spec.text!r} is not {article} {spec.type}: {shown}")


def apply_spec(spec: Spec, node: Any) -> Any:
    """Apply one mapping value to ``node``; raise MappingError for a value that won't convert."""
    if isinstance(spec, PathSpec):
        value = resolve(node, spec.path)
        return value if spec.type is None or value is None else _convert(value, spec)
    if isinstance(spec, ListSpec):
        source = resolve(node, spec.source.path)
        elements = [] if source is None else source if isinstance(source, list) else [source]
        return [apply_spec(spec.each, element) for element in elements]
    return {name: apply_spec(field, node) for name, field in spec.fields}


# --- routes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str
    legacy_path: str
    placeholders: tuple[str, ...]
    legacy_method: str
    response_format: str
    request_mapping: tuple[tuple[str, PathSpec], ...] | None
    response_mapping: ObjectSpec | None


def parse_route(key: Any, raw: Any) -> Route:
    where = f"{ROUTES_ENV}[{key!r}]"
    method, _, resource = key.partition(" ")
    if (
        method not in ROUTE_METHODS
        or not resource.startswith("/")
        or any(char.isspace() for char in resource)
    ):
        raise ValueError(
            f"{where}: a route key must be '<METHOD> <resource path>' (e.g. 'GET /items/{{id}}'), "
            f"METHOD one of {sorted(ROUTE_METHODS)}"
        )
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - ROUTE_KEYS)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed: {sorted(ROUTE_KEYS)}")

    legacy_path = raw.get("legacy_path")
    if (
        not isinstance(legacy_path, str)
        or not legacy_path.startswith("/")
        or any(char.isspace() or char in "?#" for char in legacy_path)
        or "{" in PLACEHOLDER.sub("", legacy_path)
        or "}" in PLACEHOLDER.sub("", legacy_path)
    ):
        raise ValueError(
            f"{where}.legacy_path must be a path starting with '/', without query string, "
            "whitespace or stray braces; placeholders are {name}"
        )
    parameters = {name for name, greedy in RESOURCE_PARAMETER.findall(resource) if not greedy}
    placeholders = tuple(dict.fromkeys(PLACEHOLDER.findall(legacy_path)))
    missing = [name for name in placeholders if name not in parameters]
    if missing:
        raise ValueError(
            f"{where}.legacy_path placeholders {missing} are not path parameters of the "
            f"resource {resource!r} (greedy {{name+}} parameters cannot be placeholders)"
        )

    legacy_method = raw.get("legacy_method", method)
    if legacy_method not in LEGACY_METHODS:
        raise ValueError(f"{where}.legacy_method must be one of {sorted(LEGACY_METHODS)}")
    response_format = raw.get("response_format", "xml")
    if response_format not in FORMATS:
        raise ValueError(f"{where}.response_format must be one of {list(FORMATS)}")

    raw_request = raw.get("request_mapping")
    request_mapping: tuple[tuple[str, PathSpec], ...] | None = None
    if raw_request is not None:
        if legacy_method not in BODY_METHODS:
            raise ValueError(
                f"{where}.request_mapping needs a legacy_method with a body "
                f"({', '.join(sorted(BODY_METHODS))})"
            )
        if not isinstance(raw_request, dict) or not raw_request:
            raise ValueError(
                f"{where}.request_mapping must be a non-empty JSON object of form field names "
                "to paths in the JSON request body, or null"
            )
        request_mapping = tuple(
            (name, parse_path(path, f"{where}.request_mapping.{name}"))
            for name, path in raw_request.items()
        )
        if any(not name for name, _ in request_mapping):
            raise ValueError(f"{where}.request_mapping has an empty form field name")

    raw_response = raw.get("response_mapping")
    response_mapping = (
        None if raw_response is None else compile_mapping(raw_response, f"{where}.response_mapping")
    )
    return Route(
        key=key,
        legacy_path=legacy_path,
        placeholders=placeholders,
        legacy_method=legacy_method,
        response_format=response_format,
        request_mapping=request_mapping,
        response_mapping=response_mapping,
    )


def parse_routes(raw: Any) -> dict[str, Route]:
    """Every route of a ``TRANSLATOR_ROUTES`` object; ValueError saying what is wrong."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{ROUTES_ENV} must be a non-empty JSON object of routes")
    return {key: parse_route(key, value) for key, value in raw.items()}
