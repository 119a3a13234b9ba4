"""The local API front: every REST API stage deployed in the emulator, answering HTTP on
127.0.0.1 as API Gateway documents it.

A stage is served at ``http://127.0.0.1:PORT/<api id>/<stage>/``; the paths below it are the
API's. Everything is read from the deployed templates (moto's CloudFormation skips stages,
models, validators, authorizers, API keys and usage plans):

- resources and methods, with path parameters and greedy ``{proxy+}`` paths (a literal segment
  wins over a parameter, a parameter over a greedy path; ``ANY`` after the exact method);
- authorization: ``AWS_IAM`` (SigV4 verified with the emulator's credentials, then
  ``execute-api:Invoke`` on the method's ARN against the caller's policies), Cognito user pools
  (tokens the emulator's user pool issued), API keys with their usage plans' throttle and quota;
- request validators and models (JSON Schema draft 4);
- integrations: ``AWS_PROXY`` to the local runtime, ``HTTP``/``HTTP_PROXY`` forwarded, ``AWS``
  to the service in the emulator with the integration's role, ``MOCK``; request and response
  mapping templates (:mod:`.mapping_templates`), integration responses selected by pattern,
  ``$context.responseOverride``, the integration timeout;
- method caching by the configured cache keys and TTL, stage and method throttling, access logs
  in the stage's format written to its log group;
- API Gateway's own answers: 403 ``Missing Authentication Token``, 401, 429, 502 for a
  malformed proxy response, 504 at the integration timeout.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from serverless_patterns.local import catalog
from serverless_patterns.local.mapping_templates import render
from serverless_patterns.testing import events
from serverless_patterns.testing.invariants import referenced_id

if TYPE_CHECKING:
    from serverless_patterns.local.runtime import Runtime

LOG_NAME = "serverless_patterns.local.apigateway"
DEFAULT_TIMEOUT_MS = 29_000
ACCOUNT_RATE, ACCOUNT_BURST = 10_000.0, 5_000.0
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
REMAPPED = {"x-amzn-requestid", "date", "server", "connection", "authorization", "www-authenticate"}
_SERVICE_MODELS = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}


# --- the model, from the templates ----------------------------------------------------------


@dataclass
class Method:
    logical_id: str
    http_method: str
    resource_path: str
    authorization: str = "NONE"
    api_key_required: bool = False
    user_pools: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    identity_header: str = "Authorization"
    validate_body: bool = False
    validate_params: bool = False
    models: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, bool] = field(default_factory=dict)
    integration: dict[str, Any] = field(default_factory=dict)


@dataclass
class Setting:
    resource_path: str
    http_method: str
    caching: bool = False
    ttl: int = 300
    rate: float | None = None
    burst: float | None = None

    def applies(self, method: Method) -> bool:
        return self.resource_path in ("/*", method.resource_path) and self.http_method in (
            "*",
            method.http_method,
        )


@dataclass
class Stage:
    name: str
    settings: list[Setting] = field(default_factory=list)
    cache_cluster: bool = False
    log_group: str = ""
    log_format: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    def setting(self, method: Method) -> Setting:
        """The method's own setting over the stage-wide one (``/*``, ``*``)."""
        matching = [s for s in self.settings if s.applies(method)]
        matching.sort(key=lambda s: (s.resource_path != "/*", s.http_method != "*"))
        merged = Setting(method.resource_path, method.http_method)
        for setting in matching:
            merged.caching = setting.caching
            merged.ttl = setting.ttl
            merged.rate = setting.rate if setting.rate is not None else merged.rate
            merged.burst = setting.burst if setting.burst is not None else merged.burst
        return merged


@dataclass
class UsagePlan:
    logical_id: str
    stages: set[tuple[str, str]]  # (api logical id, stage name)
    rate: float | None = None
    burst: float | None = None
    quota: int | None = None
    period: str = "DAY"
    keys: set[str] = field(default_factory=set)  # key values


