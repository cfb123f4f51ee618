"""CPU of each step a `ptx batch` actor takes an image through, in one process (issue 17).

The batch scaling study sees CPU by process and thread; this one times each step
alone, on the thread that runs it (``time.thread_time``), with the model run between
images as in an actor (so every step finds the caches as the model left them). The
output's way to file bytes is timed both ways on alternate images, on the same model
outputs: ``to_pixels`` + ``encode_for`` (before) and ``encode_output`` (Pillow takes
three planes), and the bytes are checked equal. The model itself is not counted.

    python -m ptx.benchmarks.studies.batch_steps [--onnx M] [--size 512] [--images 80]
"""

from __future__ import annotations

import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.studies.batch_scaling import photos
from ptx.io import atomic_write_bytes, encode_for, list_images, png_level, read_image
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.batch.pixels import encode_output
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL, image_convention, image_input

STEPS = ("to_model", "pixels_encode_before", "pixels_encode_after", "write", "sha256")
WARMUP = 4  # images whose times are dropped (first runs, cold allocator)


def _timed(times: dict[str, list[float]], step: str, fn: Callable, *args):
    start = time.thread_time()
    out = fn(*args)
    times[step].append((time.thread_time() - start) * 1e3)
    return out


def measure(model: str | Path, folder: Path, out: Path, images: int) -> dict:
    """Mean thread-CPU ms an image of each step over ``images`` runs (inputs cycled)."""
    engine = load(model, device="cpu", threads=1, backend="auto", **quiet_pool("auto"))
    conv, dtype, name = image_convention(engine), image_input(engine).dtype, engine.inputs[0].name
    inputs = [read_image(p) for p in list_images(folder)]
    level = png_level()
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    equal, suffix = True, list_images(folder)[0].suffix
    for i in range(images + 2 * WARMUP):
        img, dest = inputs[i % len(inputs)], out / f"o{i % 8}{suffix}"
        size = img.shape[:2]
        x = _timed(times, "to_model", conv.to_model, [img], dtype)
        y = next(iter(engine.run({name: x}).values()))

        def before(y=y, size=size, dest=dest) -> bytes:
            return encode_for(dest, conv.to_pixels(y[0:1], size=size)[0], level=level)

        # Alternate which way is timed; the other checks its bytes (after: on a copy,
        # as it works on the model's output in place).
        if i % 2:
            kept = y.copy()
            data = _timed(times, "pixels_encode_after", encode_output, y, 0, conv, size, dest,
                          level)  # fmt: skip
            equal &= data == before(kept)
        else:
            data = _timed(times, "pixels_encode_before", before)
            equal &= data == encode_output(y, 0, conv, size, dest, level)
        _timed(times, "write", atomic_write_bytes, dest, data, False, False)
        _timed(times, "sha256", lambda d=data: hashlib.sha256(d).hexdigest())
    engine.close()
    ms = {step: statistics.fmean(v[WARMUP:]) for step, v in times.items()}
    return {
        "study": "batch_steps",
        "model": str(model),
        "backend": type(engine).__name__,
        "images": images,
        "ms": ms,
        "saved_ms": ms["pixels_encode_before"] - ms["pixels_encode_after"],
        "bytes_equal": bool(equal),
    }


@click.command()
@click.option("--onnx", "onnx_path", help="Enhancer to run (default: the shipped one).")
@click.option("--size", type=int, default=512, show_default=True, help="Image side in pixels.")
@click.option("--images", type=int, default=80, show_default=True, help="Images timed.")
@click.option("--format", "fmt", type=click.Choice(("jpg", "png")), default="jpg",
              show_default=True, help="Photo format in and out.")  # fmt: skip
def main(onnx_path, size, images, fmt) -> None:
    """Thread-CPU ms an image of each batch-actor step, the output's way before and after."""
    model = onnx_path or str(SHIPPED_MODEL)
    with tempfile.TemporaryDirectory(prefix="ptx-batch-steps-") as tmp:
        folder = photos(Path(tmp) / "in", 8, size, fmt=fmt)
        (Path(tmp) / "out").mkdir()
        result = measure(model, folder, Path(tmp) / "out", images)
    click.echo(json.dumps(result, indent=1))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
