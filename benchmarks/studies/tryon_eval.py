"""A try-on model's evaluation (issue 18): held-out rendered garments, scored against the truth.

The held-out samples come from the renderer's evaluation stream (garments,
fabrics, colours and mannequins no training run draws). Each is scored for the
model (through ptx.runtime, ONNX Runtime: the exported graph, not torch), for
the classical baseline ``paste`` (threshold the flat garment off its background
and lay it over the mannequin) and for the bare mannequin (doing nothing):
PSNR and SSIM against the renderer's ground truth, and the mean CIEDE2000 of
the garment region (is it the garment's colour). Means are given overall, per
garment kind and per fabric pattern. Optionally writes a try-on sheet (rows of
garment | mannequin | output | truth) and the held-out pictures as files for
`ptx run tryon`. Figures are reported, not asserted.

    python -m ptx.benchmarks.studies.tryon_eval --model tryon.onnx --sheet sheet.png
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.errors import InputError
from ptx.image import grid
from ptx.io import atomic_write_text, write_image
from ptx.runtime.pipelines.tryon import tryon_arrays, tryon_plan
from ptx.training.tryon.data import Sample, eval_sample
from ptx.training.tryon.evaluate import paste, scores, sheet_rows
from ptx.training.tryon.patterns import load_textures

METHODS = ("model", "paste", "bare")
DEFAULT_N = 96
Dresser = Callable[[list[np.ndarray], list[np.ndarray]], list[np.ndarray]]


def held_out(n: int, side: int) -> list[Sample]:
    """``n`` held-out samples (the renderer's evaluation stream) at ``side``."""
    if n < 1 or side < 16:
        raise InputError(f"need at least 1 sample and a side of at least 16, got {n}, {side}")
    textures = load_textures()
    return [eval_sample(i, side, textures) for i in range(n)]


def evaluate(samples: Sequence[Sample], dress: Dresser) -> dict[str, Any]:
    """Scores of every method overall, per garment kind and per pattern; the model's outputs."""
    truths, masks = [s.truth for s in samples], [s.mask for s in samples]
    outputs = {
        "model": dress([s.garment for s in samples], [s.mannequin for s in samples]),
        "paste": [paste(s.garment, s.mannequin) for s in samples],
        "bare": [s.mannequin for s in samples],
    }

    def table(idx: list[int]) -> dict[str, dict[str, float]]:
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return {m: scores(pick(outputs[m]), pick(truths), pick(masks)) for m in METHODS}

    result: dict[str, Any] = {"n": len(samples), "overall": table(list(range(len(samples))))}
    for key in ("kind", "pattern"):
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            groups.setdefault(getattr(s, key), []).append(i)
        result[f"by_{key}"] = {
            name: {"n": len(idx), **table(idx)} for name, idx in sorted(groups.items())
        }
    return {"result": result, "outputs": outputs["model"]}


def _cell(s: dict[str, float]) -> str:
    return f"{s['psnr']:.2f} / {s['ssim']:.3f} / {s['garment_de2000']:.2f}"


def markdown(result: dict[str, Any], label: str) -> str:
    """The tables as Markdown: PSNR dB / SSIM / garment ΔE00 per method."""
    head = "| {} | n | " + " | ".join(f"{m} PSNR / SSIM / ΔE00" for m in METHODS) + " |"
    rule = "|---|---|" + "---|" * len(METHODS)
    lines = [f"# Try-on evaluation: {label}", "", f"{result['n']} held-out rendered samples.", ""]
    lines += [head.format(""), rule]
    lines.append(
        f"| overall | {result['n']} | "
        + " | ".join(_cell(result["overall"][m]) for m in METHODS)
        + " |"
    )
    for key in ("kind", "pattern"):
        lines += ["", f"## By garment {key}", "", head.format(key), rule]
        for name, row in result[f"by_{key}"].items():
            cells = " | ".join(_cell(row[m]) for m in METHODS)
            lines.append(f"| {name} | {row['n']} | {cells} |")
    return "\n".join(lines) + "\n"


def write_sheet(
    path: str | Path, samples: Sequence[Sample], outputs: Sequence[np.ndarray], scale: int = 1
) -> None:
    """A try-on sheet: one row per sample, garment | mannequin | output | truth.

    ``scale`` enlarges every tile by pixel repetition (small pictures stay legible, unblurred).
    """
    if scale < 1:
        raise InputError(f"--sheet-scale must be at least 1, got {scale}")
    rows = sheet_rows(
        [s.garment for s in samples],
        [s.mannequin for s in samples],
        list(outputs),
        [s.truth for s in samples],
    )
    rows = [np.repeat(np.repeat(t, scale, axis=0), scale, axis=1) for t in rows]
    write_image(path, grid(rows, ncol=4))


def write_samples(folder: str | Path, samples: Sequence[Sample]) -> None:
    """The held-out pictures as files: garments/gNNN.png and mannequins/mNNN.png."""
    folder = Path(folder)
    for i, s in enumerate(samples):
        write_image(folder / "garments" / f"g{i:03d}.png", s.garment)
        write_image(folder / "mannequins" / f"m{i:03d}.png", s.mannequin)


def model_dresser(path: str | Path, threads: int | None = None) -> tuple[Dresser, int]:
    """(a batch try-on through ptx.runtime on ONNX Runtime, the model's picture side)."""
    engine = runtime.load(path, backend="onnxruntime", threads=threads)
    side = tryon_plan(engine).side
    return (lambda g, m: tryon_arrays(engine, g, m)), side


@click.command()
@click.option("--model", "model_path", required=True, help="Try-on ONNX model (with its spec).")
@click.option("--n", "n", type=int, default=DEFAULT_N, show_default=True, help="Held-out samples.")
@click.option("--sheet", type=click.Path(), help="Write a try-on sheet PNG here.")
@click.option("--sheet-rows", type=int, default=8, show_default=True)
@click.option("--sheet-scale", type=int, default=3, show_default=True, help="Tile enlargement.")
@click.option("--samples", "samples_dir", type=click.Path(), help="Write the held-out pictures.")
@click.option("--threads", type=int, help="Intra-op threads (default: the runtime's).")
@click.option("--out", help="Results folder (default: $PTX_RESULTS_DIR or ./bench-results).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(model_path, n, sheet, sheet_rows, sheet_scale, samples_dir, threads, out, as_json) -> None:
    """Score a try-on model on held-out rendered garments against the paste baseline."""
    dress, side = model_dresser(model_path, threads)
    samples = held_out(n, side)
    done = evaluate(samples, dress)
    result = {**done["result"], "model": str(model_path), "side": side}
    text = markdown(result, Path(model_path).name)
    folder = results_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "tryon_eval.md", text)
    atomic_write_text(folder / "tryon_eval.json", json.dumps(result, indent=2))
    if sheet:
        k = max(1, min(sheet_rows, n))
        write_sheet(sheet, samples[:k], done["outputs"][:k], sheet_scale)
    if samples_dir:
        write_samples(samples_dir, samples)
    click.echo(json.dumps(result, indent=2) if as_json else text)
    click.echo(f"wrote {folder / 'tryon_eval.md'} and .json", err=True)


if __name__ == "__main__":
    run_script(main)
