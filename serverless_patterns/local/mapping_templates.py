"""API Gateway mapping templates, rendered as API Gateway renders them.

One implementation of the mapping template reference (``$input``, ``$util``, ``$context``) over
airspeed, the Velocity engine local AWS emulators use, for the tests that render every template
the library writes and for the local API front. What API Gateway documents, and only that:

* ``$input.body`` the raw payload; ``$input.json(path)`` the JSON text of what a JSONPath
  expression selects; ``$input.path(path)`` the object itself (maps, lists, strings that have
  Java's string methods); ``$input.params()`` / ``$input.params(name)`` the request's path,
  query string and header parameters (looked up in that order).
* ``$util.escapeJavaScript`` escapes as JavaScript string rules do, ``'`` as ``\\'`` included
  (which JSON does not allow: the reason templates must not use it inside JSON strings);
  ``parseJson``, ``urlEncode``, ``urlDecode``, ``base64Encode``, ``base64Decode``.
* ``$context`` the request context, and ``$context.responseOverride.status`` /
  ``$context.responseOverride.header.<name>`` set by a response template.

JSONPath is API Gateway's subset: ``$``, ``.name``, ``['name']`` and ``[index]``.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import airspeed  # type: ignore[import-untyped]

_HEADER_OVERRIDE = re.compile(r"(\$\{?context\.responseOverride\.header\.)([A-Za-z0-9_-]+)")
_HYPHEN = "__hyphen__"
_SEGMENT = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class JavaString(str):
    """A string with the Java methods templates call on strings."""

    def length(self) -> int:
        return len(self)

    def contains(self, part: str) -> bool:
        return str(part) in self

    def startsWith(self, prefix: str) -> bool:  # noqa: N802 - Java's name
        return self.startswith(prefix)

    def endsWith(self, suffix: str) -> bool:  # noqa: N802
        return self.endswith(suffix)

    def toLowerCase(self) -> JavaString:  # noqa: N802
        return JavaString(self.lower())

    def toUpperCase(self) -> JavaString:  # noqa: N802
        return JavaString(self.upper())

    def trim(self) -> JavaString:
        return JavaString(self.strip())

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def equals(self, other: object) -> bool:
        return str(self) == other

    def matches(self, pattern: str) -> bool:
        # Java's and Python's regular expressions agree on what templates use.
        return re.fullmatch(pattern, self) is not None

    def replaceAll(self, pattern: str, replacement: str) -> JavaString:  # noqa: N802
        return JavaString(re.sub(pattern, _java_replacement(replacement), self))

    def replace(self, old: str, new: str, count: int = -1) -> JavaString:  # type: ignore[override]
        return JavaString(str.replace(self, old, new, count))

    def substring(self, start: int, end: int | None = None) -> JavaString:
        return JavaString(self[start:end])

    def indexOf(self, part: str) -> int:  # noqa: N802
        return self.find(part)


def _java_replacement(replacement: str) -> str:
    return re.sub(r"\$(\d)", r"\\\1", replacement)


def _java(value: Any) -> Any:
    """Strings as JavaString, inside lists and maps too."""
    if isinstance(value, str) and not isinstance(value, JavaString):
        return JavaString(value)
    if isinstance(value, list):
        return [_java(item) for item in value]
    if isinstance(value, dict):
        return {key: _java(item) for key, item in value.items()}
    return value


def select(document: Any, path: str) -> Any:
    """What a JSONPath expression of API Gateway's subset selects (None where nothing is)."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath expression: {path!r}")
    node = document
    rest = path[1:]
    while rest:
        match = _SEGMENT.match(rest)
        if match is None:
            raise ValueError(f"unsupported JSONPath: {path!r}")
        name, index = match.group(1) or match.group(3) or match.group(4), match.group(2)
        if index is not None:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            node = node.get(name) if isinstance(node, dict) else None
        rest = rest[match.end() :]
    return node


def escape_javascript(value: Any) -> JavaString:
    """Apache Commons' escapeJavaScript, which API Gateway uses: ``'`` becomes ``\\'``."""
    out: list[str] = []
    for char in str(value):
        code = ord(char)
        if char in "'\"\\/":
            out.append("\\" + char)
        elif char in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif code < 0x20:
            out.append(f"\\u{code:04X}")
        elif code > 0x7F:
            encoded = char.encode("utf-16-be")
            for offset in range(0, len(encoded), 2):
                out.append(f"\\u{int.from_bytes(encoded[offset : offset + 2], 'big'):04X}")
        else:
            out.append(char)
    return JavaString("".join(out))


class Util:
    """``$util``."""

    def escapeJavaScript(self, value: Any) -> JavaString:  # noqa: N802
        return escape_javascript(value)

    def parseJson(self, text: str) -> Any:  # noqa: N802
        return _java(json.loads(text))

    def urlEncode(self, value: str) -> JavaString:  # noqa: N802
        return JavaString(urllib.parse.quote_plus(str(value)))

    def urlDecode(self, value: str) -> JavaString:  # noqa: N802
        return JavaString(urllib.parse.unquote_plus(str(value)))

    def base64Encode(self, value: Any) -> JavaString:  # noqa: N802
        data = value if isinstance(value, bytes) else str(value).encode()
        return JavaString(base64.b64encode(data).decode())

    def base64Decode(self, value: str) -> JavaString:  # noqa: N802
        return JavaString(base64.b64decode(str(value)).decode())


class Input:
    """``$input`` over one payload and its request parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        self.body = JavaString(body)
        self._params = {
            kind: dict(params.get(kind, {})) for kind in ("path", "querystring", "header")
        }
        try:
            self._document: Any = json.loads(body) if body.strip() else {}
        except ValueError:
            self._document = None  # $input.json/path of a non-JSON body select nothing

    def json(self, path: str) -> JavaString:
        selected = select(self._document, str(path)) if self._document is not None else None
        return JavaString(json.dumps(selected, ensure_ascii=False, separators=(",", ":")))

    def path(self, path: str) -> Any:
        return _java(select(self._document, str(path))) if self._document is not None else None

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return _java(self._params)
        for kind in ("path", "querystring", "header"):
            if name in self._params[kind]:
                return JavaString(self._params[kind][name])
        return JavaString("")


@dataclass
class Rendered:
    """A rendered template and what it set on ``$context.responseOverride``."""

    text: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The rendered text as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.text)


def render(
    template: str,
    *,
    body: str = "",
    params: Mapping[str, Mapping[str, str]] | None = None,
    context: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> Rendered:
    """Render ``template`` for a payload, as API Gateway does for a request or response."""
    override: dict[str, Any] = {"header": {}}
    request_context = {
        "requestId": "00000000-0000-4000-8000-000000000000",
        "stage": "v1",
        **dict(context or {}),
        "responseOverride": override,
    }
    # Header names have hyphens, which Velocity's identifiers (airspeed's) do not: spelled
    # with a placeholder for the engine, back with hyphens in the headers set.
    template = _HEADER_OVERRIDE.sub(
        lambda m: m.group(1) + m.group(2).replace("-", _HYPHEN), template
    )
    text = airspeed.Template(template).merge(
        {
            "input": Input(body, params or {}),
            "util": Util(),
            "context": _java(request_context) | {"responseOverride": override},
            "stageVariables": _java(dict(stage_variables or {})),
        }
    )
    status = override.get("status")
    return Rendered(
        text=text,
        status=int(status) if status is not None else None,
        headers={str(k).replace(_HYPHEN, "-"): str(v) for k, v in override["header"].items()},
    )
