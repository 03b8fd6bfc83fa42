"""A local API Gateway (HTTP API, payload format 2.0) built from the template's routes.

It matches routes the way HTTP APIs do (exact paths before path variables, greedy variables
last, then ``$default``), runs the Lambda authorizer where the template puts one (identity
source missing: 401; authorizer raises "Unauthorized": 401; returns isAuthorized false: 403;
anything else: 500; results cached for ReauthorizeEvery), applies the edge's per-client rate
limits (the WAF rules of edge/template.yaml, local/edge.py) to the peer address, which it also
puts in ``requestContext.http.sourceIp`` as API Gateway does, builds real v2 events, invokes each
function in its own execution environment, and translates the v2 response back to HTTP.
Errors the gateway itself produces are application/problem+json, for every method (TRACE,
CONNECT and any other token included) and for requests the HTTP server cannot even parse: an
unmatched route or method is a 404, as on an HTTP API (whose own body is ``{"message":"Not
Found"}``). It also serves the static dashboard (web/) at ``/``, as CloudFront does in a deployment.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.edge import ClientLimiter
from local.runtime import FunctionError, FunctionPool, InvocationFailed
from local.schedules import CONTROL_PREFIX, LocalControl
from local.template import ACCOUNT_ID, Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's limit
API_ID = "local"
PROBLEM_BASE_URI = "https://vaultpay.example/problems/"
# The problems the gateway answers itself (tools/openapi.py documents them on every route they apply to).
UNAUTHENTICATED = "unauthenticated"
FORBIDDEN = "forbidden"
AUTHORIZER_ERROR = "authorizer-error"
GATEWAY_ERROR = "gateway-error"
TOO_MANY_REQUESTS = "too-many-requests"
PAYLOAD_TOO_LARGE = "payload-too-large"
NOT_FOUND = "not-found"

LogSink = Callable[[str, str], None]


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str] | None
    rank: tuple[int, int, int]

    @classmethod
    def compile(cls, route: Route) -> CompiledRoute:
        if route.path == "$default":
            return cls(route, None, (3, 0, 0))
        segments = route.path.split("/")
        regex = []
        variables = greedy = 0
        for segment in segments:
            greedy_match = re.fullmatch(r"\{(\w+)\+\}", segment)
            variable_match = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy_match:
                greedy += 1
                regex.append(f"(?P<{greedy_match.group(1)}>.+)")
            elif variable_match:
                variables += 1
                regex.append(f"(?P<{variable_match.group(1)}>[^/]+)")
            else:
                regex.append(re.escape(segment))
        method_rank = 1 if route.method == "ANY" else 0
        return cls(route, re.compile("^" + "/".join(regex) + "$"), (greedy, variables, method_rank))


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = sorted((CompiledRoute.compile(route) for route in routes), key=lambda compiled: compiled.rank)

    def match(self, method: str, path: str) -> Match | None:
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            if compiled.pattern is None:
                return Match(compiled.route, {})
            found = compiled.pattern.match(path)
            if found:
                return Match(compiled.route, {name: unquote(value) for name, value in found.groupdict().items()})
        return None


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int

    def headers_for(self, origin: str | None) -> dict[str, str]:
        if not origin or (origin not in self.allow_origins and "*" not in self.allow_origins):
            return {}
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if self.expose_headers:
            headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        return headers

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        headers = self.headers_for(origin)
        if headers:
            headers["Access-Control-Allow-Methods"] = ",".join(self.allow_methods)
            headers["Access-Control-Allow-Headers"] = ",".join(self.allow_headers)
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return headers


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str]
    source: str = "gateway"  # who answered: a function's logical id, "web" or the gateway itself


def problem_response(
    status: HTTPStatus, code: str, detail: str, instance: str, headers: dict[str, str] | None = None
) -> GatewayResponse:
    body = {
        "type": PROBLEM_BASE_URI + code,
        "title": code.replace("-", " ").capitalize(),
        "status": int(status),
        "detail": detail,
        "instance": instance,
    }
    return GatewayResponse(
        status=int(status),
        headers={"Content-Type": "application/problem+json", "Cache-Control": "no-store", **(headers or {})},
        body=json.dumps(body).encode(),
        cookies=[],
    )


class AuthorizerCache:
    """API Gateway caches an authorizer's answer per identity source for ReauthorizeEvery seconds."""

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, identity: tuple[str, ...]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(identity)
            if entry and entry[0] > time.monotonic():
                return entry[1]
            self._entries.pop(identity, None)
            return None

    def put(self, identity: tuple[str, ...], context: dict[str, Any]) -> None:
        if self._ttl > 0:
            with self._lock:
                self._entries[identity] = (time.monotonic() + self._ttl, context)