@dataclass
class Api:
    id: str
    name: str
    stack: str
    logical_id: str
    methods: dict[tuple[str, str], Method] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    plans: list[UsagePlan] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> value
    routes: list[tuple[tuple[int, ...], re.Pattern[str], str]] = field(default_factory=list)

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The resource path that serves ``path`` and its path parameters."""
        for _, pattern, resource_path in self.routes:
            match = pattern.fullmatch(path)
            if match:
                return resource_path, {
                    _unslot(k): urllib.parse.unquote(v) for k, v in match.groupdict().items()
                }
        return None

    def method(self, resource_path: str, http_method: str) -> Method | None:
        return self.methods.get((resource_path, http_method)) or self.methods.get(
            (resource_path, "ANY")
        )


def _slot(name: str) -> str:
    return "p_" + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in name)


def _unslot(slot: str) -> str:
    return re.sub(r"_([0-9a-f]+)_", lambda m: chr(int(m.group(1), 16)), slot[2:])


def _compile(resource_path: str) -> tuple[tuple[int, ...], re.Pattern[str]]:
    rank: list[int] = []
    parts: list[str] = []
    for segment in [s for s in resource_path.split("/") if s]:
        greedy = re.fullmatch(r"\{(.+)\+\}", segment)
        param = re.fullmatch(r"\{(.+)\}", segment)
        if greedy:
            rank.append(2)
            parts.append(f"(?P<{_slot(greedy.group(1))}>.+)")
        elif param:
            rank.append(1)
            parts.append(f"(?P<{_slot(param.group(1))}>[^/]+)")
        else:
            rank.append(0)
            parts.append(re.escape(segment))
    return tuple(rank), re.compile("/" + "/".join(parts) + "/?" if parts else "/?")


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def load_apis() -> dict[str, Api]:
    """Every REST API deployed in the emulator, by its id."""
    types = [
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Model",
        "AWS::ApiGateway::RequestValidator",
        "AWS::ApiGateway::Authorizer",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::ApiGateway::ApiKey",
    ]
    by_stack: dict[str, list[catalog.Resource]] = {}
    for resource in catalog.resources(*types, partial=True):
        by_stack.setdefault(resource.stack_name, []).append(resource)
    apis: dict[str, Api] = {}
    for stack, found in by_stack.items():
        for api in _stack_apis(stack, found):
            apis[api.id] = api
    return apis


def _stack_apis(stack: str, found: list[catalog.Resource]) -> list[Api]:
    of = {r.logical_id: r for r in found}

    def typed(kind: str) -> list[catalog.Resource]:
        return [r for r in found if r.type == kind]

    apis = {
        r.logical_id: Api(
            id=r.physical_id or r.logical_id,
            name=str(r.properties.get("Name", r.logical_id)),
            stack=stack,
            logical_id=r.logical_id,
        )
        for r in typed("AWS::ApiGateway::RestApi")
        if r.physical_id
    }

    def path_of(reference: Any) -> str:
        logical = referenced_id(reference)
        if logical is None or logical in apis or logical not in of:
            return "/"  # the API's root resource
        props = of[logical].raw
        parent = path_of(props.get("ParentId"))
        return parent.rstrip("/") + "/" + str(props.get("PathPart", ""))

    keys = {
        r.logical_id: str(
            r.properties.get("Value")
            or hashlib.sha256(f"{stack}/{r.logical_id}".encode()).hexdigest()[:40]
        )
        for r in typed("AWS::ApiGateway::ApiKey")
    }
    for r in typed("AWS::ApiGateway::Method"):
        api = apis.get(referenced_id(r.raw.get("RestApiId")) or "")
        if api is None:
            continue
        props = r.properties
        validator = of.get(referenced_id(r.raw.get("RequestValidatorId")) or "")
        authorizer = of.get(referenced_id(r.raw.get("AuthorizerId")) or "")
        models = {}
        for content_type, model in (r.raw.get("RequestModels") or {}).items():
            model_resource = of.get(referenced_id(model) or "")
            if model_resource is not None:
                models[content_type] = model_resource.properties.get("Schema")
        identity = "Authorization"
        pools: list[str] = []
        if authorizer is not None:
            source = str(authorizer.properties.get("IdentitySource") or "")
            identity = source.rsplit(".", 1)[-1] or identity
            pools = [str(p) for p in authorizer.properties.get("ProviderARNs") or []]
        method = Method(
            logical_id=r.logical_id,
            http_method=str(props.get("HttpMethod", "GET")).upper(),
            resource_path=path_of(r.raw.get("ResourceId")),
            authorization=str(props.get("AuthorizationType") or "NONE"),
            api_key_required=bool(props.get("ApiKeyRequired")),
            user_pools=pools,
            scopes=[str(s) for s in props.get("AuthorizationScopes") or []],
            identity_header=identity,
            validate_body=bool(validator and validator.properties.get("ValidateRequestBody")),
            validate_params=bool(
                validator and validator.properties.get("ValidateRequestParameters")
            ),
            models=models,
            parameters={str(k): bool(v) for k, v in (props.get("RequestParameters") or {}).items()},
            integration=dict(props.get("Integration") or {}),
        )
        api.methods[(method.resource_path, method.http_method)] = method
    for r in typed("AWS::ApiGateway::Stage") + typed("AWS::ApiGateway::Deployment"):
        api = apis.get(referenced_id(r.raw.get("RestApiId")) or "")
        props = r.properties
        name = props.get("StageName")
        if api is None or not name or name in api.stages:
            continue
        options = props if r.type.endswith("Stage") else props.get("StageDescription") or {}
        log = options.get("AccessLogSetting") or {}
        arn = str(log.get("DestinationArn") or "")
        api.stages[str(name)] = Stage(
            name=str(name),
            settings=[_setting(s) for s in options.get("MethodSettings") or []],
            cache_cluster=bool(options.get("CacheClusterEnabled")),
            log_group=arn.split(":log-group:", 1)[1].removesuffix(":*")
            if ":log-group:" in arn
            else "",
            log_format=str(log.get("Format") or ""),
            variables={str(k): str(v) for k, v in (options.get("Variables") or {}).items()},
        )
    plan_keys: dict[str, set[str]] = {}
    for r in typed("AWS::ApiGateway::UsagePlanKey"):
        plan_id = referenced_id(r.raw.get("UsagePlanId")) or ""
        key = keys.get(referenced_id(r.raw.get("KeyId")) or "")
        if key:
            plan_keys.setdefault(plan_id, set()).add(key)
    for r in typed("AWS::ApiGateway::UsagePlan"):
        props, raw = r.properties, r.raw
        stages = {
            (referenced_id(s.get("ApiId")) or "", str(s.get("Stage", "")))
            for s in raw.get("ApiStages") or []
            if isinstance(s, dict)
        }
        throttle, quota = props.get("Throttle") or {}, props.get("Quota") or {}
        plan = UsagePlan(
            logical_id=r.logical_id,
            stages=stages,
            rate=_number(throttle.get("RateLimit")),
            burst=_number(throttle.get("BurstLimit")),
            quota=int(quota["Limit"]) if quota.get("Limit") is not None else None,
            period=str(quota.get("Period") or "DAY"),
            keys=plan_keys.get(r.logical_id, set()),
        )
        for logical, api in apis.items():
            if any(a == logical for a, _ in stages):
                api.plans.append(plan)
    for api in apis.values():
        api.keys = keys
        paths = {m.resource_path for m in api.methods.values()}
        compiled = [(*_compile(p), p) for p in paths]
        api.routes = sorted(compiled, key=lambda c: (c[0], -len(c[0])))
    return list(apis.values())


def _setting(raw: Mapping[str, Any]) -> Setting:
    path = str(raw.get("ResourcePath") or "/*").replace("~1", "/").replace("~0", "~")
    return Setting(
        resource_path="/" + path.lstrip("/") if path != "/*" else "/*",
        http_method=str(raw.get("HttpMethod") or "*").upper(),
        caching=bool(raw.get("CachingEnabled")),
        ttl=int(raw.get("CacheTtlInSeconds") or 300),
        rate=_number(raw.get("ThrottlingRateLimit")),
        burst=_number(raw.get("ThrottlingBurstLimit")),
    )


# --- requests and answers -------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str  # below the stage, from "/"
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    raw_path: str = ""  # as the client sent it (what SigV4 signed)
    raw_query: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @staticmethod
    def gateway(status: int, message: str, key: str = "message") -> Response:
        """One of API Gateway's own answers (an error raised before or around the
        integration), as its default gateway responses shape them."""
        return Response(
            status,
            json.dumps({key: message}).encode(),
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", _error_type(status))],
        )


def _error_type(status: int) -> str:
    return {
        400: "BadRequestException",
        401: "UnauthorizedException",
        403: "ForbiddenException",
        404: "NotFoundException",
        415: "UnsupportedMediaTypeException",
        429: "TooManyRequestsException",
        502: "BadGatewayException",
        504: "IntegrationTimeoutException",
    }.get(status, "InternalServerErrorException")


class Bucket:
    """A token bucket: ``rate`` requests a second, ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = max(rate, 0.0), max(burst, 1.0)
        self.tokens, self.at = self.burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class RefusedError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# --- the front ------------------------------------------------------------------------------


