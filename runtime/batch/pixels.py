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

import numpy as np

from ptx.errors import ImageError, InputError
from ptx.io import read_image

COLUMNS = ("source", "dest", "pixels", "h", "w", "error")


def decode_row(row: dict) -> dict:
    """Read one image into uint8 RGB HWC ``pixels`` (a bad file: no pixels and an ``error``)."""
    try:
        img = read_image(row["source"])
    except (ImageError, InputError, OSError) as exc:
        return {**row, "pixels": None, "h": 0, "w": 0, "error": str(exc)}
    return {**row, "pixels": img, "h": img.shape[0], "w": img.shape[1], "error": ""}


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
    columns = {key: [row[key] for row in rows] for key in COLUMNS if key != "pixels"}
    block = [uuid.uuid4().hex] * len(rows)
    pixels = pixel_column([row["pixels"] for row in rows])
    return pa.table({**columns, "block": block, "pixels": pixels})


def image_views(table) -> list[np.ndarray | None]:
    """Each row's image of a decode_rows table: read-only HWC views of the Arrow buffer
    (None for a row without pixels); nothing is copied."""
    h, w = table.column("h").to_pylist(), table.column("w").to_pylist()
    out: list[np.ndarray | None] = []
    for chunk in table.column("pixels").chunks:
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        for start, end in zip(ends[:-1], ends[1:], strict=True):
            i = len(out)
            if end == start:
                out.append(None)
                continue
            flat = np.frombuffer(data, np.uint8, count=int(end - start), offset=int(start))
            flat.flags.writeable = False  # Ray's object store is shared: never write there
            out.append(flat.reshape(h[i], w[i], 3))
    return out


__all__ = ["COLUMNS", "decode_row", "decode_rows", "image_views", "pixel_column"]
