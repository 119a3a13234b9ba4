"""LegacyApiProxy: a modern, secured API in front of a legacy HTTP/XML service.

API Gateway gives an old service a new API without touching it: routes that need no change go
straight through (HTTP proxy integration, no Lambda), and routes that need translation are
served by a translator function that calls the legacy service and turns its XML (or form)
answers into JSON by a declarative mapping.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from serverless_patterns import _tree, dashboards
from serverless_patterns._assets import packaged_handler_code, packaged_module
from serverless_patterns._synth import Validation, lazy_string
from serverless_patterns._typecheck import checked
from serverless_patterns._validation import Problems, number
from serverless_patterns.alarms import (
    FUNCTION_KINDS,
    AlarmBook,
    AlarmKind,
    AlarmSettings,
    check_alarm_settings,
)
from serverless_patterns.functions import (
    ServerlessFunction,
    function_timeout_seconds,
    scope_beside,
)
from serverless_patterns.nag import acknowledge
from serverless_patterns.rest_api import (
    acknowledge_method_findings,
    acknowledge_stage_findings,
    authorization_mode,
    check_api_name,
    secure_rest_api,
)

Authorization = Literal["IAM", "COGNITO", "API_KEY", "NONE"]
ResponseFormat = Literal["xml", "json", "form"]
_SEGMENT = r"(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
_PATH = re.compile(rf"^/(?:{_SEGMENT}(?:/{_SEGMENT})*(?:/\{{proxy\+\}})?|\{{proxy\+\}})?$")
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")
_INTEGRATION_TIMEOUT = Duration.seconds(29)
_CACHE_SIZES = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
#: Methods whose answers may be cached: those that change nothing.
_CACHEABLE_METHODS = ("GET", "HEAD")
_QUERY_NAME = re.compile(r"^[A-Za-z0-9_.~-]+$")
#: The translator gives up on the legacy service this long before API Gateway gives up on it.
_TRANSLATOR_MARGIN_SECONDS = 2.0
_LEGACY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Lambda allows 4 KB for all environment variables together; leave room for the others.
_MAX_TRANSLATION_TABLE = 3000
#: The kinds of alarm a LegacyApiProxy has (its ``alarm_settings`` keys).
ALARM_KINDS = (AlarmKind.API_SERVER_ERRORS, AlarmKind.API_LATENCY, *FUNCTION_KINDS)
_UNAUTHENTICATED = {
    "API_KEY": "Callers are identified by an API key with a usage plan (throttle, quota); no "
    "IAM or Cognito identity exists for them.",
    "NONE": "Unauthenticated by the explicit choice allow_unauthenticated=True.",
}


@dataclass(frozen=True)
class Route:
    """One route of the proxy."""

    method: str
    path: str
    kind: Literal["passthrough", "translated"]
    legacy_path: str


def _check_with_translator(problems: Problems, route_key: str, translation: dict[str, Any]) -> None:
    """The translator's own check of its route table entry, run at synth time."""
    routes = packaged_module("translator", "routes")
    try:
        routes.parse_route(route_key, translation)
    except ValueError as error:
        message = str(error)
        argument = next(
            (name for name in ("request_mapping", "response_mapping") if f".{name}" in message),
            "route",
        )
        problems.add(
            argument,
            translation.get(argument, route_key),
            f"is refused by the translator: {message}",
            "the mapping grammar of LegacyApiProxy.add_translated_route",
        )


def _check_private_service(
    problems: Problems,
    vpc_link: apigateway.IVpcLink | None,
    network_load_balancer: elbv2.INetworkLoadBalancer | None,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
) -> None:
    if vpc_link is not None and network_load_balancer is not None:
        problems.add(
            "network_load_balancer",
            network_load_balancer,
            "is given with vpc_link=: one VPC link serves the passthrough routes",
            "vpc_link= or network_load_balancer=, not both",
        )
    if vpc is None:
        for name, value in (("vpc_subnets", vpc_subnets), ("security_groups", security_groups)):
            if value is not None:
                problems.add(name, value, "needs vpc=", "vpc= too, or leave it out")
        return
    if vpc_subnets is not None:
        chosen = vpc.select_subnets(
            availability_zones=vpc_subnets.availability_zones,
            one_per_az=vpc_subnets.one_per_az,
            subnet_filters=vpc_subnets.subnet_filters,
            subnet_group_name=vpc_subnets.subnet_group_name,
            subnets=vpc_subnets.subnets,
            subnet_type=vpc_subnets.subnet_type,
        )
        selected = {subnet.subnet_id for subnet in chosen.subnets}
        public = {subnet.subnet_id for subnet in vpc.public_subnets}
        if selected & public:
            problems.add(
                "vpc_subnets",
                vpc_subnets.subnet_type.name if vpc_subnets.subnet_type else vpc_subnets,
                "selects public subnets: a function there gets no public address and reaches "
                "neither the internet nor AWS's endpoints",
                "private (with NAT) or isolated subnets",
            )


