"""KServe v2 over gRPC beside HTTP: Triton's GRPCInferenceService, on one of two front ends.

The service is the one tritonclient ships (``tritonclient.grpc.service_pb2_grpc``), so
Triton's gRPC clients work unchanged. ``GrpcServer`` picks the front end the config asks
for (``grpc_frontend``: ``native``, ``python``, or ``auto`` = native once built): the
python one (``PythonGrpcServer``) runs ``grpc.aio`` on uvicorn's event loop; the native
one (grpc_native.py) is a C++ server calling back into the same ``Calls``. Either way an
infer goes through the same per-model batcher, byte admission, statistics and Prometheus
metrics as HTTP (route label ``grpc``; ``grpc_meta`` for the other calls), and stops with
the app: SIGTERM marks the server not ready, lets in-flight calls end (``grace``) and only
then are the models released. grpc is imported only when ``--grpc-port`` is given.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

from google.protobuf import json_format

import ptx
from ptx.errors import ImageError, InputError, PtxError, SpecError
from ptx.runtime.server import grpc_native
from ptx.runtime.server.batcher import Overloaded
from ptx.runtime.server.grpc_codec import decode_infer, encode_infer
from ptx.runtime.server.http import HTTPError, offload
from ptx.runtime.server.models import RequestTimeout, rejection_reason
from ptx.runtime.server.native import build as native_build
from ptx.runtime.server.routes_v2 import EXTENSIONS

log = logging.getLogger("ptx.serve")

SERVICE = "inference.GRPCInferenceService"
PUBLIC = {"ServerLive", "ServerReady"}  # probes answer without a token, as over HTTP
# HTTP status -> gRPC status name, for errors raised by the shared HTTP-side helpers.
HTTP_TO_GRPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    413: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_of(exc: BaseException) -> tuple[str, str]:
    """(gRPC status name, message) for an exception raised while answering."""
    if isinstance(exc, HTTPError):
        return HTTP_TO_GRPC.get(exc.status, "INTERNAL"), exc.message
    if isinstance(exc, grpc_native.ClientCancelled):  # counted as grpc.aio's CancelledError
        return "CANCELLED", str(exc)
    if isinstance(exc, Overloaded):
        return "UNAVAILABLE", str(exc)
    if isinstance(exc, RequestTimeout):
        return "DEADLINE_EXCEEDED", str(exc)
    if isinstance(exc, InputError | ImageError | SpecError):
        return "INVALID_ARGUMENT", str(exc)
    if isinstance(exc, PtxError):
        return "INTERNAL", str(exc)
    return "INTERNAL", "internal server error; see the server log"


def grpc_address(host: str, port: int) -> str:
    """``host:port`` as gRPC binds it (IPv6 literals in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class Calls:
    """The RPCs ptx answers; each is ``async (request, context) -> response``."""

    def __init__(self, state, grpc_mod, pb) -> None:
        self.state = state
        self.grpc = grpc_mod
        self.pb = pb
        token = state.config.token
        self.token = token.encode() if token else None

    # -- the plumbing every call shares ---------------------------------------------
    async def _answer(self, method: str, model: str, context, work):
        start = time.perf_counter_ns()
        status, message = "OK", ""
        try:
            if method not in PUBLIC and not self._authorised(context):
                raise HTTPError(401, "missing or wrong bearer token (metadata 'authorization')")
            return await work()
        except asyncio.CancelledError:  # the client went away (or its deadline passed)
            status = "CANCELLED"
            raise
        except Exception as exc:
            status, message = status_of(exc)
            if status == "INTERNAL" and not isinstance(exc, PtxError):
                log.exception("unhandled error in gRPC %s", method)
        finally:
            route = "grpc" if method == "ModelInfer" else "grpc_meta"
            label = model if model in self.state.models else ""
            self.state.metrics.observe_grpc(
                label, route, status, (time.perf_counter_ns() - start) / 1e9
            )
        # Outside the try: abort raises to end the call, which must not be re-mapped.
        await context.abort(getattr(self.grpc.StatusCode, status), message)

    def _authorised(self, context) -> bool:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                return self.authorised(value)
        return self.authorised(None)

    def authorised(self, value: str | bytes | None) -> bool:
        """True when no token is set or ``value`` (the authorization metadata) carries it."""
        if self.token is None:
            return True
        if value is None:
            return False
        raw = value.encode() if isinstance(value, str) else value
        scheme, _, given = raw.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)

    # -- health and metadata ----------------------------------------------------------
    def meta(self, method: str, request):
        """The answer to a health or metadata call (both front ends; raises like _infer)."""
        pb, state = self.pb, self.state
        if method == "ServerLive":
            return pb.ServerLiveResponse(live=True)
        if method == "ServerReady":  # ready unless draining (SIGTERM)
            return pb.ServerReadyResponse(ready=not state.draining)
        if method == "ModelReady":  # a served model is ready as long as the server is
            return pb.ModelReadyResponse(ready=request.name in state.models and not state.draining)
        if method == "ServerMetadata":
            return pb.ServerMetadataResponse(
                name="ptx", version=ptx.__version__, extensions=EXTENSIONS
            )
        if method == "ModelMetadata":  # inputs and outputs, -1 for a dynamic axis
            doc = state.model(request.name, request.version).metadata()
            answer = pb.ModelMetadataResponse()
            return json_format.ParseDict(doc, answer, ignore_unknown_fields=True)
        if method == "ModelConfig":  # the Triton-style configuration (as GET .../config)
            answer = pb.ModelConfigResponse()
            cfg = state.model(request.name, request.version).config()
            json_format.ParseDict(cfg, answer.config, ignore_unknown_fields=True)
            return answer
        if method == "ModelStatistics":  # one model's, or all when no name is given
            if request.name:
                models = [state.model(request.name, request.version)]
            else:
                models = list(state.models.values())
            doc = {"model_stats": [m.stats.to_dict() for m in models]}
            return json_format.ParseDict(
                doc, pb.ModelStatisticsResponse(), ignore_unknown_fields=True
            )
        raise HTTPError(404, f"{method} is not served here")

    def _meta_call(self, method: str):
        async def call(request, context):
            async def work():
                return self.meta(method, request)

            return await self._answer(method, getattr(request, "name", ""), context, work)

        call.__name__ = method
        return call

    # -- inference --------------------------------------------------------------------
    async def ModelInfer(self, request, context):
        """One infer through the model's batcher, admitted by bytes like HTTP."""
        name = request.model_name
        return await self._answer("ModelInfer", name, context, lambda: self._infer(request))

    async def _infer(self, request):
        state = self.state
        model = state.model(request.model_name, request.model_version)
        inflight = state.metrics.in_flight.labels(model.name)
        inflight.inc()
        model.batcher.enter()
        start, ok = time.perf_counter_ns(), False
        try:
            engine = model.engine
            # Typed contents are Python lists: big ones are converted off the event loop.
            cost = 0 if request.raw_input_contents else request.ByteSize()
            feeds, wanted = await offload(
                cost, decode_infer, request, engine.inputs, engine.outputs
            )
            model.check_labels(feeds)
            nbytes = sum(a.nbytes for a in feeds.values())
            ticket = state.memory.ticket(int(nbytes * (2 + state.config.activation_factor)))
            try:
                # submit() runs a lone, known-short request right here on the loop.
                result = await model.infer(feeds, on_abandon=ticket.hand_over)
            except (Overloaded, RequestTimeout) as exc:
                state.metrics.rejected.labels(model.name, rejection_reason(exc)).inc()
                raise
            finally:
                ticket.close()
            answer = encode_infer(self.pb, model.name, request.id, result.outputs, wanted)
            ok = True
            return answer
        finally:
            inflight.dec()
            model.batcher.leave()
            model.stats.request_done(ok, time.perf_counter_ns() - start)


