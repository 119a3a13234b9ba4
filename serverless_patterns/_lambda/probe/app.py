"""ScheduledProbe handler: checks websites and publishes one availability metric per target.

EventBridge Scheduler invokes this function every few minutes (the event is ignored). Each target
of ``PROBE_TARGETS`` is checked concurrently, with the standard library only, and gets its own
metrics, in EMF on stdout, each with the dimensions ``{"service": <POWERTOOLS_SERVICE_NAME>,
"Target": <name>}``:

* ``Availability`` (Count): 1 when the target is up, 0 when it is down;
* ``Latency`` (Milliseconds): the wall time of the whole check, redirects included.

A target is down when its request fails (DNS, TLS, connection, timeout, too many redirects), its
final status is outside ``expected_status``, its body lacks ``contains`` or it answered slower than
``max_latency``; the reason is logged and returned. One target never delays or breaks another:
the whole run ends at a deadline (the largest target timeout plus 2 s) whatever is still running.

Configuration (read once per container):

* ``PROBE_TARGETS``: JSON list of ``{"name", "url", "method", "expected_status": [low, high],
  "timeout", "contains", "max_latency", "headers"}`` (only ``name`` and ``url`` are required);
* ``PROBE_MAX_REDIRECTS``: redirects followed per check (default 5);
* ``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE``: the metrics' service
  dimension and namespace (the alarms on these metrics depend on both).
"""

from __future__ import annotations

import concurrent.futures
import functools
import http.client
import json
import math
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

TARGETS_ENV = "PROBE_TARGETS"
MAX_REDIRECTS_ENV = "PROBE_MAX_REDIRECTS"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

DEFAULT_MAX_REDIRECTS = 5
MAX_REDIRECTS_LIMIT = 20
DEFAULT_METHOD = "GET"
DEFAULT_EXPECTED_STATUS = (200, 299)
DEFAULT_TIMEOUT = 5.0
# Lambda's longest timeout; the construct keeps each timeout below the function's.
MAX_TIMEOUT = 900.0
# One worker thread per target, so a run can never have to queue a target.
MAX_TARGETS = 32
# The run's deadline: the largest target timeout plus this much.
DEADLINE_GRACE = 2.0
# At most this much of a body is read to look for ``contains``.
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "serverless-patterns-probe/1.0"

METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
TARGET_KEYS = frozenset(
    {"name", "url", "method", "expected_status", "timeout", "contains", "max_latency", "headers"}
)
# The name is the metrics' Target dimension value (CloudWatch: 1-1024 characters).
MAX_NAME_LENGTH = 1024
HEADER_NAME_PATTERN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers not forwarded when a redirect leaves the target's origin.
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-authorization")
# OpenSSL messages end with the C source line that raised them: noise in a reason.
SSL_SOURCE_SUFFIX = re.compile(r" \(_ssl\.c:\d+\)$")


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    method: str
    expected_status: tuple[int, int]
    timeout: float
    contains: str | None
    max_latency: float | None
    headers: dict[str, str]


@dataclass(frozen=True)
class ProbeConfig:
    targets: tuple[Target, ...]
    max_redirects: int
    service: str
    namespace: str


@dataclass(frozen=True)
class CheckResult:
    up: bool
    status: int | None
    latency_ms: float
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "reason": self.reason,
        }


class TooManyRedirectsError(Exception):
    """A check was redirected more than ``PROBE_MAX_REDIRECTS`` times."""


def _seconds(value: float) -> str:
    return f"{value:g}"


def _is_number(value: Any) -> bool:
    # bool is an int in Python; JSON cannot carry NaN/Infinity by the standard, Python's can.
    return type(value) in (int, float) and math.isfinite(value)


def _parse_target(index: int, raw: Any, seen: set[str]) -> Target:
    where = f"{TARGETS_ENV}[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - TARGET_KEYS)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed: {sorted(TARGET_KEYS)}")

    name = raw.get("name")
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_NAME_LENGTH
        or not name.isprintable()
        or name.startswith(":")
    ):
        raise ValueError(
            f"{where}.name must be 1-{MAX_NAME_LENGTH} printable characters, not only "
            "whitespace and not starting with ':' (it is a CloudWatch dimension value)"
        )
    if name in seen:
        raise ValueError(f"{where}.name {name!r} is not unique")
    where = f"{where} ({name})"

    url = raw.get("url")
    if not isinstance(url, str) or any(char.isspace() for char in url):
        raise ValueError(f"{where}.url must be a string without whitespace")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"{where}.url is not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}.url must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where}.url must not carry credentials; send them in headers")

    method = raw.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"{where}.method must be one of {sorted(METHODS)}")
    method = method.upper()

    expected = raw.get("expected_status", list(DEFAULT_EXPECTED_STATUS))
    if (
        not isinstance(expected, list)
        or len(expected) != 2
        or any(type(code) is not int or not 100 <= code <= 599 for code in expected)
        or expected[0] > expected[1]
    ):
        raise ValueError(
            f"{where}.expected_status must be [low, high]: HTTP status codes with low <= high"
        )

    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if not _is_number(timeout) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"{where}.timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}]")

    contains = raw.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise ValueError(f"{where}.contains must be a non-empty string or null")
    if contains is not None and method == "HEAD":
        raise ValueError(f"{where}.contains needs a body: it cannot be used with method HEAD")

    max_latency = raw.get("max_latency")
    if max_latency is not None and (not _is_number(max_latency) or max_latency <= 0):
        raise ValueError(f"{where}.max_latency must be a positive number of seconds or null")

    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(key, str)
        and HEADER_NAME_PATTERN.fullmatch(key)
        and isinstance(value, str)
        and not any(char in value for char in "\r\n\0")
        for key, value in headers.items()
    ):
        raise ValueError(
            f"{where}.headers must map header names to string values without line breaks"
        )

    seen.add(name)
    return Target(
        name=name,
        url=url,
        method=method,
        expected_status=(expected[0], expected[1]),
        timeout=float(timeout),
        contains=contains,
        max_latency=None if max_latency is None else float(max_latency),
        headers=dict(headers),
    )


