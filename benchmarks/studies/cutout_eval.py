"""A cut-out model's evaluation (issue 18): IoU and alpha error against known mattes, vs classics.

Two sets, both with an exactly known alpha:

* ``synthetic``: held-out matte renders (a seed training never draws; every
  other image with the camera degradations), as ``ptx.training.cutout.data.held_out``;
  also scored by backdrop: ``synthetic_plain`` (studio sweeps, plain paper),
  ``synthetic_light`` (textures, flat, graded, blobs) and ``synthetic_scene``
  (backdrops holding objects of their own).
* ``real``: real foregrounds with a known alpha composited onto real colour photos.
  Foregrounds: matplotlib's "Minduka present" product image (its own alpha: a
  rendered gift box, the only product picture with a real alpha a package ships) and
  scikit-image's horse silhouette (its anti-aliased outline as alpha) filled with a
  real photo (coffee, chelsea): real texture inside a real outline. Backgrounds:
  scikit-image's astronaut, chelsea, coffee, rocket, motorcycle and matplotlib's
  grace_hopper photos, plus plain white and light grey (the marketplace case). None of
  these images is ever training data; the alpha is the foreground's own (resized), so
  the composite's ground truth is exact.

Methods: the model through ptx.runtime (ONNX Runtime), OpenCV GrabCut (initialised
with the frame minus a 4% border, 5 iterations, binary alpha) and thresholding the
colour distance to the background detected on the image border (soft ramp).
Targets (synthetic IoU >= 0.95, MAE <= 0.03) are reported, not asserted.

    python -m ptx.benchmarks.studies.cutout_eval --model cutout.onnx
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.image import resize_bilinear
from ptx.io import atomic_write_bytes, atomic_write_text
from ptx.runtime.pipelines.cutout import cutout_alpha, flip_average, profile_sides, refines
from ptx.training.cutout.data import VAL_SEED_OFFSET, held_out
from ptx.training.cutout.metrics import alpha_iou, alpha_mae
from ptx.training.data.matte import render_matte_kind
from ptx.training.enhance.data import package_textures

TARGETS = {"iou": 0.95, "mae": 0.03}
SKIMAGE_BACKS = ("astronaut", "chelsea", "coffee", "rocket")
BACKGROUNDS = (*SKIMAGE_BACKS, "motorcycle", "grace_hopper", "white", "grey")
FOREGROUNDS = ("present", "horse_coffee", "horse_chelsea")
METHODS = ("model", "grabcut", "threshold")
PLAIN = ("white", "grey")
# Both sets split by backdrop: synthetic by the render's kind, real into plain and photo.
SYN_GROUPS = {
    "synthetic_plain": ("studio", "plain"),
    "synthetic_light": ("texture", "flat", "gradient", "blobs"),
    "synthetic_scene": ("scene",),
}
SETS = ("synthetic", *SYN_GROUPS, "real", "real_plain", "real_photo")
BORDER = 4  # px of frame the threshold baseline reads the background from
GRABCUT_MARGIN = 0.04
SHEET_REAL = ("present@rocket", "present@white", "horse_coffee@astronaut", "horse_chelsea@grey")


# -- the real composites ------------------------------------------------------------------
def _mpl_rgba(name: str) -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data(name) as f:
        return np.asarray(Image.open(f).convert("RGBA"))


def foreground(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A real foreground: (float32 HxWx3 RGB 0..255, float32 HxW alpha 0..1)."""
    import skimage.data

    if name == "present":
        rgba = _mpl_rgba("Minduka_Present_Blue_Pack.png")
    elif name.startswith("horse_"):
        from PIL import Image

        path = Path(skimage.data.__file__).parent / "horse.png"
        grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
        alpha = 1.0 - grey / 255.0  # a black horse on white, anti-aliased outline
        photo = getattr(skimage.data, name.split("_", 1)[1])()[..., :3]
        h, w = alpha.shape
        fill = resize_bilinear(photo, max(h, photo.shape[0]), max(w, photo.shape[1]))[:h, :w]
        return fill.astype(np.float32), alpha
    else:
        raise ValueError(f"unknown foreground {name!r}")
    return rgba[..., :3].astype(np.float32), rgba[..., 3].astype(np.float32) / 255.0


def backdrop(name: str, size: int) -> np.ndarray:
    """A size x size float32 RGB backdrop: a real photo (centre crop) or a plain colour."""
    import skimage.data

    if name == "white":
        return np.full((size, size, 3), 255.0, np.float32)
    if name == "grey":
        return np.full((size, size, 3), 226.0, np.float32)
    if name in SKIMAGE_BACKS:
        img = getattr(skimage.data, name)()[..., :3]
    elif name == "motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    elif name == "grace_hopper":
        img = _mpl_rgba("grace_hopper.jpg")[..., :3]
    else:
        raise ValueError(f"unknown background {name!r}")
    h, w = img.shape[:2]
    s = min(h, w)
    crop = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return resize_bilinear(crop, size, size).astype(np.float32)