class ApiFront:
    """Serves every deployed REST API stage; reloads the APIs when the stacks change."""

    def __init__(self, runtime: Runtime, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.runtime = runtime
        self.host, self.port = host, port
        self.apis: dict[str, Api] = {}
        self._signature = ""
        self._lock = threading.Lock()
        self._buckets: dict[Any, Bucket] = {}
        self._quota: dict[tuple[str, str], int] = {}
        self._cache: dict[tuple[Any, ...], tuple[float, Response]] = {}
        self._server: Any = None

    # lifecycle

    def start(self) -> None:
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self.wsgi, threaded=True)
        self.port = int(self._server.server_port)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="api-front").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def refresh(self) -> None:
        apis = load_apis()
        signature = json.dumps(
            {k: [sorted(a.methods), sorted(a.stages)] for k, a in apis.items()}, default=str
        )
        with self._lock:
            self.apis = apis
            if signature != self._signature:
                self._signature = signature
                self._cache.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            apis = list(self.apis.values())
        return [
            {
                "stack": api.stack,
                "api": api.logical_id,
                "name": api.name,
                "id": api.id,
                "stage": stage,
                "url": f"http://{self.host}:{self.port}/{api.id}/{stage}/",
                **({"api_keys": dict(api.keys)} if api.keys else {}),
            }
            for api in apis
            for stage in api.stages
        ]

    # WSGI

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [
            (key[5:].replace("_", "-").title(), str(value))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", str(environ["CONTENT_TYPE"])))
        if environ.get("CONTENT_LENGTH"):
            headers.append(("Content-Length", str(environ["CONTENT_LENGTH"])))
        raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        path = raw_path.split("?", 1)[0] if raw_path else str(environ.get("PATH_INFO", "/"))
        query = urllib.parse.parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        request = Request(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=urllib.parse.unquote(path),
            query=query,
            headers=headers,
            body=body,
            source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
            raw_path=raw_path or path,
            raw_query=str(environ.get("QUERY_STRING", "")),
        )
        try:
            response = self.handle(request)
        except Exception:  # never a stack trace to a client: the emulator's log has it
            from serverless_patterns.local.runtime import LOG

            LOG.exception("API front: %s %s failed", request.method, request.path)
            response = Response.gateway(500, "Internal server error")
        names = {k.lower() for k, _ in response.headers}
        extra = [] if "content-length" in names else [("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason(response.status)}", response.headers + extra)
        return [response.body]

    # one request

    def handle(self, request: Request) -> Response:
        parts = request.path.split("/", 3)
        if len(parts) < 3:
            return Response.gateway(403, "Forbidden")
        with self._lock:
            api = self.apis.get(parts[1])
        stage = api.stages.get(parts[2]) if api else None
        if api is None or stage is None:
            return Response.gateway(403, "Forbidden")
        path = "/" + (parts[3] if len(parts) > 3 else "")
        started = time.time()
        context: dict[str, Any] = {
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "accountId": "123456789012",
            "apiId": api.id,
            "stage": stage.name,
            "httpMethod": request.method,
            "path": f"/{stage.name}{path}",
            "protocol": "HTTP/1.1",
            "domainName": f"{self.host}:{self.port}",
            "domainPrefix": api.id,
            "requestTime": dt.datetime.fromtimestamp(started, dt.UTC).strftime(
                "%d/%b/%Y:%H:%M:%S +0000"
            ),
            "requestTimeEpoch": int(started * 1000),
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
            "resourcePath": None,
            "resourceId": None,
            "authorizer": {},
            "error": {},
        }
        response = self._serve(api, stage, path, request, context)
        context["status"] = response.status
        context["responseLength"] = len(response.body)
        context["responseLatency"] = int((time.time() - started) * 1000)
        # API Gateway keeps these headers its own and renames an integration's.
        response.headers = [
            (f"x-amzn-Remapped-{k}" if k.lower() in REMAPPED else k, v) for k, v in response.headers
        ]
        response.headers.append(("x-amzn-RequestId", context["requestId"]))
        self._access_log(stage, context)
        return response

    def _serve(
        self, api: Api, stage: Stage, path: str, request: Request, context: dict[str, Any]
    ) -> Response:
        routed = api.route(path)
        method = api.method(routed[0], request.method) if routed else None
        if routed is None or method is None:
            context["error"] = {"message": "Missing Authentication Token"}
            return Response.gateway(403, "Missing Authentication Token")
        resource_path, path_params = routed
        context.update(resourcePath=resource_path, resourceId=method.logical_id)
        try:
            self._authorize(api, stage, method, request, context)
            setting = stage.setting(method)
            self._throttle(
                ("stage", api.id, stage.name, method.resource_path, method.http_method),
                setting.rate,
                setting.burst,
            )
            params = {
                "path": path_params,
                "querystring": {k: v for k, v in request.query},
                "header": {k: v for k, v in request.headers},
            }
            self._validate(method, request, params)
        except RefusedError as denied:
            context["error"] = {"message": json.loads(denied.response.body or b"{}").get("message")}
            return denied.response
        cache_key = None
        if stage.cache_cluster and setting.caching:
            cache_key = self._cache_key(api, stage, method, params)
            cached = self._cache_lookup(cache_key, request, method, api, stage, context)
            if cached is not None:
                return cached
        response = self._integrate(api, stage, method, request, params, path_params, context)
        if cache_key is not None and 200 <= response.status < 300:
            with self._lock:
                self._cache[cache_key] = (time.monotonic() + setting.ttl, response)
        return response

    # authorization

    def _authorize(
        self, api: Api, stage: Stage, method: Method, request: Request, context: dict[str, Any]
    ) -> None:
        kind = method.authorization.upper()
        if kind == "AWS_IAM":
            context["identity"].update(self._iam(api, stage, request, "Invoke"))
        elif kind == "COGNITO_USER_POOLS":
            context["authorizer"] = {"claims": self._cognito(method, request)}
        elif kind == "CUSTOM":
            raise RefusedError(Response.gateway(500, "Internal server error"))  # not served locally
        if method.api_key_required:
            key = request.header("x-api-key")
            plans = [
                p
                for p in api.plans
                if (api.logical_id, stage.name) in p.stages and key and key in p.keys
            ]
            if not plans:
                raise RefusedError(Response.gateway(403, "Forbidden"))
            context["identity"]["apiKey"] = key
            plan = plans[0]
            self._throttle(("key", plan.logical_id, key), plan.rate, plan.burst)
            if plan.quota is not None:
                period = {"DAY": "%Y-%m-%d", "WEEK": "%G-%V", "MONTH": "%Y-%m"}[plan.period]
                slot = (plan.logical_id, f"{key}/{time.strftime(period, time.gmtime())}")
                with self._lock:
                    used = self._quota.get(slot, 0)
                    if used >= plan.quota:
                        raise RefusedError(Response.gateway(429, "Limit Exceeded"))
                    self._quota[slot] = used + 1

    def _iam(self, api: Api, stage: Stage, request: Request, action: str) -> dict[str, Any]:
        from moto.core.exceptions import (
            AccessDeniedError,
            InvalidClientTokenIdError,
            SignatureDoesNotMatchError,
        )
        from moto.iam.access_control import IAMRequest

        headers = {k: v for k, v in request.headers}
        authorization = headers.get("Authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256") or "X-Amz-Date" not in headers:
            raise RefusedError(Response.gateway(403, "Missing Authentication Token"))
        query = request.raw_query  # as signed: canonical query strings are the client's text
        target = request.raw_path.split("?", 1)[0] + (f"?{query}" if query else "")
        try:
            checked = IAMRequest(
                account_id="123456789012",
                method=request.method,
                path=f"http://{headers.get('Host', '')}{target}",
                data={},
                body=request.body,
                headers=headers,
                action=action,
            )
            checked.check_signature()
        except InvalidClientTokenIdError:
            raise RefusedError(
                Response.gateway(403, "The security token included in the request is invalid.")
            ) from None
        except SignatureDoesNotMatchError:
            raise RefusedError(
                Response.gateway(
                    403,
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method.",
                )
            ) from None
        principal = checked._access_key.arn
        below = request.path.split("/", 3)[3] if request.path.count("/") >= 3 else ""
        resource = (
            f"arn:aws:execute-api:us-east-1:123456789012:{api.id}/{stage.name}/"
            f"{request.method}/{below}"
        )
        try:
            checked.check_action_permitted(resource)
        except AccessDeniedError:
            raise RefusedError(
                Response.gateway(
                    403,
                    f"User: {principal} is not authorized to perform: execute-api:{action} "
                    f"on resource: {resource}",
                    key="Message",
                )
            ) from None
        if ":user/" in principal:
            user = principal.rsplit("/", 1)[-1]
        else:  # assumed-role/Role/session -> Role:session
            user = principal.split("/", 1)[-1].replace("/", ":")
        return {
            "caller": user,
            "user": user,
            "userArn": principal,
            "accessKey": checked._access_key._access_key_id,
            "accountId": "123456789012",
        }

    def _cognito(self, method: Method, request: Request) -> dict[str, Any]:
        from joserfc import jwt
        from moto.cognitoidp.models import cognitoidp_backends

        token = (request.header(method.identity_header) or "").removeprefix("Bearer ").strip()
        if not token:
            raise RefusedError(Response.gateway(401, "Unauthorized"))
        for arn in method.user_pools:
            parts = arn.split(":")
            pool_id = arn.rsplit("/", 1)[-1]
            pool = cognitoidp_backends[parts[4]][parts[3]].user_pools.get(pool_id)
            if pool is None:
                continue
            try:
                claims = dict(jwt.decode(token, pool.json_web_key).claims)
            except Exception:
                continue
            if not str(claims.get("iss", "")).endswith(f"/{pool_id}"):
                continue
            if int(claims.get("exp", 0)) < time.time():
                raise RefusedError(Response.gateway(401, "The incoming token has expired"))
            if method.scopes:
                granted = set(str(claims.get("scope", "")).split())
                if claims.get("token_use") != "access" or not granted & set(method.scopes):
                    raise RefusedError(Response.gateway(401, "Unauthorized"))
            elif claims.get("token_use") != "id":
                raise RefusedError(Response.gateway(401, "Unauthorized"))
            return {k: str(v) for k, v in claims.items()}
        raise RefusedError(Response.gateway(401, "Unauthorized"))

    def _throttle(self, key: Any, rate: float | None, burst: float | None) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = Bucket(
                    rate if rate is not None else ACCOUNT_RATE,
                    burst if burst is not None else ACCOUNT_BURST,
                )
                self._buckets[key] = bucket
        if not bucket.take():
            raise RefusedError(Response.gateway(429, "Too Many Requests"))

    # validation

    def _validate(self, method: Method, request: Request, params: dict[str, Any]) -> None:
        if method.validate_params:
            missing = []
            for name, required in method.parameters.items():
                parts = name.split(".", 3)  # method.request.<where>.<name>
                if not required or len(parts) < 4:
                    continue
                where, key = parts[2], parts[3]
                present = (
                    any(k.lower() == key.lower() for k in params["header"])
                    if where == "header"
                    else key in params.get(where, {})
                )
                if not present:
                    missing.append(key)
            if missing:
                raise RefusedError(
                    Response.gateway(
                        400, f"Missing required request parameters: [{', '.join(missing)}]"
                    )
                )
        if method.validate_body and method.models:
            content_type = (request.header("Content-Type") or "application/json").split(";")[0]
            schema = method.models.get(content_type.strip().lower(), method.models.get("$default"))
            if schema is None:
                return
            import jsonschema  # type: ignore[import-untyped]

            try:
                document = json.loads(request.body or b"null")
            except ValueError:
                raise RefusedError(Response.gateway(400, "Invalid request body")) from None
            if next(iter(jsonschema.Draft4Validator(schema).iter_errors(document)), None):
                raise RefusedError(Response.gateway(400, "Invalid request body"))

    # caching

    def _cache_key(
        self, api: Api, stage: Stage, method: Method, params: dict[str, Any]
    ) -> tuple[Any, ...]:
        values: list[Any] = []
        for name in method.integration.get("CacheKeyParameters") or []:
            parts = str(name).split(".", 3)
            if len(parts) < 4:
                continue
            where, key = parts[2], parts[3]
            source = params.get(where, {})
            if where == "header":
                source = {k.lower(): v for k, v in source.items()}
                key = key.lower()
            values.append((name, source.get(key)))
        return (api.id, stage.name, method.http_method, method.resource_path, tuple(values))

    def _cache_lookup(
        self,
        key: tuple[Any, ...],
        request: Request,
        method: Method,
        api: Api,
        stage: Stage,
        context: dict[str, Any],
    ) -> Response | None:
        control = (request.header("Cache-Control") or "").replace(" ", "").lower()
        if "max-age=0" in control:
            # Invalidation needs execute-api:InvalidateCache (API Gateway's default); without
            # it the header is ignored, as API Gateway does when it is set to ignore.
            with contextlib.suppress(RefusedError):
                if method.authorization.upper() == "AWS_IAM":
                    self._iam(api, stage, request, "InvalidateCache")
                    with self._lock:
                        self._cache.pop(key, None)
                    return None
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        cached = hit[1]
        return Response(cached.status, cached.body, list(cached.headers))

    # integrations

    def _integrate(
        self,
        api: Api,
        stage: Stage,
        method: Method,
        request: Request,
        params: dict[str, Any],
        path_params: dict[str, str],
        context: dict[str, Any],
    ) -> Response:
        integration = method.integration
        kind = str(integration.get("Type", "MOCK")).upper()
        timeout = float(integration.get("TimeoutInMillis") or DEFAULT_TIMEOUT_MS) / 1000
        started = time.time()
        try:
            if kind == "AWS_PROXY":
                response = self._lambda_proxy(stage, method, request, path_params, context, timeout)
            elif kind == "HTTP_PROXY":
                response = self._http_proxy(method, request, params, timeout)
            elif kind in ("AWS", "HTTP", "MOCK"):
                response = self._templated(kind, stage, method, request, params, context, timeout)
            else:
                response = Response.gateway(500, "Internal server error")
        except TimeoutError:
            context["error"] = {"message": "Endpoint request timed out"}
            response = Response.gateway(504, "Endpoint request timed out")
        context["integrationLatency"] = int((time.time() - started) * 1000)
        context["integrationStatus"] = response.status
        return response

    def _lambda_proxy(
        self,
        stage: Stage,
        method: Method,
        request: Request,
        path_params: dict[str, str],
        context: dict[str, Any],
        timeout: float,
    ) -> Response:
        found = re.search(r"functions/(.+?)/invocations", str(method.integration.get("Uri", "")))
        if found is None:
            return Response.gateway(500, "Internal server error")
        function = found.group(1)
        event = events.api_gateway_event(
            request.method,
            "/" + context["path"].split("/", 2)[-1],
            resource=method.resource_path,
            body=request.body or None,
            headers=request.headers,
            query=request.query,
            path_parameters=path_params,
            stage_variables=stage.variables,
            request_context={
                **{k: v for k, v in context.items() if k != "error"},
                "resourcePath": method.resource_path,
            },
        )
        result = self._call(lambda: self.runtime.invoke(self._qualified(function), event), timeout)
        if not result.ok:
            context["error"] = {"message": "Internal server error"}
            return Response.gateway(502, "Internal server error")
        payload = result.payload
        if isinstance(payload, (bytes, str)):
            with contextlib.suppress(ValueError):
                payload = json.loads(payload)
        if not isinstance(payload, dict) or not _valid_proxy_answer(payload):
            # API Gateway: "Malformed Lambda proxy response"
            context["error"] = {"message": "Malformed Lambda proxy response"}
            return Response.gateway(502, "Internal server error")
        headers = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
        for key, values in (payload.get("multiValueHeaders") or {}).items():
            headers += [(str(key), str(v)) for v in values]
        body = payload.get("body") or ""
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return Response(int(payload.get("statusCode") or 200), data, headers)

    def _qualified(self, function: str) -> str:
        """The function an integration names; an alias moto's CloudFormation skipped (so
        unknown to the emulator) stands for the function's current version."""
        parts = function.split(":")
        if len(parts) == 8:
            with contextlib.suppress(Exception):
                self.runtime.function_spec(function)
                return function
            return ":".join(parts[:7])
        return function

    @staticmethod
    def _call(work: Callable[[], Any], timeout: float) -> Any:
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as error:  # re-raised in the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _http_proxy(
        self, method: Method, request: Request, params: dict[str, Any], timeout: float
    ) -> Response:
        url, mapped = _target_url(method.integration, params)
        if request.query and "?" not in url:
            url += "?" + urllib.parse.urlencode(request.query)
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        headers.update(mapped)
        headers["X-Forwarded-For"] = request.source_ip
        return self._http(request.method, url, request.body or None, headers, timeout)

    @staticmethod
    def _http(
        verb: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> Response:
        outgoing = urllib.request.Request(url, data=body, headers=dict(headers), method=verb)
        try:
            with urllib.request.urlopen(outgoing, timeout=timeout) as answer:
                return Response(answer.status, answer.read(), _kept(answer.headers.items()))
        except urllib.error.HTTPError as answer:
            return Response(answer.code, answer.read(), _kept(answer.headers.items()))
        except TimeoutError:
            raise
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise TimeoutError from None
            return Response.gateway(500, "Internal server error")

    def _templated(
        self,
        kind: str,
        stage: Stage,
        method: Method,
        request: Request,
        params: dict[str, Any],
        context: dict[str, Any],
        timeout: float,
    ) -> Response:
        integration = method.integration
        content_type = (request.header("Content-Type") or "application/json").split(";")[0]
        templates = integration.get("RequestTemplates") or {}
        template = templates.get(content_type.strip())
        passthrough = str(integration.get("PassthroughBehavior") or "WHEN_NO_MATCH").upper()
        text = request.body.decode("utf-8", errors="replace")
        if template is None and (
            passthrough == "NEVER" or (passthrough == "WHEN_NO_TEMPLATES" and templates)
        ):
            return Response.gateway(415, "Unsupported Media Type")
        if template is not None:
            text = render(
                str(template),
                body=text,
                params=params,
                context=context,
                stage_variables=stage.variables,
            ).text
        if kind == "MOCK":
            status = 200
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                status = int(json.loads(text).get("statusCode", 200))
            answer = Response(status, b"", [])
        elif kind == "HTTP":
            url, mapped = _target_url(method.integration, params)
            verb = str(integration.get("IntegrationHttpMethod") or request.method)
            answer = self._http(verb, url, text.encode() or None, mapped, timeout)
        else:
            answer = self._call(lambda: self._aws(integration, text, params), timeout)
        return self._integration_response(integration, answer, params, context, stage)

    def _aws(self, integration: Mapping[str, Any], body: str, params: dict[str, Any]) -> Response:
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]
        from botocore.session import get_session  # type: ignore[import-untyped]

        found = re.match(
            r"arn:aws:apigateway:([^:]*):([^:]+):(action|path)/(.+)",
            str(integration.get("Uri", "")),
        )
        if found is None:
            return Response.gateway(500, "Internal server error")
        region, service, style, target = found.groups()
        region = region or "us-east-1"
        model = get_session().get_service_model(_SERVICE_MODELS.get(service, service))
        role = str(integration.get("Credentials") or "")
        if not role:
            return Response.gateway(500, "Internal server error")
        credentials = self.runtime.role_credentials(role, "apigateway")
        _, mapped = _target_url(integration, params)
        headers = dict(mapped)
        url = self.runtime.endpoint + "/"
        if style == "action" and model.metadata.get("protocol") in (
            "json",
            "awsjson1_0",
            "awsjson1_1",
        ):
            headers["X-Amz-Target"] = f"{model.metadata['targetPrefix']}.{target}"
            headers.setdefault(
                "Content-Type", f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
            )
        elif style == "action":
            url += "?" + urllib.parse.urlencode({"Action": target, "Version": model.api_version})
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            url = self.runtime.endpoint + "/" + target.lstrip("/")
        outgoing = AWSRequest(
            method=str(integration.get("IntegrationHttpMethod") or "POST"),
            url=url,
            data=body.encode(),
            headers=headers,
        )
        SigV4Auth(
            Credentials(
                credentials["AWS_ACCESS_KEY_ID"],
                credentials["AWS_SECRET_ACCESS_KEY"],
                credentials.get("AWS_SESSION_TOKEN"),
            ),
            model.signing_name,
            region,
        ).add_auth(outgoing)
        return self._http(outgoing.method, url, outgoing.body, dict(outgoing.headers.items()), 60)

    def _integration_response(
        self,
        integration: Mapping[str, Any],
        answer: Response,
        params: dict[str, Any],
        context: dict[str, Any],
        stage: Stage,
    ) -> Response:
        """The integration response selected by the answer's status (non-Lambda integrations
        match ``SelectionPattern`` against it), its templates and header mappings applied."""
        responses = list(integration.get("IntegrationResponses") or [])
        subject = str(answer.status)
        chosen = None
        for candidate in responses:
            pattern = candidate.get("SelectionPattern")
            if pattern and re.fullmatch(str(pattern), subject, flags=re.DOTALL):
                chosen = candidate
                break
        if chosen is None:
            chosen = next((c for c in responses if not c.get("SelectionPattern")), None)
        if chosen is None:  # no integration response for the answer: API Gateway answers 500
            return Response.gateway(500, "Internal server error")
        status = int(chosen.get("StatusCode") or 200)
        body = answer.body
        headers = [("Content-Type", "application/json")]
        templates = chosen.get("ResponseTemplates") or {}
        template = templates.get("application/json") or next(iter(templates.values()), None)
        if template:
            rendered = render(
                str(template),
                body=answer.body.decode("utf-8", errors="replace"),
                params=params,
                context=context,
                stage_variables=stage.variables,
            )
            body = rendered.text.encode()
            status = rendered.status or status
            headers += list(rendered.headers.items())
        upstream = {k.lower(): v for k, v in answer.headers}
        for target, source in (chosen.get("ResponseParameters") or {}).items():
            name = str(target).removeprefix("method.response.header.")
            source = str(source)
            if source.startswith("'") and source.endswith("'"):
                headers.append((name, source[1:-1]))
            elif source.startswith("integration.response.header."):
                value = upstream.get(source.rsplit(".", 1)[-1].lower())
                if value is not None:
                    headers.append((name, value))
        return Response(status, body, headers)

    # access logs

    def _access_log(self, stage: Stage, context: dict[str, Any]) -> None:
        if not stage.log_group or not stage.log_format:
            return

        def value(match: re.Match[str]) -> str:
            node: Any = context
            for part in match.group(1).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            return "-" if node is None or node == {} else str(node)

        line = re.sub(r"\$context\.([A-Za-z0-9_.]+)", value, stage.log_format)
        self.runtime.write_logs(stage.log_group, f"{stage.name}-{context['apiId']}", [line])


def _target_url(
    integration: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[str, dict[str, str]]:
    """The integration's URI with its path, query string and header parameters mapped."""
    url = str(integration.get("Uri", ""))
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for target, source in (integration.get("RequestParameters") or {}).items():
        value = _parameter(str(source), params)
        if value is None:
            continue
        where, _, name = str(target).removeprefix("integration.request.").partition(".")
        if where == "path":
            url = url.replace("{" + name + "+}", value).replace(
                "{" + name + "}", urllib.parse.quote(value, safe="/")
            )
        elif where == "querystring":
            query[name] = value
        elif where == "header":
            headers[name] = value
    if query:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
    return url, headers


def _kept(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def _parameter(source: str, params: Mapping[str, Any]) -> str | None:
    """The value of a mapping expression: ``'literal'`` or ``method.request.<where>.<name>``."""
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    parts = source.split(".", 3)
    if len(parts) == 4 and parts[:2] == ["method", "request"]:
        where, name = parts[2], parts[3]
        values = params.get(where, {})
        if where == "header":
            values = {k.lower(): v for k, v in values.items()}
            name = name.lower()
        found = values.get(name)
        return None if found is None else str(found)
    return None


def _valid_proxy_answer(payload: Mapping[str, Any]) -> bool:
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if set(payload) - allowed:
        return False
    status = payload.get("statusCode", 200)
    numeric = isinstance(status, int) and not isinstance(status, bool)
    if not numeric and not (isinstance(status, str) and status.isdigit()):
        return False
    body = payload.get("body")
    return body is None or isinstance(body, str)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