@dataclass
class IncomingRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    cookies: list[str]
    body: bytes
    source_ip: str
    request_id: str


class Gateway:
    def __init__(
        self,
        *,
        routes: list[Route],
        pools: Mapping[str, FunctionPool],
        identity_headers: list[str],
        authorizer_cache_seconds: int,
        cors: CorsPolicy | None,
        web_root: Path | None,
        region: str,
        log_sink: LogSink,
        client_limits: ClientLimiter | None = None,
        local_control: LocalControl | None = None,
    ) -> None:
        self.router = Router(routes)
        self.local_control = local_control
        self.client_limits = client_limits
        self.pools = pools
        self.identity_headers = identity_headers
        self.authorizer_cache = AuthorizerCache(authorizer_cache_seconds)
        self.cors = cors
        self.web_root = web_root
        self.region = region
        self.log = log_sink

    # ------------------------------------------------------------ events
    def _base_event(self, request: IncomingRequest, route_key: str, path_parameters: dict[str, str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
            "headers": dict(request.headers),
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "domainName": request.headers.get("host", "127.0.0.1"),
                "domainPrefix": request.headers.get("host", "127.0.0.1").split(".")[0],
                "http": {
                    "method": request.method,
                    "path": request.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.source_ip,
                    "userAgent": request.headers.get("user-agent", ""),
                },
                "requestId": request.request_id,
                "routeKey": route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": False,
        }
        if request.cookies:
            event["cookies"] = request.cookies
        if query:
            event["queryStringParameters"] = {name: ",".join(values) for name, values in query.items()}
        if path_parameters:
            event["pathParameters"] = path_parameters
        if request.body:
            try:
                event["body"] = request.body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(request.body).decode()
                event["isBase64Encoded"] = True
        return event

    def _authorize(self, request: IncomingRequest, match: Match, event: dict[str, Any]) -> dict[str, Any] | GatewayResponse:
        identity = tuple(request.headers.get(name, "") for name in self.identity_headers)
        if not all(identity):
            return problem_response(HTTPStatus.UNAUTHORIZED, UNAUTHENTICATED, "A bearer token is required.", request.raw_path)
        cached = self.authorizer_cache.get(identity)
        if cached is not None:
            return cached
        route_arn = f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{API_ID}/$default/{match.route.method}{match.route.path}"
        authorizer_event = {
            **{key: value for key, value in event.items() if key not in ("body", "isBase64Encoded")},
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": list(identity),
        }
        authorizer = str(match.route.authorizer)
        try:
            result = self.pools[authorizer].invoke(authorizer_event, request.request_id)
        except FunctionError as error:
            if error.error.get("errorMessage") == "Unauthorized":
                denied = problem_response(
                    HTTPStatus.UNAUTHORIZED, UNAUTHENTICATED, "The access token is not valid.", request.raw_path
                )
            else:
                denied = problem_response(
                    HTTPStatus.INTERNAL_SERVER_ERROR, AUTHORIZER_ERROR, "The authorizer failed.", request.raw_path
                )
            denied.source = authorizer
            return denied
        except InvocationFailed as failure:
            failed = problem_response(HTTPStatus.INTERNAL_SERVER_ERROR, failure.kind, "The authorizer failed.", request.raw_path)
            failed.source = authorizer
            return failed
        if not isinstance(result, dict) or result.get("isAuthorized") is not True:
            forbidden = problem_response(HTTPStatus.FORBIDDEN, FORBIDDEN, "The authorizer denied the request.", request.raw_path)
            forbidden.source = authorizer
            return forbidden
        context = {"lambda": result.get("context") or {}}
        self.authorizer_cache.put(identity, context)
        return context

    # ------------------------------------------------------------ requests
    def handle(self, request: IncomingRequest) -> GatewayResponse:
        origin = request.headers.get("origin")
        if request.method == "OPTIONS" and self.cors and request.headers.get("access-control-request-method"):
            return GatewayResponse(204, self.cors.preflight_headers(origin), b"", [])
        response = self._dispatch(request)
        if self.cors:
            response.headers.update(self.cors.headers_for(origin))
        response.headers.setdefault("apigw-requestid", request.request_id)
        return response

    def _dispatch(self, request: IncomingRequest) -> GatewayResponse:
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return problem_response(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, PAYLOAD_TOO_LARGE, "The request body is too large.", request.raw_path
            )
        if self.client_limits is not None:
            refused = self.client_limits.admit(request.source_ip, request.raw_path)
            if refused is not None:
                # What the edge's WAF rule answers (edge/template.yaml), before any function runs.
                rule, retry_after = refused
                self.log("gateway", f"{request.method} {request.raw_path} refused by {rule} for {request.source_ip}")
                return problem_response(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    TOO_MANY_REQUESTS,
                    "Too many requests from this address; retry after the time in Retry-After.",
                    request.raw_path,
                    headers={"Retry-After": str(retry_after)},
                )
        if self.local_control is not None and request.raw_path.startswith(CONTROL_PREFIX):
            status, answer = self.local_control.handle(request.method, request.raw_path, request.body)
            return GatewayResponse(
                status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(answer).encode(), []
            )
        if self.web_root is not None and request.method == "GET" and not request.raw_path.startswith("/api/"):
            return self._static(request.raw_path)
        match = self.router.match(request.method, request.raw_path)
        if match is None:
            return problem_response(HTTPStatus.NOT_FOUND, NOT_FOUND, "No such route.", request.raw_path)
        event = self._base_event(request, match.route.route_key, match.path_parameters)
        if match.route.authorizer:
            authorized = self._authorize(request, match, event)
            if isinstance(authorized, GatewayResponse):
                return authorized
            event["requestContext"]["authorizer"] = authorized
        try:
            result = self.pools[match.route.function].invoke(event, request.request_id)
        except InvocationFailed as failure:
            # As on AWS: a function error, crash or timeout (under the 30 s integration limit) is a 500.
            self.log(match.route.function, f"invocation failed: {failure}")
            failed = problem_response(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                failure.kind,
                "The function failed; the request may be retried.",
                request.raw_path,
            )
            failed.source = match.route.function
            return failed
        response = self._translate(result)
        response.source = match.route.function
        return response

    @staticmethod
    def _translate(result: Any) -> GatewayResponse:
        """A v2 function response to HTTP (a result without statusCode is a 200 JSON body)."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return GatewayResponse(200, {"Content-Type": "application/json"}, json.dumps(result).encode(), [])
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(name): str(value) for name, value in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ",".join(str(value) for value in values)
        return GatewayResponse(int(result["statusCode"]), headers, raw, [str(cookie) for cookie in result.get("cookies") or []])

    def _static(self, raw_path: str) -> GatewayResponse:
        assert self.web_root is not None
        relative = unquote(raw_path).lstrip("/") or "index.html"
        candidate = (self.web_root / relative).resolve()
        if not candidate.is_relative_to(self.web_root.resolve()) or not candidate.is_file():
            return problem_response(HTTPStatus.NOT_FOUND, NOT_FOUND, "No such page.", raw_path)
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return GatewayResponse(
            200,
            {
                "Content-Type": content_type,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                "Referrer-Policy": "no-referrer",
            },
            candidate.read_bytes(),
            [],
            source="web",
        )


def _request_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "VaultPayLocalGateway"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            started = time.perf_counter()
            split = urlsplit(self.path)
            declared = (self.headers.get("Content-Length") or "0").strip()
            length = int(declared) if declared.isdigit() else -1
            if not self.path.startswith("/"):
                # CONNECT's host:port, OPTIONS' "*", an absolute URI: no route takes them.
                self.close_connection = True
                response = problem_response(HTTPStatus.BAD_REQUEST, "malformed-request", "The request target must be a path.", "")
            elif length < 0:
                self.close_connection = True
                response = problem_response(
                    HTTPStatus.BAD_REQUEST, "malformed-request", "Content-Length is not a number.", split.path
                )
            elif length > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                response = problem_response(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, PAYLOAD_TOO_LARGE, "The request body is too large.", split.path
                )
            else:
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                cookies: list[str] = []
                if "cookie" in headers:
                    parsed: SimpleCookie = SimpleCookie()
                    parsed.load(headers.pop("cookie"))
                    cookies = [f"{name}={morsel.value}" for name, morsel in parsed.items()]
                request = IncomingRequest(
                    method=self.command,
                    raw_path=split.path,
                    raw_query=split.query,
                    headers=headers,
                    cookies=cookies,
                    body=body,
                    source_ip=self.client_address[0],
                    request_id=uuid.uuid4().hex[:20],
                )
                try:
                    response = gateway.handle(request)
                except Exception:  # noqa: BLE001 - the gateway's last line: log it in full, answer 500, keep serving
                    gateway.log("gateway", f"{self.command} {split.path} failed in the gateway:\n{traceback.format_exc()}")
                    response = problem_response(
                        HTTPStatus.INTERNAL_SERVER_ERROR, GATEWAY_ERROR, "The local gateway failed.", split.path
                    )
            self._send(response, started)

        def __getattr__(self, name: str) -> Any:
            # http.server looks up do_<METHOD> and answers 501 with an HTML page when it is
            # missing: every method, TRACE, CONNECT and any other token included, is the gateway's.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """What http.server answers itself (a request line it cannot parse, a URI or headers
            too long, an unsupported HTTP version) as problem+json, not its HTML page."""
            status = HTTPStatus(code)
            kind = "malformed-request" if status == HTTPStatus.BAD_REQUEST else status.phrase.lower().replace(" ", "-")
            self.close_connection = True
            # A request line it cannot parse leaves the version at HTTP/0.9 (body only): say the status.
            self.request_version = "HTTP/1.1"
            target = urlsplit(self.path).path if getattr(self, "path", "").startswith("/") else ""
            self._send(problem_response(status, kind, message or status.description, target), time.perf_counter())

        def _send(self, response: GatewayResponse, started: float) -> None:
            target = getattr(self, "path", "")
            method, path = self.command or "-", (urlsplit(target).path if target.startswith("/") else target) or "-"
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            for cookie in response.cookies:
                self.send_header("Set-Cookie", cookie)
            payload = b"" if response.status in (204, 304) or method == "HEAD" else response.body
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            line = f"{method} {path} {response.status} {(time.perf_counter() - started) * 1000:.0f}ms {response.source}"
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                gateway.log("gateway", f"{line} (client gone)")
                return
            gateway.log("gateway", line)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            return

    return Handler


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of new connections (sixteen clients
    # at once, a browser opening its pool) overflows it and the kernel resets some of them.
    request_queue_size = 128

    def __init__(self, host: str, port: int, gateway: Gateway) -> None:
        super().__init__((host, port), _request_handler(gateway))