def composite(fg: str, bg: str, size: int, fill: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """``fg`` scaled to ``fill`` of the frame, centred on ``bg``: (uint8 RGB, exact alpha)."""
    rgb, alpha = foreground(fg)
    h, w = alpha.shape
    k = fill * size / max(h, w)
    nh, nw = max(int(round(h * k)), 1), max(int(round(w * k)), 1)
    # Resize premultiplied colour with its alpha, so edges carry no fringe of the old backdrop.
    pre = resize_bilinear(rgb * alpha[..., None], nh, nw)
    a_small = np.clip(resize_bilinear(alpha, nh, nw), 0.0, 1.0)
    a = np.zeros((size, size), np.float32)
    col = np.zeros((size, size, 3), np.float32)
    y, x = (size - nh) // 2, (size - nw) // 2
    a[y : y + nh, x : x + nw] = a_small
    col[y : y + nh, x : x + nw] = pre
    out = backdrop(bg, size) * (1.0 - a[..., None]) + col
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), a


def real_set(size: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every foreground x background composite as (name, uint8 RGB, alpha)."""
    return [(f"{f}@{b}", *composite(f, b, size)) for f in FOREGROUNDS for b in BACKGROUNDS]


# -- the classical baselines ------------------------------------------------------------------
def grabcut_alpha(rgb: np.ndarray) -> np.ndarray:
    """OpenCV GrabCut from the frame minus a small border: a binary alpha."""
    import cv2

    h, w = rgb.shape[:2]
    mx, my = max(int(w * GRABCUT_MARGIN), 1), max(int(h * GRABCUT_MARGIN), 1)
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    cv2.setRNGSeed(0)  # its k-means draws from a per-thread RNG: else it depends on earlier calls
    cv2.grabCut(bgr, mask, (mx, my, w - 2 * mx, h - 2 * my), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    return np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)


def threshold_alpha(rgb: np.ndarray, lo: float = 12.0, hi: float = 40.0) -> np.ndarray:
    """Distance to the border's median colour, ramped from ``lo`` to ``hi`` (0..255 units)."""
    x = rgb.astype(np.float32)
    frame = np.concatenate(
        [x[:BORDER].reshape(-1, 3), x[-BORDER:].reshape(-1, 3),
         x[:, :BORDER].reshape(-1, 3), x[:, -BORDER:].reshape(-1, 3)]
    )  # fmt: skip
    dist = np.linalg.norm(x - np.median(frame, axis=0), axis=2)
    return np.clip((dist - lo) / (hi - lo), 0.0, 1.0)


def synthetic_kinds(seed: int, n: int, size: int) -> list[str]:
    """The backdrop kind of each held-out render (``held_out``'s images, rendered again)."""
    tex = package_textures()
    return [render_matte_kind(seed + VAL_SEED_OFFSET, i, size, tex)[2] for i in range(n)]


# -- scoring ------------------------------------------------------------------------------
def score_set(
    items: list[tuple[str, np.ndarray, np.ndarray]], methods: dict[str, Callable]
) -> list[dict[str, Any]]:
    """One row per image: IoU and MAE of each method's alpha against the known one."""
    rows = []
    for name, rgb, alpha in items:
        row: dict[str, Any] = {"image": name}
        for m, fn in methods.items():
            pred = fn(rgb)
            row[m] = {"iou": alpha_iou(pred, alpha), "mae": alpha_mae(pred, alpha)}
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean (and worst) IoU / MAE per method."""
    out: dict[str, Any] = {"images": len(rows)}
    for m in METHODS:
        if rows and m in rows[0]:
            iou = [r[m]["iou"] for r in rows]
            mae = [r[m]["mae"] for r in rows]
            out[m] = {
                "iou": float(np.mean(iou)),
                "mae": float(np.mean(mae)),
                "worst_iou": float(np.min(iou)),
                "worst_mae": float(np.max(mae)),
            }
    return out


def checkerboard(h: int, w: int, cell: int = 8) -> np.ndarray:
    """A light grey checkerboard (what image editors show behind transparency)."""
    yy, xx = np.mgrid[0:h, 0:w]
    board = ((yy // cell + xx // cell) % 2).astype(np.float32)
    return np.repeat((204.0 + 51.0 * board)[..., None], 3, axis=2)


def _grey(a: np.ndarray) -> np.ndarray:
    return np.repeat((np.clip(a, 0, 1) * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)


def sheet(items: list[tuple[str, np.ndarray, np.ndarray]], alpha_fn: Callable) -> np.ndarray:
    """Rows of input | known alpha | model alpha | model RGBA on a checkerboard | GrabCut."""
    rows = []
    for _, rgb, alpha in items:
        pred = alpha_fn(rgb)
        h, w = alpha.shape
        on = checkerboard(h, w) * (1 - pred[..., None]) + rgb.astype(np.float32) * pred[..., None]
        cells = [rgb, _grey(alpha), _grey(pred), np.clip(on + 0.5, 0, 255).astype(np.uint8)]
        cells.append(_grey(grabcut_alpha(rgb)))
        rows.append(np.concatenate(cells, axis=1))
    return np.concatenate(rows, axis=0)


def markdown(result: dict[str, Any]) -> str:
    """The summary table per set and method, then every real composite."""
    lines = [f"# Cut-out evaluation: {result['model']}", ""]
    side = result.get("work_side")
    mirror = ", averaged with the mirror image" if result.get("flip") else ""
    cut = "; its alpha refined by GrabCut" if result.get("refine") else ""
    lines += [f"Eval images {result['size']} px; the net runs at long side {side}{mirror}{cut}."]
    lines += [""]
    lines += [
        "| set | method | mean IoU | mean MAE | worst IoU | worst MAE |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETS:
        for m in METHODS:
            v = result["summary"][s].get(m)
            if v:
                lines.append(
                    f"| {s} ({result['summary'][s]['images']}) | {m} | {v['iou']:.4f} | "
                    f"{v['mae']:.4f} | {v['worst_iou']:.4f} | {v['worst_mae']:.4f} |"
                )
    lines += ["", "## Real composites (IoU / MAE)", "", "| image | " + " | ".join(METHODS) + " |"]
    lines.append("|---|" + "---|" * len(METHODS))
    for r in result["real"]:
        cells = " | ".join(f"{r[m]['iou']:.3f} / {r[m]['mae']:.3f}" for m in METHODS)
        lines.append(f"| {r['image']} | {cells} |")
    lines += ["", "```", json.dumps(result["met"], indent=2), "```"]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--model", "model_path", required=True, help="Cutout ONNX model (with its spec).")
@click.option("--synthetic", "n_syn", type=int, default=100, show_default=True)
@click.option("--size", type=int, default=256, show_default=True, help="Side of every eval image.")
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed held out from.")
@click.option("--threads", type=int, help="Intra-op threads (default: the runtime's).")
@click.option(
    "--work-side", type=int, help="Run the net at this long side (default: the model spec's)."
)
@click.option(
    "--flip/--no-flip",
    default=None,
    help="Average with the mirror image's alpha, or not (default: the model spec's).",
)
@click.option(
    "--refine/--no-refine",
    default=None,
    help="GrabCut refinement of the model's alpha, or not (default: the model spec's).",
)
@click.option("--out", help="Results folder (default: $PTX_RESULTS_DIR or ./bench-results).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(model_path, n_syn, size, seed, threads, work_side, flip, refine, out, as_json) -> None:
    """Score a cut-out model on held-out renders and real composites against GrabCut/threshold."""
    from PIL import Image

    engine = runtime.load(model_path, backend="onnxruntime", threads=threads)
    refine = refines(engine, refine)
    model = lambda rgb: cutout_alpha(engine, [rgb], work_side, flip, refine)[0]  # noqa: E731
    methods = {"model": model, "grabcut": grabcut_alpha, "threshold": threshold_alpha}
    syn = [(f"render_{i}", rgb, a) for i, (rgb, a) in enumerate(held_out(seed, n_syn, size))]
    real = real_set(size)
    result: dict[str, Any] = {"model": str(model_path), "size": size, "seed": seed}
    result["work_side"] = work_side or profile_sides(engine)[0]
    result["flip"] = flip_average(engine) if flip is None else flip
    result["refine"] = refine
    result["synthetic"] = score_set(syn, methods)
    for row, kind in zip(result["synthetic"], synthetic_kinds(seed, n_syn, size), strict=True):
        row["kind"] = kind
    result["real"] = score_set(real, methods)
    result["summary"] = {k: summarise(result[k]) for k in ("synthetic", "real")}
    plain = [r for r in result["real"] if r["image"].split("@")[1] in PLAIN]
    photo = [r for r in result["real"] if r["image"].split("@")[1] not in PLAIN]
    result["summary"].update(real_plain=summarise(plain), real_photo=summarise(photo))
    for group, kinds in SYN_GROUPS.items():
        rows = [r for r in result["synthetic"] if r["kind"] in kinds]
        result["summary"][group] = summarise(rows)
    s = result["summary"]["synthetic"]["model"]
    result["met"] = {
        "synthetic_iou": s["iou"] >= TARGETS["iou"],
        "synthetic_mae": s["mae"] <= TARGETS["mae"],
    }
    folder = results_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    text = markdown(result)
    atomic_write_text(folder / "cutout_eval.md", text)
    atomic_write_text(folder / "cutout_eval.json", json.dumps(result, indent=2))
    picks = syn[:4] + [r for r in real if r[0] in SHEET_REAL]
    buf = io.BytesIO()
    Image.fromarray(sheet(picks, model)).save(buf, format="PNG")
    atomic_write_bytes(folder / "cutout_eval_sheet.png", buf.getvalue())
    click.echo(json.dumps(result, indent=2) if as_json else text)
    click.echo(f"wrote {folder / 'cutout_eval.md'}, .json and cutout_eval_sheet.png", err=True)


if __name__ == "__main__":
    run_script(main)