def _cache_key_parameters(
    path_parameters: Sequence[str], query_parameters: Sequence[str], cache_ttl: Duration | None
) -> list[str] | None:
    """What keys a cached route: every path parameter and the listed query parameters."""
    if cache_ttl is None:
        return None
    return [f"method.request.path.{name}" for name in path_parameters] + [
        f"method.request.querystring.{name}" for name in query_parameters
    ]


def _method_parameters(
    path_parameters: Sequence[str], query_parameters: Sequence[str]
) -> dict[str, bool]:
    """Path parameters (required) and cache-keying query parameters (optional) of a method."""
    return {f"method.request.path.{name}": True for name in path_parameters} | {
        f"method.request.querystring.{name}": False for name in query_parameters
    }


class LegacyApiProxy(Construct):
    """A REST API over a legacy service: passthrough routes and translated routes.

    Args:
        scope: parent construct.
        id: construct id (part of every logical id below it: choose it once).
        legacy_base_url: ``http(s)://host[:port][/base]`` of the legacy service, no query.
        authorization: ``"IAM"`` (SigV4), ``"COGNITO"`` (needs ``user_pool``), ``"API_KEY"``
            (needs ``usage_plan``) or ``"NONE"`` (needs ``allow_unauthenticated=True``).
            Default ``"IAM"``.
        allow_unauthenticated: the explicit opt-in for ``"NONE"``. Default False.
        user_pool: the Cognito user pool for ``"COGNITO"``. Default none.
        usage_plan: throttle/quota of the usage plan that ``"API_KEY"`` needs. Default none.
        throttle_rate: stage throttling, requests per second. Default 50.
        throttle_burst: stage throttling, burst. Default 100.
        cache_cluster_size: size in GB of the stage's (encrypted) cache, created with the first
            route that opts in to caching (``cache_ttl=`` of a route): one of
            ``"0.5"``, ``"1.6"``, ``"6.1"``, ``"13.5"``, ``"28.4"``, ``"58.2"``, ``"118"``,
            ``"237"``. Default ``"0.5"``. No route is cached unless it says so.
        integration_timeout: 50 ms..29 s for every integration. Default 29 seconds.
        alarm_topic: SNS topic that every alarm notifies, on ALARM and on OK. Default none.
        alarm_settings: tuning of this construct's alarms by kind: ``API_SERVER_ERRORS``,
            ``API_LATENCY``, and ``FUNCTION_ERRORS``, ``FUNCTION_THROTTLES``,
            ``FUNCTION_DURATION`` of the translator and route handlers (see
            :class:`~serverless_patterns.AlarmKind`). Default: every alarm, the kind's defaults.
        api_name: the REST API's name, which its alarms select it by. Default:
            ``<stack name>-<construct path>``, unique in the account and region.
        vpc_link: a private legacy service for passthrough routes: API Gateway reaches it over
            this VPC link to a Network Load Balancer (a private integration);
            ``legacy_base_url`` then names the host API Gateway sends requests to (the NLB's
            DNS name, or a name its TLS certificate holds). Default: the public internet.
        network_load_balancer: the same, with a VPC link created for this NLB. Default none.
        vpc: a VPC for the translator function, to call a private legacy service from inside
            it (the VPC link serves passthrough routes only). Default: no VPC.
        vpc_subnets: the translator's subnets: private ones (a function in a public subnet
            gets no public address and reaches nothing). Default: the VPC's private subnets.
        security_groups: the translator's security groups. Default: one created by Lambda,
            all outbound allowed.
    """

    @checked
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        legacy_base_url: str,
        authorization: Authorization | apigateway.AuthorizationType = "IAM",
        allow_unauthenticated: bool = False,
        user_pool: cognito.IUserPool | None = None,
        usage_plan: apigateway.UsagePlanProps | None = None,
        throttle_rate: float = 50,
        throttle_burst: int = 100,
        cache_cluster_size: str = "0.5",
        integration_timeout: Duration = _INTEGRATION_TIMEOUT,
        alarm_topic: sns.ITopic | None = None,
        alarm_settings: Mapping[AlarmKind, AlarmSettings] | None = None,
        api_name: str | None = None,
        vpc_link: apigateway.IVpcLink | None = None,
        network_load_balancer: elbv2.INetworkLoadBalancer | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    ) -> None:
        problems = Problems("LegacyApiProxy", scope, id)
        settings = check_alarm_settings(problems, alarm_settings, ALARM_KINDS)
        _check_private_service(
            problems, vpc_link, network_load_balancer, vpc, vpc_subnets, security_groups
        )
        mode = cast(Authorization, authorization_mode(authorization))
        parsed = urllib.parse.urlsplit(legacy_base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            problems.add(
                "legacy_base_url", legacy_base_url, "is not an http(s) URL", "http(s)://host/..."
            )
        if parsed.username or parsed.password:
            problems.add(
                "legacy_base_url",
                legacy_base_url,
                "carries credentials (they would sit in plain text in the configuration)",
                "a URL without user:password@",
            )
        if parsed.query or parsed.fragment:
            problems.add(
                "legacy_base_url",
                legacy_base_url,
                "has a query string or fragment",
                "a base URL; routes add paths and pass queries through",
            )
        if mode not in ("IAM", "COGNITO", "API_KEY", "NONE"):
            problems.add("authorization", mode, "is not a mode", "'IAM', 'COGNITO', 'API_KEY'")
        if mode == "COGNITO" and user_pool is None:
            problems.add("user_pool", None, "is required with authorization='COGNITO'", "a pool")
        if mode == "API_KEY" and usage_plan is None:
            problems.add(
                "usage_plan",
                None,
                "is required with authorization='API_KEY' (a key without a plan has no limits)",
                "apigateway.UsagePlanProps(throttle=..., quota=...)",
            )
        if mode == "NONE" and not allow_unauthenticated:
            problems.add(
                "authorization",
                "NONE",
                "exposes the legacy service to anyone: opt in explicitly",
                "allow_unauthenticated=True with 'NONE', or 'IAM'/'COGNITO'/'API_KEY'",
            )
        problems.check_range("throttle_rate", throttle_rate, 1, 10000)
        problems.check_range("throttle_burst", throttle_burst, 1, 5000)
        if cache_cluster_size not in _CACHE_SIZES:
            problems.add(
                "cache_cluster_size",
                cache_cluster_size,
                "is not a cache size",
                ", ".join(_CACHE_SIZES),
            )
        timeout_ms = _tree.milliseconds(integration_timeout)
        if not 50 <= timeout_ms <= 29000:
            problems.add(
                "integration_timeout",
                integration_timeout,
                "is not allowed",
                "50 ms..29 seconds (API Gateway's limits)",
            )
        check_api_name(problems, api_name)
        problems.raise_if_any()

        super().__init__(scope, id)
        _tree.created(self, scope, id)
        self.legacy_base_url = legacy_base_url.rstrip("/")
        """The legacy service's base URL."""
        self.integration_timeout = integration_timeout
        """Timeout of every integration."""
        self.alarm_topic = alarm_topic
        """The topic the alarms notify, if any."""
        self.routes: list[Route] = []
        """Every route, in the order added."""
        self._translations: dict[str, dict[str, Any]] = {}
        self._authorization = mode
        self._book = AlarmBook(settings, alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = self._book.alarms
        """API 5XX rate and latency, and the health of the translator and route handlers."""
        self._handlers: dict[str, lambda_.IFunction] = {}
        self.translator_function: ServerlessFunction | None = None
        """The generic translator (created with the first translated route without handler)."""

        method_options = self._method_options(mode, user_pool)
        self.api = secure_rest_api(
            self,
            description=f"Modern API of {_tree.path(self)} over {self.legacy_base_url}",
            throttle_rate=throttle_rate,
            throttle_burst=throttle_burst,
            method_options=method_options,
            name=api_name,
        )
        """The REST API."""
        deployment_stage = self.api.deployment_stage
        stage = deployment_stage.node.default_child
        assert isinstance(stage, apigateway.CfnStage)
        self._stage = stage
        self._cache_cluster_size = cache_cluster_size
        self._cache_on = False
        # The stage-wide setting CDK writes, kept when cached routes add settings of their own.
        self._method_settings = [
            apigateway.CfnStage.MethodSettingProperty(
                http_method="*",
                resource_path="/*",
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
            )
        ]
        self._throttle = (throttle_rate, throttle_burst)
        self.vpc_link: apigateway.IVpcLink | None = vpc_link
        """The VPC link passthrough routes use (private integration), if any."""
        if network_load_balancer is not None:
            self.vpc_link = apigateway.VpcLink(
                self,
                "VpcLink",
                targets=[network_load_balancer],
                description=f"Private integration of {_tree.path(self)} with the legacy service",
            )
        self._translator_network: dict[str, Any] = (
            {"vpc": vpc, "vpc_subnets": vpc_subnets, "security_groups": security_groups}
            if vpc is not None
            else {}
        )
        self.validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        """Validates parameters (and bodies, where a model is set) of translated routes."""
        self.api_key: apigateway.IApiKey | None = None
        """The API key (``API_KEY`` authorization only)."""
        self.usage_plan: apigateway.UsagePlan | None = None
        """The usage plan (``API_KEY`` authorization only)."""
        if mode == "API_KEY":
            assert usage_plan is not None
            self.usage_plan = self.api.add_usage_plan(
                "UsagePlan",
                name=usage_plan.name,
                description=usage_plan.description,
                throttle=usage_plan.throttle,
                quota=usage_plan.quota,
                api_stages=[apigateway.UsagePlanPerApiStage(stage=deployment_stage)],
            )
            self.api_key = self.api.add_api_key("ApiKey")
            self.usage_plan.add_api_key(self.api_key)

        self._book.api_server_errors(
            self, "Api5xxRateAlarm", self.api, behind="the legacy service's own logs"
        )
        self._book.api_latency(self, "ApiLatencyAlarm", self.api, timeout_ms=timeout_ms)
        _tree.node(self).add_validation(Validation(self._validate_routes))
        acknowledge_stage_findings(self.api, stage=deployment_stage)
        self._root = self.api.root

    @property
    def url(self) -> str:
        """The API's base URL."""
        return self.api.url

    # --- routes ----------------------------------------------------------------------------

    @checked
    def add_passthrough(
        self,
        path: str,
        methods: Sequence[str] = ("GET",),
        legacy_path: str | None = None,
        *,
        cache_ttl: Duration | None = None,
        cache_query_parameters: Sequence[str] = (),
    ) -> None:
        """Forward ``methods`` on ``path`` straight to the legacy service (no Lambda).

        Path parameters (``{id}``) and a trailing ``{proxy+}`` are mapped to the same names in
        ``legacy_path`` (default: the same path).

        Args:
            path: API path, e.g. ``/stock/{sku}`` or ``/legacy/{proxy+}``.
            methods: HTTP methods. Default ``("GET",)``.
            legacy_path: legacy path. Default: ``path``.
            cache_ttl: cache the answers of this route's GET/HEAD methods this long, 1..3600 s,
                keyed by the route's path parameters and ``cache_query_parameters``; a cached
                answer is served to every caller whose request has the same key. Default: not
                cached.
            cache_query_parameters: query string parameters that change the answer: part of
                the cache key (list every one: any other is ignored by the cache). Default none.
        """
        target = legacy_path if legacy_path is not None else path
        problems = Problems.of("LegacyApiProxy", self)
        self._check_route(problems, path, methods, target)
        self._check_cache(problems, methods, cache_ttl, cache_query_parameters)
        problems.raise_if_any()

        parameters = _PARAMETER.findall(path)
        resource = self._root.resource_for_path(path) if path != "/" else self._root
        for method in methods:
            integration = apigateway.HttpIntegration(
                self.legacy_base_url + target.replace("{proxy+}", "{proxy}"),
                http_method=method.upper(),
                proxy=True,
                options=apigateway.IntegrationOptions(
                    timeout=self.integration_timeout,
                    connection_type=(apigateway.ConnectionType.VPC_LINK if self.vpc_link else None),
                    vpc_link=self.vpc_link,
                    request_parameters={
                        f"integration.request.path.{name}": f"method.request.path.{name}"
                        for name in parameters
                    },
                    cache_key_parameters=_cache_key_parameters(
                        parameters, cache_query_parameters, cache_ttl
                    ),
                ),
            )
            self._acknowledge_method(
                resource.add_method(
                    method.upper(),
                    integration,
                    request_validator=self.validator,
                    request_parameters=_method_parameters(parameters, cache_query_parameters),
                )
            )
            self._cache(path, method.upper(), cache_ttl)
            self.routes.append(Route(method.upper(), path, "passthrough", target))

    @checked
    def add_translated_route(
        self,
        path: str,
        method: str,
        *,
        legacy_path: str,
        legacy_method: str = "GET",
        request_mapping: Mapping[str, str] | None = None,
        response_mapping: Mapping[str, Any] | None = None,
        response_format: ResponseFormat = "xml",
        handler: lambda_.IFunction | None = None,
        cache_ttl: Duration | None = None,
        cache_query_parameters: Sequence[str] = (),
    ) -> None:
        """Serve ``method`` on ``path`` by a function that calls the legacy service.

        Args:
            path: API path, e.g. ``/items/{id}``.
            method: HTTP method of the API route.
            legacy_path: legacy path; ``{name}`` placeholders are filled from path parameters.
            legacy_method: HTTP method towards the legacy service. Default ``"GET"``.
            request_mapping: legacy form field -> JSON body field (dotted path), to turn JSON
                requests into the form the legacy side expects. Default: no body.
            response_mapping: output field -> path into the converted response, or
                ``{"from": path, "each": {...}}`` for lists. Default: the whole document.
            response_format: ``"xml"``, ``"json"`` or ``"form"``. Default ``"xml"``.
            handler: a custom function instead of the generic translator. Default: the
                translator (``serverless_patterns/_lambda/translator``).
            cache_ttl: as for :meth:`add_passthrough` (GET and HEAD routes only). Default: not
                cached.
            cache_query_parameters: as for :meth:`add_passthrough`. Default none.
        """
        problems = Problems.of("LegacyApiProxy", self)
        self._check_route(problems, path, [method], legacy_path)
        if "{proxy+}" in path:
            problems.add("path", path, "cannot be translated (a proxy route)", "add_passthrough")
        if legacy_method.upper() not in _LEGACY_METHODS:
            problems.add(
                "legacy_method", legacy_method, "is not supported", ", ".join(_LEGACY_METHODS)
            )
        if request_mapping and legacy_method.upper() not in ("POST", "PUT", "PATCH"):
            problems.add(
                "request_mapping",
                dict(request_mapping),
                f"needs a body, but legacy_method={legacy_method.upper()!r} sends none",
                "legacy_method='POST', 'PUT' or 'PATCH'",
            )
        if any(char in legacy_path for char in "?#") or "{proxy+}" in legacy_path:
            problems.add(
                "legacy_path",
                legacy_path,
                "has a query, a fragment or {proxy+} (queries are passed through)",
                "a path with {name} placeholders",
            )
        if response_format not in ("xml", "json", "form"):
            problems.add(
                "response_format", response_format, "is not a format", "'xml', 'json', 'form'"
            )
        self._check_cache(problems, [method], cache_ttl, cache_query_parameters)
        handler_timeout = function_timeout_seconds(handler) if handler is not None else None
        integration_seconds = _tree.exact_seconds(self.integration_timeout)
        if handler_timeout is not None and handler_timeout > integration_seconds:
            problems.add(
                "handler",
                handler,
                f"has a timeout of {number(handler_timeout)} s, longer than the integration "
                f"timeout ({number(integration_seconds)} s): callers would get 504 while it runs",
                f"a function that finishes within {number(integration_seconds)} s",
            )
        if handler is None and self.vpc_link is not None and not self._translator_network:
            problems.add(
                "handler",
                None,
                "would be the translator, which calls the legacy service from Lambda: the VPC "
                "link serves passthrough routes only, so it would not reach a private service",
                "vpc= (and private vpc_subnets=) on the proxy for the translator, or a handler "
                "of your own that can reach it",
            )
        translation: dict[str, Any] = {
            "legacy_path": legacy_path,
            "legacy_method": legacy_method.upper(),
            "response_format": response_format,
        }
        if request_mapping:
            translation["request_mapping"] = dict(request_mapping)
        if response_mapping:
            translation["response_mapping"] = dict(response_mapping)
        route_key = f"{method.upper()} {path}"
        if handler is None and not problems.has_problems:
            _check_with_translator(problems, route_key, translation)
        problems.raise_if_any()

        function: lambda_.IFunction = handler or self._translator()
        if handler is None:
            self._translations[route_key] = translation
        elif handler not in self._handlers.values():
            prefix = re.sub(r"[^A-Za-z0-9]", "", f"{method.title()}{path.title()}")
            self._handlers[f"{prefix}Handler"] = handler
            self._book.function_health(
                scope_beside(self, handler),
                f"{prefix}Handler",
                handler,
                timeout_seconds=function_timeout_seconds(handler),
                after_failure="Callers got 502; nothing is kept for a retry.",
            )
        parameters = _PARAMETER.findall(path)
        resource = self._root.resource_for_path(path) if path != "/" else self._root
        self._acknowledge_method(
            resource.add_method(
                method.upper(),
                apigateway.LambdaIntegration(
                    function,
                    timeout=self.integration_timeout,
                    cache_key_parameters=_cache_key_parameters(
                        parameters, cache_query_parameters, cache_ttl
                    ),
                ),
                request_validator=self.validator,
                request_parameters=_method_parameters(parameters, cache_query_parameters),
            )
        )
        self._cache(path, method.upper(), cache_ttl)
        self.routes.append(Route(method.upper(), path, "translated", legacy_path))

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This proxy's dashboard segment: API requests, errors and latency, its functions."""
        widgets: list[cloudwatch.IWidget] = [
            dashboards.header("LegacyApiProxy", self, self.legacy_base_url),
            *dashboards.api_widgets(
                "API", self.api, self.integration_timeout.to_seconds(integral=False)
            ),
        ]
        if self.translator_function is not None:
            widgets += dashboards.function_widgets(
                "Translator",
                self.translator_function,
                function_timeout_seconds(self.translator_function),
            )
        for name, handler in self._handlers.items():
            widgets += dashboards.function_widgets(name, handler, function_timeout_seconds(handler))
        return [*widgets, *dashboards.alarm_widget(self.alarms)]

    # --- internals -------------------------------------------------------------------------

    def _check_route(
        self, problems: Problems, path: str, methods: Sequence[str], legacy_path: str
    ) -> None:
        if not _PATH.match(path):
            problems.add(
                "path",
                path,
                "is not a valid API Gateway path",
                "/segment/{param}/..., a trailing {proxy+}",
            )
        if not legacy_path.startswith("/"):
            problems.add("legacy_path", legacy_path, "does not start with '/'", "/path/...")
        missing = set(_PARAMETER.findall(legacy_path)) - set(_PARAMETER.findall(path))
        if missing:
            problems.add(
                "legacy_path",
                legacy_path,
                f"uses parameters the route does not have: {', '.join(sorted(missing))}",
                "placeholders taken from the route path",
            )
        for method in methods:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
                problems.add("method", method, "is not an HTTP method", "GET, POST, PUT, ...")
            elif any(r.method == method.upper() and r.path == path for r in self.routes):
                problems.add("path", path, f"already has a {method.upper()} route", "one route")

    def _check_cache(
        self,
        problems: Problems,
        methods: Sequence[str],
        cache_ttl: Duration | None,
        query_parameters: Sequence[str],
    ) -> None:
        if cache_ttl is None:
            if query_parameters:
                problems.add(
                    "cache_query_parameters",
                    list(query_parameters),
                    "only key a cached route",
                    "cache_ttl=Duration.seconds(...) too, or leave it out",
                )
            return
        problems.check_duration("cache_ttl", cache_ttl, 1, 3600)
        changing = [m.upper() for m in methods if m.upper() not in _CACHEABLE_METHODS]
        if changing:
            problems.add(
                "cache_ttl",
                cache_ttl,
                f"would cache {', '.join(changing)}, which changes state: a cached answer would "
                "skip the legacy call",
                "cache_ttl on GET or HEAD routes only",
            )
        bad = [name for name in query_parameters if not _QUERY_NAME.match(name)]
        if bad:
            problems.add(
                "cache_query_parameters", bad, "are not query string names", "letters, digits, _.~-"
            )

    def _cache(self, path: str, method: str, cache_ttl: Duration | None) -> None:
        """Cache ``method`` on ``path`` (and give the stage its cache, once)."""
        if cache_ttl is None:
            return
        if not self._cache_on:  # the stage's cache, once
            self._stage.cache_cluster_enabled = True
            self._stage.cache_cluster_size = self._cache_cluster_size
            self._cache_on = True
        rate, burst = self._throttle
        self._method_settings.append(
            apigateway.CfnStage.MethodSettingProperty(
                http_method=method,
                resource_path="/" + path.replace("/", "~1"),
                caching_enabled=True,
                cache_ttl_in_seconds=int(_tree.whole_seconds(cache_ttl)),
                cache_data_encrypted=True,
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=rate,
                throttling_burst_limit=burst,
            )
        )
        self._stage.method_settings = list(self._method_settings)

    def _translator(self) -> ServerlessFunction:
        if self.translator_function is None:
            timeout_seconds = _tree.exact_seconds(self.integration_timeout)
            legacy_timeout = max(0.05, timeout_seconds - _TRANSLATOR_MARGIN_SECONDS)
            self.translator_function = ServerlessFunction(
                self,
                "TranslatorFunction",
                code=packaged_handler_code("translator"),
                service_name=_tree.path(self).replace("/", "-"),
                timeout=Duration.seconds(int(timeout_seconds) + 1),
                environment={
                    "LEGACY_BASE_URL": self.legacy_base_url,
                    "LEGACY_TIMEOUT": number(round(legacy_timeout, 3)),
                    "TRANSLATOR_ROUTES": lazy_string(self._translations_json),
                },
                description=f"Translates JSON <-> legacy responses for {_tree.path(self)}",
                **self._translator_network,
            )
            acknowledge(
                self.translator_function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by API Gateway: every error is answered to the caller.",
            )
            self._book.function_health(
                self,
                "Translator",
                self.translator_function,
                timeout_seconds=float(int(timeout_seconds) + 1),
                after_failure="Callers got 502; nothing is kept for a retry.",
            )
        return self.translator_function

    def _validate_routes(self) -> list[str]:
        """Synth-time checks: at least one route; a route table that fits the environment."""
        prefix = f"LegacyApiProxy at '{_tree.path(self)}'"
        if not self.routes:
            return [
                f"{prefix}: no route is added (allowed: add_passthrough(...) or "
                "add_translated_route(...) at least once)"
            ]
        size = len(json.dumps(self._translations, separators=(",", ":")))
        if size > _MAX_TRANSLATION_TABLE:
            return [
                f"{prefix}: translated routes={size} bytes of configuration do not fit the "
                f"function's environment (allowed: at most {_MAX_TRANSLATION_TABLE} bytes; split "
                "the routes over several proxies or use a custom handler)"
            ]
        return []

    def _translations_json(self) -> str:
        return _tree.stack(self).to_json_string(self._translations)

    def _method_options(
        self, authorization: Authorization, user_pool: cognito.IUserPool | None
    ) -> apigateway.MethodOptions:
        if authorization == "COGNITO":
            assert user_pool is not None
            return apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.COGNITO,
                authorizer=apigateway.CognitoUserPoolsAuthorizer(
                    self, "Authorizer", cognito_user_pools=[user_pool]
                ),
            )
        if authorization == "API_KEY":
            return apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.NONE, api_key_required=True
            )
        if authorization == "NONE":
            return apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.NONE)
        return apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM)

    def _acknowledge_method(self, method: apigateway.Method) -> None:
        acknowledge_method_findings(
            method,
            unauthenticated=_UNAUTHENTICATED.get(self._authorization, ""),
            iam=self._authorization == "IAM",
        )
