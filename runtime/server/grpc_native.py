"""The native gRPC front end: C++ (``native/ptx_grpc.cc``) owns transport and protobuf.

Everything else is ptx's own Python, shared with the grpc.aio front end
(``grpc_server.Calls``): the token check, byte admission, Prometheus metrics (route
``grpc``), statistics and the batcher. ModelInfer arrives on a gRPC thread with the GIL
held, its raw inputs as memoryviews over buffers moved out of the request. The checks a
request header needs (model, datatypes, shapes, outputs asked for, admission cost) are
made once per header and kept (``_Plan``): a client repeating a request pays only a size
comparison. A lone, known-short request runs right there (``Batcher.run_lone``, which
decides under the batcher's lock; ONNX Runtime releases the GIL while it runs); any
other is handed to the server's event loop and awaited there as an HTTP request is, so
it can merge with HTTP ones (a client that leaves meanwhile is counted CANCELLED). The
other RPCs hand over their serialised request and get serialised bytes back.

Build it with `make grpc-native` (``python -m ptx.runtime.server.native.build``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from types import SimpleNamespace

import numpy as np

from ptx.errors import InputError, PtxError
from ptx.runtime.server.admission import Ticket
from ptx.runtime.server.batcher import Overloaded, signature
from ptx.runtime.server.grpc_codec import decode_infer
from ptx.runtime.server.http import HTTPError
from ptx.runtime.server.models import RequestTimeout, rejection_reason
from ptx.runtime.server.native import build as native_build
from ptx.runtime.server.protocol import datatype_of

log = logging.getLogger("ptx.serve")

MODULE = "ptx.runtime.server.native._ptx_grpc"
# grpc::StatusCode numbers of the status names grpc_server.status_of gives.
CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "RESOURCE_EXHAUSTED": 8,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}
PUBLIC = {"ServerLive", "ServerReady"}  # as the python front end: probes need no token
LOOP_SLACK_S = 10.0  # past the request's own timeout, a wait on the loop gives up
CANCEL_POLL_S = 0.05  # a request waiting for its batch asks this often whether its client left
PLANS_MAX = 256  # request headers whose checks are remembered
_DATATYPES: dict = {}  # NumPy dtype -> KServe datatype (dtype.name costs microseconds)


class ClientCancelled(PtxError):
    """The client of a waiting ModelInfer went away or its deadline passed (CANCELLED)."""


def load():
    """The built extension module, or None when it has not been built."""
    if not native_build.module_path().exists():
        return None
    return importlib.import_module(MODULE)


class NativeGrpcServer:
    """The C++ server answering through ``calls`` (a grpc_server.Calls); start on the loop."""

    def __init__(self, state, calls, status_of) -> None:
        self.state = state
        self.calls = calls
        self.status_of = status_of
        self.pb = calls.pb
        self.handle = None
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._native = None  # the extension module, once started
        self._children: dict[tuple, object] = {}  # Prometheus children of answered calls
        self._plans: dict[tuple, _Plan] = {}  # request header -> its checks, made once

    async def start(self, address: str) -> int:
        """Bind ``address`` (host:port, port 0 = any free) and start serving; the bound port."""
        native = load()
        if native is None:
            raise InputError("the native gRPC front end is not built; run `make grpc-native`")
        self.loop = asyncio.get_running_loop()
        limit = self.state.config.max_body_bytes
        try:
            self.handle, self.port = native.start(address, limit, self.infer, self.call)
        except OSError as exc:
            raise InputError(f"{exc}: the port is taken or the address is not ours") from None
        self._native = native
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Refuse new calls; in-flight ones get ``grace_s`` (they may need this loop)."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            await asyncio.to_thread(self._native.shutdown, handle, grace_s)

    # -- called by C++ on a gRPC thread, with the GIL -----------------------------------
    def call(self, method: str, body: bytes, authorization: bytes | None):
        """(code, message, serialised answer) of a health or metadata call."""
        start = time.perf_counter_ns()
        request = getattr(self.pb, f"{method}Request").FromString(body)
        model = getattr(request, "name", "")
        try:
            if method not in PUBLIC and not self.calls.authorised(authorization):
                raise HTTPError(401, "missing or wrong bearer token (metadata 'authorization')")
            answer = self.calls.meta(method, request).SerializeToString()
            return self._done(method, model, start, "OK", "", answer)
        except Exception as exc:
            return self._failed(method, model, start, exc)

    def infer(self, model_name, version, inputs, raw, outputs, authorization, whole):
        """(code, message, [(name, datatype, shape, array)]) of one ModelInfer.

        A request whose header (model, version, inputs, requested outputs) was answered
        before takes the lean path (``_Plan``): its checks were made once, only the raw
        sizes are compared. Anything else, and any request whose sizes disagree, goes the
        whole way (``_first``), which reports what is wrong.
        """
        start = time.perf_counter_ns()
        try:
            if self.calls.token is not None and not self.calls.authorised(authorization):
                raise HTTPError(401, "missing or wrong bearer token (metadata 'authorization')")
            plan = self._plans.get((model_name, version, inputs, outputs)) if raw else None
            feeds = plan.feeds(raw) if plan is not None else None
            if feeds is None:
                plan, feeds, t0 = self._first(model_name, version, inputs, raw, outputs, whole)
            else:
                t0 = start
            answer = self._serve(plan, feeds, t0)
            # what _done does for a success, its children on the plan, at the next scrape
            self.state.metrics.later(plan.answered, time.perf_counter_ns() - start)
            return 0, "", answer
        except Exception as exc:
            return self._failed("ModelInfer", model_name, start, exc)

    def _first(self, model_name, version, inputs, raw, outputs, whole):
        """(plan, feeds, start) of a request decoded the whole way; its plan kept if raw."""
        if whole is not None:  # typed contents: the message as the python front end has it
            request = self.pb.ModelInferRequest.FromString(whole)
        else:
            request = SimpleNamespace(
                inputs=[SimpleNamespace(name=n, datatype=d, shape=s) for n, d, s in inputs],
                raw_input_contents=raw,
                outputs=[SimpleNamespace(name=n) for n in outputs],
            )
        model = self.state.model(model_name, version)
        start = time.perf_counter_ns()
        try:
            engine = model.engine
            feeds, wanted = decode_infer(request, engine.inputs, engine.outputs)
        except Exception:
            model.stats.request_done(False, time.perf_counter_ns() - start)
            raise
        plan = _Plan(self, model, feeds, wanted)
        if raw and whole is None:
            if len(self._plans) >= PLANS_MAX:  # many headers: forget, stay bounded
                self._plans.clear()
            self._plans[(model_name, version, inputs, outputs)] = plan
        return plan, feeds, start

    def _serve(self, plan: _Plan, feeds: dict, start: int) -> list[tuple]:
        """The answer to decoded ``feeds``: labels, admission, the batcher, statistics."""
        model, state = plan.model, self.state
        plan.in_flight.inc()
        ok = False
        try:
            if plan.labels:
                model.check_labels(feeds)
            memory = state.memory
            memory.reserve(plan.cost)
            try:
                samples = plan.samples if plan.samples else model.batcher.samples(feeds)
                # Lone and known-short: right here, counted as accepted while it runs.
                outputs = model.batcher.run_lone(feeds, plan.signature, samples)
            except BaseException:
                memory.release(plan.cost)
                raise
            if outputs is None:  # else through the batcher, as HTTP requests go
                outputs = self._queued(model, feeds, Ticket(memory, plan.cost))
            else:
                memory.release(plan.cost)
            answer = []
            for name in plan.wanted or list(outputs):
                arr = np.ascontiguousarray(outputs[name])
                little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
                datatype = _DATATYPES.get(arr.dtype) or _DATATYPES.setdefault(
                    arr.dtype, datatype_of(arr.dtype)
                )
                answer.append((name, datatype, little.shape, little))
            ok = True
            return answer
        finally:
            plan.in_flight.dec()
            model.stats.request_done(ok, time.perf_counter_ns() - start)

    def _queued(self, model, feeds: dict, ticket: Ticket) -> dict:
        """The outputs of ``feeds`` run by the model's batcher (on the loop, may merge)."""
        state = self.state
        model.batcher.enter()
        try:
            return self._on_loop(model, feeds, ticket).outputs
        except (Overloaded, RequestTimeout) as exc:
            state.metrics.rejected.labels(model.name, rejection_reason(exc)).inc()
            raise
        finally:
            ticket.close()
            model.batcher.leave()

    def _on_loop(self, model, feeds, ticket):
        future = asyncio.run_coroutine_threadsafe(
            model.infer(feeds, on_abandon=ticket.hand_over), self.loop
        )
        give_up = time.monotonic() + model.timeout_s + LOOP_SLACK_S
        while True:
            try:  # the wait releases the GIL; between waits: is the client still there?
                return future.result(timeout=CANCEL_POLL_S)
            except TimeoutError:
                pass
            if self._native.cancelled():  # as grpc.aio cancels the python front end's task
                future.cancel()
                raise ClientCancelled(f"model '{model.name}': the client went away")
            if time.monotonic() > give_up:
                future.cancel()
                raise RequestTimeout(f"model '{model.name}': no result in time; retry")

    def _child(self, metric: str, *labels: str):
        """A labelled Prometheus child, looked up once (labels() costs microseconds)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self.state.metrics, metric).labels(*labels)
        return child

    def _done(self, method, model, start, status, message, payload):
        route = "grpc" if method == "ModelInfer" else "grpc_meta"
        label = model if model in self.state.models else ""
        seconds = (time.perf_counter_ns() - start) / 1e9
        if status == "OK":  # what observe_grpc does for a success, children cached
            self._child("requests", label, route, status).inc()
            self._child("latency", label, route).observe(seconds)
        else:
            self.state.metrics.observe_grpc(label, route, status, seconds)
        return CODES[status], message, payload

    def _failed(self, method, model, start, exc: Exception):
        status, message = self.status_of(exc)
        if status == "INTERNAL" and not isinstance(exc, PtxError):
            log.error("unhandled error in gRPC %s", method, exc_info=exc)
        return self._done(method, model, start, status, message, None)


class _Plan:
    """One request header's decisions, made once: the model, each raw input's dtype, shape
    and byte size, the outputs asked for, the admission cost, the batcher's signature and
    samples, whether labels need a look, and the Prometheus children of a success."""

    __slots__ = (
        "model", "inputs", "wanted", "cost", "signature", "samples", "labels",
        "in_flight", "ok", "latency",
    )  # fmt: skip

    def __init__(self, server: NativeGrpcServer, model, feeds: dict, wanted) -> None:
        self.model = model
        self.inputs = tuple((k, a.dtype, a.shape, a.nbytes) for k, a in feeds.items())
        self.wanted = wanted
        nbytes = sum(a.nbytes for a in feeds.values())
        self.cost = int(nbytes * (2 + server.state.config.activation_factor))
        self.signature = signature(feeds)
        try:
            self.samples = model.batcher.samples(feeds)
        except InputError:
            self.samples = 0  # 0: ask the batcher each time (it raises, in its turn)
        spec = model.spec
        self.labels = bool(spec is not None and spec.labels)
        self.in_flight = server._child("in_flight", model.name)
        self.ok = server._child("requests", model.name, "grpc", "OK")
        self.latency = server._child("latency", model.name, "grpc")

    def answered(self, ns: int) -> None:
        """Count one successful call that took ``ns`` (Metrics.later applies it)."""
        self.ok.inc()
        self.latency.observe(ns / 1e9)

    def feeds(self, raw) -> dict | None:
        """The arrays over ``raw`` (no copy); None when a count or a size differs."""
        if len(raw) != len(self.inputs):
            return None
        feeds = {}
        for (name, dtype, shape, nbytes), buf in zip(self.inputs, raw, strict=True):
            if buf.nbytes != nbytes:
                return None
            feeds[name] = np.frombuffer(buf, dtype).reshape(shape)
        return feeds
