"""HTTP plumbing shared by the routes: JSON errors, bounded body reads, content negotiation."""

from __future__ import annotations

import json
import zlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

# Bodies and results above this are decoded/encoded on a worker thread, off the event loop.
OFFLOAD_BYTES = 64 * 1024


class HTTPError(Exception):
    """An error answered as ``{"error": message}`` with ``status`` and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def json_response(
    doc: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A compact JSON response."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one error shape every route answers with."""
    return json_response({"error": message}, status, headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it (or its Content-Length) passes ``limit``.

    gzip/deflate bodies (Content-Encoding, as tritonclient can send) are inflated
    under the same limit, so a small compressed bomb cannot expand in memory.
    """
    too_big = HTTPError(413, f"request body over the {limit / 2**20:g} MiB limit (--max-body-mb)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPError(400, "client disconnected before sending the whole body") from None
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise HTTPError(415, f"Content-Encoding '{encoding[:20]}' not supported (gzip, deflate)")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HTTPError(400, f"body is not valid {encoding} data ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise too_big
    return out


async def offload(size: int, fn, *args):
    """Call ``fn(*args)`` on a thread when ``size`` bytes of work would stall the event loop."""
    if size > OFFLOAD_BYTES:
        return await run_in_threadpool(fn, *args)
    return fn(*args)


def image_format(accept: str | None) -> str:
    """PNG or JPEG from an Accept header (PNG when anything goes); 406 when neither fits."""
    if not accept:
        return "PNG"
    for part in accept.split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media in ("image/png", "image/*", "*/*"):
            return "PNG"
        if media in ("image/jpeg", "image/jpg"):
            return "JPEG"
    raise HTTPError(406, f"cannot answer Accept '{accept[:80]}': use image/png or image/jpeg")


def wants_json(accept: str | None) -> bool:
    """True when the client asked for application/json before any image type."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media == "application/json":
            return True
        if media.startswith("image/") or media == "*/*":
            return False
    return False