class GrpcServer:
    """KServe v2 gRPC for the app's models (start on its loop), on the front end the config
    asks for (``grpc_frontend``: native, python, or auto = native when built)."""

    def __init__(self, state) -> None:
        self.state = state
        self.server = None
        self.port: int | None = None
        self.frontend: str | None = None

    async def start(self, host: str, port: int) -> int:
        """Bind and start; the bound port (``port`` 0 picks a free one)."""
        from tritonclient.grpc import service_pb2  # only with --grpc-port: an optional extra

        self.frontend = native_build.choose(self.state.config.grpc_frontend)
        if self.frontend == "native":
            calls = Calls(self.state, None, service_pb2)
            server = grpc_native.NativeGrpcServer(self.state, calls, status_of)
            self.port = await server.start(grpc_address(host, port))
        else:
            server = PythonGrpcServer(self.state)
            self.port = await server.start(host, port)
        self.server = server
        address = grpc_address(host, self.port)
        log.info("KServe v2 gRPC (%s front end) on %s", self.frontend, address)
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Refuse new calls and give in-flight ones ``grace_s`` seconds to finish."""
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None


class PythonGrpcServer:
    """A grpc.aio server answering KServe v2 gRPC for the app's models (start on its loop)."""

    def __init__(self, state) -> None:
        self.state = state
        self.server = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> int:
        """Bind and start; the bound port (``port`` 0 picks a free one)."""
        import grpc  # only with --grpc-port: grpcio is an optional extra
        from tritonclient.grpc import service_pb2, service_pb2_grpc

        limit = self.state.config.max_body_bytes
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", -1),
            # Never share a port with another process: a taken port must fail loudly.
            ("grpc.so_reuseport", 0),
        ]
        self.server = grpc.aio.server(options=options)
        service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            _servicer(service_pb2_grpc, Calls(self.state, grpc, service_pb2)), self.server
        )
        address = grpc_address(host, port)
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise InputError(f"cannot listen for gRPC on {address}: {exc}") from None
        if not self.port:  # older grpcio answers 0 instead of raising
            raise InputError(f"cannot listen for gRPC on {address}: the port is taken")
        await self.server.start()
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Refuse new calls and give in-flight ones ``grace_s`` seconds to finish."""
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None


def _servicer(pbg, calls: Calls):
    """A GRPCInferenceServiceServicer whose implemented RPCs are ``calls``' (the rest:
    UNIMPLEMENTED, from the generated base class)."""

    class Servicer(pbg.GRPCInferenceServiceServicer):
        pass

    servicer = Servicer()
    for method in (
        "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata",
        "ModelConfig", "ModelStatistics", "ModelInfer",
    ):  # fmt: skip
        call = calls.ModelInfer if method == "ModelInfer" else calls._meta_call(method)
        setattr(servicer, method, call)
    return servicer
