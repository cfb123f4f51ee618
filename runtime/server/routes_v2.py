"""KServe v2 routes: health, server and model metadata, infer, Triton statistics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import ptx
from ptx.runtime.server.http import error_response, json_response, offload, read_body
from ptx.runtime.server.protocol import (
    decode_request,
    encode_cost,
    encode_response,
    split_body,
)
from ptx.runtime.server.state import ServerState

EXTENSIONS = ["binary_tensor_data", "statistics", "model_configuration"]


def _state(request: Request) -> ServerState:
    return request.app.state.ptx


def _model(request: Request):
    p = request.path_params
    return _state(request).model(p["name"], p.get("version"))


async def live(request: Request) -> Response:
    """Liveness: the process answers."""
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    """Readiness: every model loaded and the server is not draining."""
    state = _state(request)
    if state.draining:
        return error_response(503, "server is shutting down")
    return json_response({"ready": True})


async def server_metadata(request: Request) -> Response:
    """KServe v2 server metadata."""
    return json_response({"name": "ptx", "version": ptx.__version__, "extensions": EXTENSIONS})


async def model_metadata(request: Request) -> Response:
    """KServe v2 model metadata: inputs and outputs with datatypes and shapes."""
    return json_response(_model(request).metadata())


async def model_ready(request: Request) -> Response:
    """A served model is ready as long as the server is."""
    model = _model(request)
    if _state(request).draining:
        return error_response(503, "server is shutting down")
    return json_response({"name": model.name, "ready": True})


async def model_config(request: Request) -> Response:
    """A Triton-style model configuration."""
    return json_response(_model(request).config())


async def model_stats(request: Request) -> Response:
    """Triton statistics extension: one model, or all when no name is given."""
    state = _state(request)
    if "name" in request.path_params:
        models = [_model(request)]
    else:
        models = list(state.models.values())
    return json_response({"model_stats": [m.stats.to_dict() for m in models]})


async def infer(request: Request) -> Response:
    """KServe v2 infer with JSON tensors and the binary tensor extension."""
    state = _state(request)
    model = _model(request)
    body = await read_body(request, state.config.max_body_bytes)
    header, tail = split_body(body, request.headers.get("inference-header-content-length"))
    engine = model.engine
    # Only JSON work goes to a thread: a hop costs more than viewing or copying binary tensors.
    req = await offload(len(header), decode_request, header, tail, engine.inputs, engine.outputs)
    del header, tail
    model.check_labels(req.feeds)  # a bad id fails its own request (400), not a batch
    # Admitted by bytes like the image routes: the inputs plus activations estimated from them.
    nbytes = sum(a.nbytes for a in req.feeds.values())
    ticket = state.memory.ticket(int(nbytes * (2 + state.config.activation_factor)))
    try:
        result = await model.infer(req.feeds, on_abandon=ticket.hand_over)
    finally:
        ticket.close()
    cost = encode_cost(req, result.outputs)
    payload, header_len = await offload(cost, encode_response, model.name, req, result.outputs)
    if header_len is None:
        return Response(payload, media_type="application/json")
    return Response(
        payload,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_len)},
    )


def routes() -> list[Route]:
    """Every v2 route (each model route also under /versions/{version})."""
    out = [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/models/stats", model_stats, methods=["GET"]),
    ]
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        out += [
            Route(base, model_metadata, methods=["GET"]),
            Route(base + "/ready", model_ready, methods=["GET"]),
            Route(base + "/config", model_config, methods=["GET"]),
            Route(base + "/stats", model_stats, methods=["GET"]),
            Route(base + "/infer", infer, methods=["POST"]),
        ]
    return out
