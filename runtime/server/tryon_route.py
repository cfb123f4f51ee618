"""POST /v1/models/{name}/tryon: a garment and a mannequin picture in, the dressed mannequin out.

The two pictures come as multipart/form-data parts ``garment`` and ``mannequin``
(``curl -F garment=@shirt.png -F mannequin=@pose.png``). Fitting, feeds and the
reading of the output are ptx.runtime.pipelines.tryon's, the functions `ptx run
tryon` calls, so a request answers the picture the command writes for that pair.
The pair runs through the model's batcher, so concurrent requests share engine runs.
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ptx.errors import InputError, ModelError
from ptx.io import decode_image, encode_image
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.tryon import INPUTS, TryOnPlan, tryon_feeds, tryon_images, tryon_plan
from ptx.runtime.server import images
from ptx.runtime.server.admission import image_cost
from ptx.runtime.server.http import image_format, offload, read_body
from ptx.runtime.server.multipart import parse_form
from ptx.runtime.server.state import ServerState

# Per decoded pixel: the uint8 picture and a float32 RGB copy while it is letterboxed.
FIT_BYTES_PER_PIXEL = 3 + 12


def served_plan(engine: Engine) -> TryOnPlan:
    """The pipeline's try-on contract; a model that does not fit it is the client's pick (400)."""
    images.check_task(engine.spec, "tryon")
    try:
        return tryon_plan(engine)
    except ModelError as exc:  # e.g. a foreign model without a spec: not a try-on model
        raise InputError(f"not a try-on model: {exc}") from None


def tryon_cost(sizes: list[tuple[int, int]], side: int, factor: float) -> int:
    """Estimated peak bytes of one pair: both pictures fitted, then two side x side inputs."""
    fitted = sum(FIT_BYTES_PER_PIXEL * h * w for h, w in sizes)
    return fitted + 2 * image_cost(side, side, np.dtype(np.float32), factor)


def _decode(parts: dict[str, bytes], limit: int) -> dict[str, np.ndarray]:
    return {k: decode_image(v, f"part '{k}'", limit=limit) for k, v in parts.items()}


async def tryon(request: Request) -> Response:
    """Form parts garment + mannequin in; the mannequin wearing the garment (PNG/JPEG by Accept)."""
    state: ServerState = request.app.state.ptx
    model = state.model(request.path_params["name"])
    fmt = image_format(request.headers.get("accept"))
    # A model of another kind fails here, before the body is read.
    plan = state.cached((model.name, "tryon"), lambda: served_plan(model.engine))
    body = await read_body(request, state.config.max_body_bytes)
    parts = await offload(len(body), parse_form, body, request.headers.get("content-type"), INPUTS)
    del body
    limit = state.config.max_pixels
    sizes = [images.image_size(parts[k], limit, f"part '{k}'") for k in INPUTS]  # headers only
    cost = tryon_cost(sizes, plan.side, state.config.activation_factor)
    ticket = state.memory.ticket(cost)  # 413 / 503 here, before any pixel is decoded
    try:
        pics = await run_in_threadpool(_decode, parts, limit)
        del parts
        feeds = await run_in_threadpool(tryon_feeds, plan, [pics["garment"]], [pics["mannequin"]])
        del pics
        result = await model.infer(feeds, on_abandon=ticket.hand_over)
        (dressed,) = tryon_images(plan, result.outputs)
        data = await run_in_threadpool(encode_image, dressed, fmt)
    finally:
        ticket.close()
    return Response(data, media_type=images.MEDIA[fmt])
