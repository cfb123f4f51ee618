"""Ray blocks bounded by decoded bytes: what one decode task returns and one actor call holds.

A block of a fixed number of images is ~25 MB of RGB at 512x512 but ~4.8 GB for 32
50-megapixel photos, held at once by the decode task, the object store and the actor.
The driver reads each image's header (Pillow opens lazily: ~0.03 ms a 512x512 JPEG, no
pixels; by threads when the reads are round trips to network storage) and cuts the work
into runs of consecutive images whose decoded RGB fits a byte budget; an image over the
budget on its own still runs, alone (and one over ptx's pixel limit is refused by its
decode with one line, so it costs the budget nothing).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ptx.alpha import alpha_possible
from ptx.io import IMAGE_FORMATS, max_pixels

# Decoded RGB bytes a block may hold: Ray Data's own target block size (128 MiB), so
# Ray neither merges nor re-slices what ptx planned.
BLOCK_BYTES = 128 * 1024 * 1024
HEADER_READERS = 16  # driver threads reading headers at once (network storage: round trips)
PROBE_HEADERS, SLOW_HEADER_S = 32, 0.5e-3  # headers timed first; slower each: threads


def decoded_bytes(path: str | Path, limit: int | None = None) -> int:
    """Bytes of ``path``'s decoded uint8 RGB from its header alone (0: its decode will fail)."""
    from PIL import Image

    limit = max_pixels() if limit is None else limit
    Image.MAX_IMAGE_PIXELS = None  # ptx's own pixel limit applies (below), not Pillow's
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as img:
            w, h = img.size
            channels = 4 if alpha_possible(img) else 3  # an alpha travels beside the pixels
    except Exception:  # noqa: BLE001 - its decode task reports the one-line reason
        return 0
    return 0 if w * h > limit else w * h * channels


def header_bytes(paths: list[str | Path], readers: int = HEADER_READERS) -> list[int]:
    """decoded_bytes of every path, in order; by ``readers`` threads once reads look slow.

    Why: on network storage a header read is a round trip (a few ms), and 100,000 of them
    one after another kept the driver waiting minutes before the first block ran. From
    page cache a read is ~0.02 ms and threads only add their overhead (measured: 2,000
    headers 0.05 s alone, 0.17 s by 16 threads; with 2 ms a read, 4.3 s and 0.27 s), so
    the first PROBE_HEADERS are read alone and timed, and the rest go to threads only
    when those took over SLOW_HEADER_S each.
    """
    limit = max_pixels()
    head = list(paths[:PROBE_HEADERS])
    start = time.perf_counter()
    sizes = [decoded_bytes(p, limit) for p in head]
    slow = bool(head) and (time.perf_counter() - start) / len(head) > SLOW_HEADER_S
    rest = paths[len(head) :]
    if not slow or readers <= 1:
        return sizes + [decoded_bytes(p, limit) for p in rest]
    with ThreadPoolExecutor(readers, thread_name_prefix="ptx-headers") as pool:
        return sizes + list(pool.map(lambda p: decoded_bytes(p, limit), rest, chunksize=16))


def plan_blocks(
    rows: list[dict], rows_per_block: int, budget: int = BLOCK_BYTES, uniform: bool = False
) -> list[list[dict]]:
    """Consecutive ``rows`` (each with a ``source``) in blocks of at most ``rows_per_block``
    rows and ``budget`` decoded bytes (an image over the budget: a block of its own).

    ``uniform``: every block (but the last) has one row count, that many of the largest
    image fitting the budget, so any run of that many rows fits it too: a GPU actor's
    Ray call is given a row count (Ray requires one) and gathers rows across blocks.
    """
    sizes = header_bytes([row["source"] for row in rows])
    if uniform:
        n = max(1, min(rows_per_block, budget // max(1, max(sizes, default=0))))
        return [rows[i : i + n] for i in range(0, len(rows), n)]
    blocks: list[list[dict]] = []
    block: list[dict] = []
    held = 0
    for row, size in zip(rows, sizes, strict=True):
        if block and (len(block) == rows_per_block or held + size > budget):
            blocks.append(block)
            block, held = [], 0
        block.append(row)
        held += size
    if block:
        blocks.append(block)
    return blocks


def block_table(rows: list[dict]):
    """One planned block (``source``, ``dest``) as the Arrow table Ray keeps as one block."""
    import pyarrow as pa  # Ray Data's own dependency: only a batch run gets here

    return pa.table({key: [str(row[key]) for row in rows] for key in ("source", "dest")})


__all__ = ["BLOCK_BYTES", "block_table", "decoded_bytes", "header_bytes", "plan_blocks"]
