"""multipart/form-data bodies (RFC 7578) split into named parts, with one clear error line.

Routes that take more than one image (``/tryon``: a garment and a mannequin) read
them as form parts, as ``curl -F garment=@g.png -F mannequin=@m.png`` sends them.
The body is read first under the server's body limit (``read_body``), so this
parser only slices bytes that are already bounded; each part's own Content-Type
is ignored because ptx.io sniffs and allow-lists the image format itself.
"""

from __future__ import annotations

from email.message import Message

from ptx.runtime.server.http import HTTPError

FORM = "multipart/form-data"
MAX_BOUNDARY = 70  # RFC 2046


def _params(header: str, value: str) -> tuple[str, dict[str, str]]:
    """(lower-cased value, its parameters) of one header, quoting handled by the stdlib."""
    msg = Message()
    msg[header] = value
    params = msg.get_params(header=header) or []
    main = params[0][0].lower() if params else ""
    return main, {k.lower(): str(v) for k, v in params[1:]}


def _usage(fields: tuple[str, ...]) -> str:
    return "send " + " and ".join(f"{f}=@FILE" for f in fields) + f" as {FORM} parts"


def _part(piece: bytes, fields: tuple[str, ...]) -> tuple[str, bytes]:
    """(field name, content) of one part between two delimiters."""
    _, eol, rest = piece.partition(b"\r\n")  # transport padding after the delimiter
    if not eol:
        raise HTTPError(400, f"malformed {FORM} body: a boundary line without CRLF")
    if rest.startswith(b"\r\n"):
        head, content = b"", rest[2:]
    else:
        head, sep, content = rest.partition(b"\r\n\r\n")
        if not sep:
            raise HTTPError(400, f"malformed {FORM} body: a part without a blank line after it")
    name = None
    for line in head.split(b"\r\n"):
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == b"content-disposition":
            kind, params = _params("content-disposition", value.decode("latin-1").strip())
            if kind == "form-data":
                name = params.get("name")
    if not name:
        raise HTTPError(400, f"a part has no Content-Disposition form-data name; {_usage(fields)}")
    return name, content


def parse_form(body: bytes, content_type: str | None, fields: tuple[str, ...]) -> dict[str, bytes]:
    """Exactly the parts ``fields`` of a multipart/form-data body (415/400 with one line)."""
    media, params = _params("content-type", content_type or "")
    if media != FORM:
        shown = (content_type or "none")[:60]
        raise HTTPError(415, f"Content-Type '{shown}' not supported here; {_usage(fields)}")
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= MAX_BOUNDARY:
        raise HTTPError(400, f"{FORM} needs a boundary parameter of 1..{MAX_BOUNDARY} characters")
    try:
        delim = b"\r\n--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        raise HTTPError(400, f"{FORM} boundary must be ASCII") from None
    pieces = (b"\r\n" + body).split(delim)  # [preamble, part, ..., "--" epilogue, ...]
    end = next((i for i, p in enumerate(pieces) if i and p.startswith(b"--")), None)
    if end is None:
        raise HTTPError(400, f"malformed {FORM} body: no closing boundary")
    out: dict[str, bytes] = {}
    for piece in pieces[1:end]:
        name, content = _part(piece, fields)
        if name not in fields:
            raise HTTPError(400, f"unknown part '{name[:40]}'; {_usage(fields)}")
        if name in out:
            raise HTTPError(400, f"part '{name}' given twice; send it once")
        out[name] = content
    missing = [f for f in fields if f not in out]
    if missing:
        raise HTTPError(400, f"missing part '{missing[0]}'; {_usage(fields)}")
    return out
