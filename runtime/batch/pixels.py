"""Decoded pixels on their way from a decode task to an actor: one Arrow buffer a block.

A decode task returns its block as an Arrow table whose ``pixels`` column holds every
image's uint8 RGB bytes back to back in one buffer (copied there once), and an actor
reads each image as a NumPy view of that buffer where Ray's object store holds it.
Handing Ray a list of ``bytes`` instead cost a copy of every image on either side (the
image's ``tobytes()`` and Ray's conversion into Arrow in the task, Python ``bytes``
per row for a NumPy batch in the actor): ~0.7 ms of CPU a 512x512 image.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from ptx.errors import ImageError, InputError
from ptx.image import denormalise_constants, to_uint8
from ptx.io import encode_for, encode_pil, jpeg_tables, read_image_alpha, write_format
from ptx.spec import ImageConvention

COLUMNS = ("source", "dest", "pixels", "alpha", "h", "w", "error")


def decode_row(row: dict) -> dict:
    """Read one image into uint8 RGB HWC ``pixels`` and its ``alpha`` (None when opaque);
    a bad file: no pixels and an ``error``."""
    try:
        img, alpha = read_image_alpha(row["source"])
    except (ImageError, InputError, OSError) as exc:
        return {**row, "pixels": None, "alpha": None, "h": 0, "w": 0, "error": str(exc)}
    h, w = img.shape[:2]
    return {**row, "pixels": img, "alpha": alpha, "h": h, "w": w, "error": ""}


def pixel_column(images: list[np.ndarray | None]):
    """uint8 images (None: none) as one Arrow large_binary array over a single buffer."""
    import pyarrow as pa  # Ray Data's own dependency: only decode tasks get here

    sizes = np.array([0 if img is None else img.nbytes for img in images], np.int64)
    offsets = np.zeros(len(images) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = np.empty(int(offsets[-1]), np.uint8)
    for img, start, end in zip(images, offsets[:-1], offsets[1:], strict=True):
        if img is not None:
            data[start:end] = img.reshape(-1)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(images), buffers)


def decode_rows(batch: dict):
    """Ray task: decode a block of rows (``source``, ``dest``) into one Arrow table.

    Its ``block`` column names this decode call (one id for all its rows): the rows an
    actor reports back show which images travelled together (blocks.py bounds them).
    """
    import pyarrow as pa  # Ray Data's own dependency: only decode tasks get here

    rows = [decode_row({"source": str(s), "dest": str(d)})
            for s, d in zip(batch["source"], batch["dest"], strict=True)]  # fmt: skip
    columns = {key: [row[key] for row in rows] for key in COLUMNS if key not in ("pixels", "alpha")}
    block = [uuid.uuid4().hex] * len(rows)
    pixels = pixel_column([row["pixels"] for row in rows])
    alpha = pixel_column([row["alpha"] for row in rows])  # opaque rows: empty, no bytes
    return pa.table({**columns, "block": block, "pixels": pixels, "alpha": alpha})


def image_views(table, column: str = "pixels") -> list[np.ndarray | None]:
    """Each row's image of a decode_rows table: read-only HWC views of the Arrow buffer
    (None for a row without pixels); nothing is copied. ``column="alpha"``: H x W alphas."""
    h, w = table.column("h").to_pylist(), table.column("w").to_pylist()
    tail = (3,) if column == "pixels" else ()
    out: list[np.ndarray | None] = []
    for chunk in table.column(column).chunks:
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        for start, end in zip(ends[:-1], ends[1:], strict=True):
            i = len(out)
            if end == start:
                out.append(None)
                continue
            flat = np.frombuffer(data, np.uint8, count=int(end - start), offset=int(start))
            flat.flags.writeable = False  # Ray's object store is shared: never write there
            out.append(flat.reshape(h[i], w[i], *tail))
    return out


def output_planes(
    y: np.ndarray, i: int, conv: ImageConvention, size: tuple[int, int]
) -> list[np.ndarray]:
    """Output ``i`` of an NCHW 3-channel model batch ``y`` as uint8 planes, R, G, B.

    to_pixels's values (the same float32 maths and to_uint8), without interleaving the
    planes: Pillow merges them straight into its own pixel layout. ``y`` is the
    caller's own array (every engine's ``run`` returns fresh ones): a float32 one is
    worked on in place (image ``i``'s part only), saving a 3 MB array a 512x512 image.
    """
    a, b = denormalise_constants(conv)
    v = y[i, :, : size[0], : size[1]]
    mine = v.dtype == np.float32 and v.flags.writeable
    values = np.multiply(v, a[:, None, None], out=v if mine else None, dtype=np.float32)
    if np.any(b):  # adding 0.0 changes no pixel
        values += b[:, None, None]
    pixels = to_uint8(values, inplace=True)
    return [pixels[c] for c in ((2, 1, 0) if conv.channel_order == "BGR" else (0, 1, 2))]


def encode_output(
    y: np.ndarray,
    i: int,
    conv: ImageConvention,
    size: tuple[int, int],
    dest: Path,
    level: int,
    alpha: np.ndarray | None = None,
    source: Path | None = None,
) -> bytes:
    """Output ``i`` of model batch ``y`` as ``dest``'s file bytes: save_image's (``ptx run``'s).

    An NCHW RGB output goes to Pillow as three planes (output_planes): 0.4 ms less CPU
    a 512x512 JPEG than to_pixels + encode_for (the interleave, Pillow's RGB unpack and a
    3 MB float array); any other output, or one given its input's ``alpha``, takes that path.
    """
    from PIL import Image  # ptx.io's own dependency, imported there lazily too

    if alpha is not None or conv.layout != "NCHW" or y.ndim != 4 or y.shape[1] != 3:
        rgb = conv.to_pixels(y[i : i + 1], size=size)[0]
        return encode_for(dest, rgb, level=level, alpha=alpha, source=source)
    img = Image.merge("RGB", [Image.fromarray(p) for p in output_planes(y, i, conv, size)])
    fmt = write_format(dest)
    tables = jpeg_tables(source) if fmt == "JPEG" else None  # a JPEG keeps a JPEG input's
    return encode_pil(img, fmt, level=level, tables=tables)


__all__ = [
    "COLUMNS", "decode_row", "decode_rows", "encode_output", "image_views", "output_planes",
    "pixel_column",
]  # fmt: skip
