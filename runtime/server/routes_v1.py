"""Image routes for people and simple services: enhance, stylize, cutout, generate, tryon."""

from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ptx.errors import InputError
from ptx.io import decode_image, jpeg_tables
from ptx.runtime.pipelines import cutout as cutter
from ptx.runtime.pipelines import generate as generator
from ptx.runtime.pipelines.generate_profile import DEFAULT_N, Profile, parse_profile, profile_feeds
from ptx.runtime.server import images
from ptx.runtime.server.admission import image_cost
from ptx.runtime.server.http import HTTPError, image_format, read_body, wants_json
from ptx.runtime.server.protocol import parse_json
from ptx.runtime.server.state import ServerState
from ptx.runtime.server.tryon_route import tryon


def _state(request: Request) -> ServerState:
    return request.app.state.ptx


async def _image_route(request: Request, route: str) -> Response:
    state = _state(request)
    model = state.model(request.path_params["name"])
    fmt = image_format(request.headers.get("accept"))
    strength = 1.0
    if route == "enhance":  # checked before the body is read: a bad value costs nothing
        strength = images.parse_strength(request.query_params.get("strength"))
    name, dtype, conv = state.cached(
        (model.name, route), lambda: images.image_model(model.engine, route)
    )
    body = await read_body(request, state.config.max_body_bytes)
    h, w = images.image_size(body, state.config.max_pixels)  # the header only: no pixels yet
    cost = image_cost(h, w, dtype, state.config.activation_factor)
    ticket = state.memory.ticket(cost)  # 413 / 503 here, before any pixel is decoded
    source = None  # the decoded request, kept only for a strength blend
    try:
        if model.gpu_images:  # decode here; normalise, model and back to pixels on the GPU
            feeds, size, alpha = await run_in_threadpool(
                images.decode_rgb, body, state.config.max_pixels
            )
            source = feeds["rgb"][0] if strength < 1.0 else None
        elif strength < 1.0:
            feeds, source, alpha = await run_in_threadpool(
                images.decode_keep, body, state.config.max_pixels, name, dtype, conv
            )
            size = source.shape[:2]
        else:
            feeds, size, alpha = await run_in_threadpool(
                images.decode_for_model, body, state.config.max_pixels, name, dtype, conv
            )
        # A JPEG answer to a JPEG request keeps its tables (header only; None otherwise).
        tables = await run_in_threadpool(jpeg_tables, body) if fmt == "JPEG" else None
        del body
        # A 504 frees the client, not the worker: then the worker's end frees the bytes.
        kind = "rgb" if model.gpu_images else "tensor"
        result = await model.infer(feeds, on_abandon=ticket.hand_over, kind=kind)
        del feeds
        if model.gpu_images:
            data = await run_in_threadpool(
                images.encode_rgb, result.outputs, fmt, source, strength, alpha, tables
            )
        else:
            data = await run_in_threadpool(
                images.encode_output,
                *(result.outputs, conv, size, fmt, source, strength, alpha, tables),
            )
    finally:
        ticket.close()
    return Response(data, media_type=images.MEDIA[fmt])


async def enhance(request: Request) -> Response:
    """Image bytes in, the enhanced image out (PNG or JPEG by Accept); ``?strength=0..1``."""
    return await _image_route(request, "enhance")


async def stylize(request: Request) -> Response:
    """Image bytes in, the stylized image out (PNG or JPEG by Accept)."""
    return await _image_route(request, "stylize")


async def cutout(request: Request) -> Response:
    """Image bytes in, the same image with the model's alpha out (an RGBA PNG)."""
    state = _state(request)
    model = state.model(request.path_params["name"])
    images.check_task(model.spec, "cutout")  # a model of another kind: 400, before the body
    state.cached((model.name, "cutout"), lambda: cutter.check_model(model.engine))
    refine = state.cached((model.name, "cutout-refine"), lambda: cutter.refines(model.engine))
    body = await read_body(request, state.config.max_body_bytes)
    h, w = images.image_size(body, state.config.max_pixels)  # the header only: no pixels yet
    cost = image_cost(h, w, np.dtype(np.float32), state.config.activation_factor)
    ticket = state.memory.ticket(cost)  # 413 / 503 here, before any pixel is decoded
    try:
        limit = state.config.max_pixels
        rgb = await run_in_threadpool(decode_image, body, "request body", limit=limit)
        del body
        feeds, work = await run_in_threadpool(cutter.cutout_feeds, model.engine, rgb)
        result = await model.infer(feeds, on_abandon=ticket.hand_over)

        def encode() -> bytes:
            alpha = cutter.alpha_of(next(iter(result.outputs.values())), work, rgb.shape[:2])
            alpha = cutter.finish_alpha(rgb, alpha, refine)
            return cutter.encode_rgba(cutter.to_rgba(rgb, alpha))

        data = await run_in_threadpool(encode)
    finally:
        ticket.close()
    return Response(data, media_type="image/png")