def load_config(environ: Mapping[str, str]) -> ProbeConfig:
    """Parse and validate the probe's environment; raise ValueError saying what is wrong."""
    raw_targets = environ.get(TARGETS_ENV)
    if raw_targets is None:
        raise ValueError(f"{TARGETS_ENV} is not set: it must be a JSON list of targets")
    try:
        parsed = json.loads(raw_targets)
    except json.JSONDecodeError as error:
        raise ValueError(f"{TARGETS_ENV} is not valid JSON: {error}") from error
    if not isinstance(parsed, list) or not parsed:
        raise ValueError(f"{TARGETS_ENV} must be a non-empty JSON list of targets")
    if len(parsed) > MAX_TARGETS:
        raise ValueError(f"{TARGETS_ENV} has {len(parsed)} targets; at most {MAX_TARGETS}")
    seen: set[str] = set()
    targets = tuple(_parse_target(index, raw, seen) for index, raw in enumerate(parsed))

    raw_redirects = environ.get(MAX_REDIRECTS_ENV, str(DEFAULT_MAX_REDIRECTS)).strip()
    if not raw_redirects.isdigit() or int(raw_redirects) > MAX_REDIRECTS_LIMIT:
        raise ValueError(f"{MAX_REDIRECTS_ENV} must be an integer in 0..{MAX_REDIRECTS_LIMIT}")

    service = environ.get(SERVICE_ENV, "").strip()
    namespace = environ.get(NAMESPACE_ENV, "").strip()
    if not service or not namespace:
        raise ValueError(
            f"{SERVICE_ENV} and {NAMESPACE_ENV} must be set: they are the service dimension "
            "and the namespace of the metrics the probe's alarms watch"
        )
    return ProbeConfig(
        targets=targets, max_redirects=int(raw_redirects), service=service, namespace=namespace
    )


logger = Logger()
# No auto-patching: X-Ray's patch_all covers the AWS SDK and database clients, none of which
# this function uses (its checks go through urllib, which patch_all leaves alone), and with
# active tracing it would import botocore's whole client stack just to patch it.
tracer = Tracer(auto_patch=False)
metrics = Metrics()

# Read once per container; a bad configuration fails the function's initialization loudly.
CONFIG = load_config(os.environ)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Certificate verification on; made once per container, on the first run rather than at
    import (loading the CA certificates takes ~25 ms). :func:`run_checks` makes it before the
    checks' threads start; an SSLContext is safe to share between them."""
    return ssl.create_default_context()


class _RedirectLimit(urllib.request.HTTPRedirectHandler):
    """Follows at most ``limit`` redirects for one check (one instance per check)."""

    # urllib's own loop detection is looser (it counts distinct URLs and repeats of one URL);
    # keep it out of the way of the exact count below.
    max_redirections: ClassVar[int] = MAX_REDIRECTS_LIMIT + 1
    max_repeats: ClassVar[int] = MAX_REDIRECTS_LIMIT + 1

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.followed = 0

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if self.followed >= self.limit:
            fp.close()
            raise TooManyRedirectsError(f"too many redirects (more than {self.limit})")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            self.followed += 1
            old, target = urlsplit(req.full_url), urlsplit(new.full_url)
            if (old.scheme, old.netloc) != (target.scheme, target.netloc):
                for name in CREDENTIAL_HEADERS:
                    new.remove_header(name)
        return new


def _read_text(response: IO[bytes]) -> str:
    return response.read(MAX_BODY_BYTES).decode("utf-8", errors="replace")


