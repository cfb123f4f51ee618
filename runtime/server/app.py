"""The Starlette application: routes, error mapping, auth, metrics, lifespan."""

from __future__ import annotations

import contextlib
import hmac
import logging
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ptx.errors import ImageError, InputError, PtxError, SpecError
from ptx.runtime.server import routes_v1, routes_v2
from ptx.runtime.server.admission import BodyGuard
from ptx.runtime.server.batcher import Overloaded
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.grpc_server import GrpcServer
from ptx.runtime.server.http import HTTPError, error_response, json_response
from ptx.runtime.server.metrics import CONTENT_TYPE, Metrics
from ptx.runtime.server.models import RequestTimeout, close_models, load_models, rejection_reason
from ptx.runtime.server.openapi import openapi
from ptx.runtime.server.state import ServerState

log = logging.getLogger("ptx.serve")

PUBLIC_PATHS = {"/v2/health/live", "/v2/health/ready", "/openapi.json"}  # probes, no token
INFERENCE_ROUTES = {"infer", "enhance", "stylize", "cutout", "generate", "tryon"}
MODEL_ROUTES = INFERENCE_ROUTES | {"ready", "config", "stats"}
FIXED_PATHS = {"/v2/health/live", "/v2/health/ready", "/v2", "/metrics", "/openapi.json"}
RETRY_AFTER_S = "1"


def _status_of(exc: Exception) -> tuple[int, dict[str, str]]:
    if isinstance(exc, HTTPError):
        return exc.status, exc.headers
    if isinstance(exc, Overloaded):
        return 503, {"Retry-After": RETRY_AFTER_S}
    if isinstance(exc, RequestTimeout):
        return 504, {}
    if isinstance(exc, InputError | ImageError | SpecError):
        return 400, {}
    return 500, {}  # ModelError and any other PtxError: the model or server is at fault


async def _on_error(request: Request, exc: Exception) -> Response:
    status, headers = _status_of(exc)
    reason = rejection_reason(exc)
    if reason is not None:
        _count_rejection(request, reason)
    return error_response(status, str(exc), headers)


async def _on_http_exception(request: Request, exc: HTTPException) -> Response:
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _count_rejection(request: Request, reason: str) -> None:
    state: ServerState = request.app.state.ptx
    name = request.path_params.get("name", "")
    if name in state.models:
        state.metrics.rejected.labels(name, reason).inc()


class GuardMiddleware:
    """Outermost: bearer token, request metrics and stats, and JSON for any unexpected error."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self.token = state.config.token.encode() if state.config.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter_ns()
        status = 500
        sent = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status, sent = message["status"], True
            await send(message)

        inflight = batcher = None
        guard = BodyGuard(receive, self.state.bodies, self.state.config.body_timeout_s)
        try:
            has_token = self.token is None or self._has_token(scope)
            scope.setdefault("state", {})["ptx_authorised"] = has_token
            if not has_token and scope["path"] not in PUBLIC_PATHS:
                headers = {"WWW-Authenticate": "Bearer"}
                await error_response(401, "missing or wrong bearer token", headers)(
                    scope, receive, send_wrapper
                )
                return
            model, route = self._labels(scope)
            if model and route in INFERENCE_ROUTES:
                inflight = self.state.metrics.in_flight.labels(model)
                inflight.inc()
                batcher = self.state.models[model].batcher
                batcher.enter()
            await self.app(scope, guard, send_wrapper)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not sent:
                await error_response(500, "internal server error; see the server log")(
                    scope, receive, send_wrapper
                )
        finally:
            guard.release()
            if inflight is not None:
                inflight.dec()
                batcher.leave()
            self._observe(scope, status, time.perf_counter_ns() - start)

    def _has_token(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    given.strip(), self.token
                )
        return False

    def _labels(self, scope: Scope) -> tuple[str, str]:
        """(served model name or '', route kind): bounded label values whatever the path."""
        return route_labels(scope["path"], self.state.models)

    def _observe(self, scope: Scope, status: int, ns: int) -> None:
        model, route = self._labels(scope)
        self.state.metrics.observe_request(model, route, status, ns / 1e9)
        if model and route in INFERENCE_ROUTES:
            self.state.models[model].stats.request_done(status < 400, ns)


def route_labels(path: str, models: dict) -> tuple[str, str]:
    """(model, route) metric labels of ``path``; unknown models and paths collapse to ''/'other'."""
    if path in FIXED_PATHS:
        return "", path
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] not in ("v1", "v2") or parts[1] != "models":
        return "", "other"
    if path == "/v2/models/stats":
        return "", "stats"
    model = parts[2] if parts[2] in models else ""
    rest = parts[3:]
    if rest[:1] == ["versions"]:
        rest = rest[2:]
    if not rest:
        return model, "metadata"
    return model, rest[0] if len(rest) == 1 and rest[0] in MODEL_ROUTES else "other"


async def metrics_route(request: Request) -> Response:
    """Prometheus text exposition."""
    state: ServerState = request.app.state.ptx
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)


async def openapi_route(request: Request) -> Response:
    """The OpenAPI 3 description of every route."""
    state: ServerState = request.app.state.ptx
    full = bool(getattr(request.state, "ptx_authorised", False))
    return json_response(state.cached(("openapi", full), lambda: openapi(state, full)))


def create_app(config: ServerConfig, state: ServerState | None = None) -> Starlette:
    """Load the models and build the app; models are released when the app shuts down."""
    if state is None:
        metrics = Metrics()
        state = ServerState(config, load_models(config, metrics), metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        grpc_server = None
        try:
            if config.grpc_port is not None:
                # On this event loop, so gRPC shares the batchers, budgets and metrics.
                grpc_server = GrpcServer(state)
                app.state.grpc = grpc_server
                await grpc_server.start(config.host, config.grpc_port)
            yield
        finally:
            state.draining = True
            if grpc_server is not None:  # in-flight gRPC calls end before the models go
                await grpc_server.stop(config.timeout_s)
            close_models(state.models, config.timeout_s)

    routes = [
        *routes_v2.routes(),
        *routes_v1.routes(),
        Route("/metrics", metrics_route, methods=["GET"]),
        Route("/openapi.json", openapi_route, methods=["GET"]),
    ]
    handlers = {
        HTTPException: _on_http_exception,
        HTTPError: _on_error,
        PtxError: _on_error,
        RequestTimeout: _on_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.ptx = state
    app.add_middleware(GuardMiddleware, state=state)
    return app