def _count_seed(doc: dict, max_images: int, n_default: int) -> tuple[int, int]:
    n, seed = doc.get("n", n_default), doc.get("seed", 0)
    for key, value in (("n", n), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"'{key}' must be an integer")
    if not 1 <= n <= max_images:
        raise InputError(f"'n' must be 1..{max_images}, got {n}")
    if not 0 <= seed < 2**63:
        raise InputError(f"'seed' must be 0..2^63-1, got {seed}")
    return n, seed


def _generate_args(doc: dict, max_images: int) -> tuple[dict[str, str], int, int]:
    labels = doc.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise InputError("'labels' must be an object of label name -> value strings")
    return (labels, *_count_seed(doc, max_images, 1))


def _profile_args(doc: dict, max_images: int) -> tuple[Profile, int, int]:
    """(profile, n, seed) as `ptx run generate --profile` takes them: the profile's win."""
    if "labels" in doc:
        raise InputError("'profile' and 'labels' do not combine; put the labels in the profile")
    try:
        profile = parse_profile(doc["profile"], "request body")
    except InputError as exc:  # one line per bad field on the CLI; one line here
        raise InputError(str(exc).replace("\n", "; ")) from None
    _count_seed(doc, max_images, DEFAULT_N)  # the body's own n and seed are checked too
    given = {k: v for k, v in (("n", profile.n), ("seed", profile.seed)) if v is not None}
    return (profile, *_count_seed({**doc, **given}, max_images, DEFAULT_N))


async def generate(request: Request) -> Response:
    """JSON {labels | profile, n, seed} in; a PNG/JPEG grid, or base64 PNGs for Accept: JSON.

    The feeds and images are ptx.runtime.pipelines.generate's (the contract `ptx run
    generate` uses), and a ``profile`` is planned by generate_profile's profile_feeds (as
    `ptx run generate --profile`), so a request gives the images the command gives.
    """
    state = _state(request)
    model = state.model(request.path_params["name"])
    as_json = wants_json(request.headers.get("accept"))
    fmt = "PNG" if as_json else image_format(request.headers.get("accept"))
    images.check_task(model.spec, "generate")
    # A model of the wrong kind fails here, before the body is read.
    plan = state.cached((model.name, "generate"), lambda: generator.generator_plan(model.engine))
    body = await read_body(request, state.config.max_body_bytes)
    doc = parse_json(body)
    extra: dict = {}
    if "profile" in doc:
        profile, n, seed = _profile_args(doc, state.config.max_images)
        feeds, per_sample, variants = profile_feeds(plan, profile, n, seed)
        groups = [{"labels": lab, "count": k} for lab, k in variants.groups]
        extra = {"profile": profile.name, "seed": seed, "groups": groups, "notes": variants.notes}
    else:
        labels, n, seed = _generate_args(doc, state.config.max_images)
        feeds, per_sample = generator.generate_feeds(plan, labels, n, seed)
    size = model.batcher.max_batch if model.batcher.merge else 1
    parts = generator.chunks(feeds, size)
    # At most one queued chunk per engine instance: a large n on a model that does not
    # batch waits its turn instead of filling the queue that other clients share.
    slots = asyncio.Semaphore(len(model.batcher.engines))

    async def run(chunk: dict) -> object:
        async with slots:
            return await model.infer(chunk)

    results = await asyncio.gather(*(run(c) for c in parts))
    imgs = await run_in_threadpool(generator.to_images, plan, [r.outputs for r in results])
    if len(imgs) != n:
        raise HTTPError(500, f"model returned {len(imgs)} images for {n} samples")
    data, media = await run_in_threadpool(
        images.encode_generated, imgs, per_sample, as_json, fmt, extra
    )
    return Response(data, media_type=media)


def routes() -> list[Route]:
    """The /v1 image routes."""
    return [
        Route("/v1/models/{name}/enhance", enhance, methods=["POST"]),
        Route("/v1/models/{name}/stylize", stylize, methods=["POST"]),
        Route("/v1/models/{name}/cutout", cutout, methods=["POST"]),
        Route("/v1/models/{name}/generate", generate, methods=["POST"]),
        Route("/v1/models/{name}/tryon", tryon, methods=["POST"]),
    ]