def _fetch(target: Target, max_redirects: int) -> tuple[int, str | None]:
    """The final status of ``target`` and, when ``contains`` needs it, the start of its body."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=tls_context()), _RedirectLimit(max_redirects)
    )
    headers = dict(target.headers)
    if not any(name.lower() == "user-agent" for name in headers):
        headers["User-Agent"] = USER_AGENT
    request = urllib.request.Request(target.url, method=target.method, headers=headers)
    low, high = target.expected_status
    try:
        with opener.open(request, timeout=target.timeout) as response:
            status: int = response.status
            wants_body = target.contains is not None and low <= status <= high
            return status, _read_text(response) if wants_body else None
    except urllib.error.HTTPError as error:
        # 4xx/5xx: a response like any other, judged against expected_status.
        with error:
            wants_body = target.contains is not None and low <= error.code <= high
            return error.code, _read_text(error) if wants_body else None


def _failure_reason(error: BaseException, target: Target) -> str:
    """A short, specific reason for a check that got no usable response."""
    if isinstance(error, TooManyRedirectsError):
        return str(error)
    if isinstance(error, urllib.error.URLError):
        if not isinstance(error.reason, BaseException):
            return f"request failed: {error.reason}"
        error = error.reason
    if isinstance(error, socket.gaierror):
        return f"DNS failure: {error.strerror or error}"
    if isinstance(error, TimeoutError):
        return f"timed out after {_seconds(target.timeout)} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {SSL_SOURCE_SUFFIX.sub('', str(error))}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, http.client.HTTPException):
        return f"invalid HTTP response: {type(error).__name__}"
    if isinstance(error, OSError):
        return f"connection failed: {error.strerror or error}"
    return f"check failed: {type(error).__name__}: {error}"


def check_target(target: Target, max_redirects: int) -> CheckResult:
    """Check one target; never raises."""
    start = time.perf_counter()
    try:
        status, body = _fetch(target, max_redirects)
    except Exception as error:
        latency_ms = round((time.perf_counter() - start) * 1000, 1)
        return CheckResult(False, None, latency_ms, _failure_reason(error, target))
    latency = time.perf_counter() - start
    latency_ms = round(latency * 1000, 1)
    low, high = target.expected_status
    reason: str | None = None
    if not low <= status <= high:
        reason = f"status {status} not in {low}..{high}"
    elif target.contains is not None and (body is None or target.contains not in body):
        reason = f"body does not contain {target.contains!r}"
    elif target.max_latency is not None and latency > target.max_latency:
        reason = f"slow: {latency:.2f} s > {_seconds(target.max_latency)} s"
    return CheckResult(reason is None, status, latency_ms, reason)


def run_checks(targets: tuple[Target, ...], max_redirects: int) -> dict[str, CheckResult]:
    """Check every target concurrently; whatever is unfinished at the deadline is down."""
    deadline = max(target.timeout for target in targets) + DEADLINE_GRACE
    tls_context()  # here, once, rather than by the first threads that need it at the same time
    start = time.perf_counter()
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(len(targets), MAX_TARGETS), thread_name_prefix="probe"
    )
    try:
        futures = {
            executor.submit(check_target, target, max_redirects): target for target in targets
        }
        done, _ = concurrent.futures.wait(futures, timeout=deadline)
    finally:
        # Never wait for a straggler (a DNS lookup ignores the socket timeout).
        executor.shutdown(wait=False, cancel_futures=True)
    elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
    results: dict[str, CheckResult] = {}
    for future, target in futures.items():
        error = future.exception() if future in done else None
        if future not in done:
            reason = f"timed out after {_seconds(deadline)} s (run deadline)"
            results[target.name] = CheckResult(False, None, elapsed_ms, reason)
        elif error is not None:  # check_target does not raise; belt and braces
            reason = f"check failed: {type(error).__name__}: {error}"
            results[target.name] = CheckResult(False, None, elapsed_ms, reason)
        else:
            results[target.name] = future.result()
    return results


def publish(target: Target, result: CheckResult, config: ProbeConfig) -> None:
    """One EMF document per metric, with exactly the dimensions the alarms use."""
    dimensions = {"service": config.service, "Target": target.name}
    with single_metric(
        name="Availability",
        unit=MetricUnit.Count,
        value=1 if result.up else 0,
        namespace=config.namespace,
        default_dimensions=dimensions,
    ):
        pass
    with single_metric(
        name="Latency",
        unit=MetricUnit.Milliseconds,
        value=result.latency_ms,
        namespace=config.namespace,
        default_dimensions=dimensions,
    ):
        pass
    log = logger.info if result.up else logger.warning
    log(
        "target up" if result.up else "target down",
        target=target.name,
        url=target.url,
        up=result.up,
        status=result.status,
        latency_ms=result.latency_ms,
        reason=result.reason,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = run_checks(CONFIG.targets, CONFIG.max_redirects)
    for target in CONFIG.targets:
        publish(target, results[target.name], CONFIG)
    down = [target.name for target in CONFIG.targets if not results[target.name].up]
    metrics.add_metric(name="TargetsDown", unit=MetricUnit.Count, value=len(down))
    return {
        "checked": len(CONFIG.targets),
        "down": down,
        "results": {name: result.to_dict() for name, result in results.items()},
    }
