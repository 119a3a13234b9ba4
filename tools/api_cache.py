"""API Gateway's method cache, as a synthesized REST API template configures it.

API Gateway caches a method's responses when the stage has a cache cluster and a method setting
of that method (or ``*``/``/*``) enables caching. A cached response is served to any request
with the same cache key: the stage, the resource and the values of the integration's
``CacheKeyParameters`` (``method.request.path.*``, ``method.request.querystring.*``,
``method.request.header.*``), nothing else; two requests that differ only in what is not in the
key get the same entry, whoever makes them. This module computes that key from a template and a
request, for the tests of what the library configures and for the local API front.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """The parts of a request a cache key can be made of."""

    http_method: str
    resource_path: str  # the API resource, e.g. /items/{id}
    path: Mapping[str, str] = field(default_factory=dict)
    querystring: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def _encoded(resource_path: str) -> str:
    """A resource path as method settings write it: ``/items/{id}`` -> ``/~1items~1{id}``."""
    return "/" + resource_path.replace("/", "~1")


def _setting_for(stage: Mapping[str, Any], http_method: str, resource_path: str) -> dict[str, Any]:
    """The method setting that applies: the method's own, else the stage-wide ``*`` one."""
    settings = stage.get("MethodSettings", [])
    for setting in settings:
        if setting.get("HttpMethod") == http_method and setting.get("ResourcePath") == _encoded(
            resource_path
        ):
            return dict(setting)
    for setting in settings:
        if setting.get("HttpMethod") == "*" and setting.get("ResourcePath") == "/*":
            return dict(setting)
    return {}


def cache_key(
    stage: Mapping[str, Any], method: Mapping[str, Any], request: Request
) -> tuple[Any, ...] | None:
    """The cache key of ``request`` for ``method`` (template properties), None if not cached."""
    if not stage.get("CacheClusterEnabled"):
        return None
    if not _setting_for(stage, request.http_method, request.resource_path).get("CachingEnabled"):
        return None
    parameters = method.get("Integration", {}).get("CacheKeyParameters", [])
    values: list[tuple[str, str | None]] = []
    for parameter in parameters:
        _, _, kind, name = parameter.split(".", 3)
        source = {
            "path": request.path,
            "querystring": request.querystring,
            "header": {k.lower(): v for k, v in request.headers.items()},
        }[kind]
        values.append((parameter, source.get(name.lower() if kind == "header" else name)))
    return (request.http_method, request.resource_path, tuple(values))


def cache_ttl(stage: Mapping[str, Any], request: Request) -> int | None:
    """Seconds a cached response of ``request``'s method lives (None if not cached)."""
    setting = _setting_for(stage, request.http_method, request.resource_path)
    if not stage.get("CacheClusterEnabled") or not setting.get("CachingEnabled"):
        return None
    return int(setting.get("CacheTtlInSeconds", 300))
