"""Train the "style" family (fast style transfer) for one style image on an image folder.

Loss per image: ``content_weight`` x content loss (one texture-net layer against
the content image's) + ``style_weight`` x Gram style loss (every layer against
the style image's Gram) + ``tv_weight`` x total variation, all measured on the
fixed, seeded random texture net (or a local VGG16). The style image is a file,
or ``ad``: a built-in, seeded, procedurally drawn poster texture (bold colour
bands and brush strokes). Loop conventions are train_enhance's.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.training.data.folders import fit_square
from ptx.training.enhance.data import load_images, split_files, to_nchw
from ptx.training.enhance.train import (
    ThreadTuner,
    deferred_interrupt,
    lr_at,
    schedule_position,
)

BUILTIN_STYLES = ("ad",)
# The model starts as the identity, where the content term is zero and its pull can hold the
# model there: at 10, half of the short (45 s) runs never left it (Gram cut 1 %); at 20, every
# run did (measured over 4 seeds' worth of thread timings each).
STYLE_WEIGHT = 20.0
AD_PALETTE = (
    (236, 28, 120),  # magenta
    (255, 200, 0),  # yellow
    (0, 170, 220),  # cyan
    (250, 90, 20),  # orange
    (30, 40, 120),  # navy
    (250, 245, 235),  # off-white
)


def ad_style(size: int = 256, seed: int = 0) -> np.ndarray:
    """The built-in "ad" style: diagonal colour bands under bold brush strokes (uint8 RGB)."""
    from PIL import Image, ImageDraw, ImageFilter

    if size < 16:
        raise InputError(f"style image size must be at least 16 px, got {size}")
    rng = np.random.default_rng(seed)
    pal = np.array(AD_PALETTE, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    band = ((xx + yy) / (size / 5.0) + rng.uniform(0, 6)).astype(np.int64) % len(pal)
    img = Image.fromarray(pal[band].astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(size * 0.35)):
        colour = tuple(int(v) for v in pal[rng.integers(len(pal))])
        x, y = rng.uniform(0, size, 2)
        angle = rng.uniform(0, np.pi)
        pts = []
        for _ in range(4):  # a bent stroke: a few segments with a drifting angle
            pts.append((float(x), float(y)))
            angle += rng.normal(0, 0.35)
            step = rng.uniform(0.04, 0.12) * size
            x, y = x + step * np.cos(angle), y + step * np.sin(angle)
        pts.append((float(x), float(y)))
        draw.line(pts, fill=colour, width=max(2, int(rng.uniform(0.015, 0.05) * size)))
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    grain = rng.normal(0, 6, (size, size, 1))  # paper grain: texture at the finest scale
    return np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8)


def load_style(style: str | Path, side: int, seed: int = 0) -> np.ndarray:
    """The style image (a file, or a built-in name) scaled so its shorter side is ``side``."""
    from PIL import Image

    from ptx.io import read_image

    if str(style) in BUILTIN_STYLES:
        return ad_style(side, seed)
    path = Path(style)
    if not path.is_file():
        raise InputError(
            f"--style {style}: no such image file (give a picture, or a built-in: "
            f"{', '.join(BUILTIN_STYLES)})"
        )
    rgb = read_image(path)
    h, w = rgb.shape[:2]
    s = side / min(h, w)
    size = (max(side, round(w * s)), max(side, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def square_images(files: list[Path], size: int) -> list[np.ndarray]:
    """Readable images among ``files``, resized and centre-cropped to size x size."""
    return [fit_square(im, size) for im in load_images(files, size, False, "val")]


def make_batch(
    images: list[np.ndarray], batch: int, patch: int, seed: int, step: int
) -> np.ndarray:
    """A float32 NCHW batch of random ``patch`` crops with flips for ``step``."""
    rng = np.random.default_rng([seed, step])
    crops = []
    for i in rng.integers(0, len(images), size=batch):
        img = images[i]
        h, w = img.shape[:2]
        y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
        c = img[y : y + patch, x : x + patch]
        crops.append(c[:, ::-1] if rng.random() < 0.5 else c)
    return to_nchw(np.stack(crops))


# -- scoring ------------------------------------------------------------------------------
def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luminance of uint8 RGB, as uint8 (for structure-only comparisons)."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def style_scores(
    net: Any, targets: list[Any], contents: list[np.ndarray], stylized: list[np.ndarray]
) -> dict[str, float]:
    """Gram loss of content and stylized images, its reduction, and content preservation.

    ``gram_reduction`` = 1 - gram(stylized) / gram(content): 0.5 means the stylized
    images are half as far from the style's statistics as the photos were.
    ``content_loss`` is the texture net's content-layer relative error and
    ``luma_ssim`` the SSIM of the luminance (structure kept, colours may change).
    """
    import torch

    from ptx.training.common.metrics import ssim
    from ptx.training.style.texture_net import content_loss, style_loss

    if not contents:
        raise InputError("no images to score")
    g_in, g_out, c_loss, l_ssim = [], [], [], []
    with torch.no_grad():
        for a, b in zip(contents, stylized, strict=True):
            fa = net(torch.from_numpy(to_nchw(a[None])))
            fb = net(torch.from_numpy(to_nchw(b[None])))
            g_in.append(float(style_loss(fa, targets)[0]))
            g_out.append(float(style_loss(fb, targets)[0]))
            c_loss.append(float(content_loss(fb, fa, net.content_layer)[0]))
            l_ssim.append(ssim(luma(b)[..., None], luma(a)[..., None]))
    gin, gout = float(np.mean(g_in)), float(np.mean(g_out))
    return {
        "gram_loss_content": gin,
        "gram_loss_stylized": gout,
        "gram_reduction": 1.0 - gout / gin if gin > 0 else 0.0,
        "content_loss": float(np.mean(c_loss)),
        "luma_ssim": float(np.mean(l_ssim)),
        "images": float(len(contents)),
    }


def stylize_torch(model: Any, images: list[np.ndarray]) -> list[np.ndarray]:
    """Run the PyTorch model on uint8 images one at a time (any sizes)."""
    import torch

    out = []
    with torch.no_grad():
        for img in images:
            y = model(torch.from_numpy(to_nchw(img[None])))[0]
            out.append(y.clamp(0, 1).mul(255).add(0.5).to(torch.uint8).permute(1, 2, 0).numpy())
    return out


# -- the loop -----------------------------------------------------------------------------
def _start(out: Path, resume: bool, config: dict | None) -> tuple[Any, Any, dict | None]:
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import load_checkpoint, load_state

    if not resume:
        fam = registry.get("style")
        cfg = fam.config(**(config or {}))
        return fam.build(cfg), fam.make_spec(cfg), None
    if not (out / "spec.json").is_file():
        raise InputError(f"{out}: nothing to resume (no spec.json); drop --resume to start")
    model, spec = load_checkpoint(out, family="style")
    state = load_state(out)
    if state is None:
        raise InputError(f"{out}: checkpoint has no resume state (state.pt); drop --resume")
    return model, spec, state


def train_style(
    data: Path,
    style_image: str | Path,
    out: Path,
    steps: int,
    batch: int = 4,
    patch: int = 64,
    lr: float = 2e-3,
    style_weight: float = STYLE_WEIGHT,
    content_weight: float = 1.0,
    tv_weight: float = 0.5,
    style_side: int = 256,
    texture_seed: int = 0,
    vgg_weights: Path | None = None,
    seed: int = 0,
    resume: bool = False,
    val_fraction: float = 0.05,
    progress: bool = True,
    config: dict | None = None,
    time_budget_s: float | None = None,
    checkpoint_every: int = 200,
    max_val: int = 16,
    threads: int | None = None,
) -> dict[str, float]:
    """Train (or resume) a style model into checkpoint folder ``out``; returns final metrics."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    from ptx.training.style import texture_net as tn

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or patch < 16 or style_side < 16:
        raise InputError(
            f"need steps >= 0, batch >= 1, patch >= 16, style side >= 16; "
            f"got {steps}, {batch}, {patch}, {style_side}"
        )
    torch.manual_seed(seed)
    model, spec, state = _start(out, resume, config)
    if state is not None:  # the loss must stay the one the run started with
        texture_seed = int(spec.config.get("texture_seed", texture_seed))
        style_side = int(spec.config.get("style_side", style_side))
    net = tn.texture_net(texture_seed, vgg_weights)
    style = load_style(style_image, style_side)
    targets = tn.style_targets(net, torch.from_numpy(to_nchw(style[None])))
    spec.config.update(
        texture_seed=texture_seed,
        texture="vgg16" if vgg_weights else "random",
        style_side=style_side,
        style=str(style_image),
    )
    train_files, val_files = split_files(data, val_fraction, seed)
    train_imgs = load_images(train_files, patch, progress, "train")
    if not train_imgs:
        raise InputError(f"{data}: no readable training images")
    val_imgs = [
        fit_square(im, patch) for im in load_images(val_files[:max_val], patch, False, "val")
    ]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
    model.train()
    tuner = ThreadTuner.for_training(threads)
    tb = SummaryWriter(str(out / "tb"))
    t0 = time.perf_counter()
    start_step, ema = step, {"loss": math.nan, "style": math.nan, "content": math.nan}
    bar = tqdm(total=steps, initial=step, desc="train style", disable=not progress)
    try:
        while step < steps:
            elapsed = time.perf_counter() - t0
            if time_budget_s is not None and elapsed >= time_budget_s:
                break
            frac = schedule_position(step, steps, elapsed, time_budget_s)
            cur_lr = lr_at(frac, lr)
            for g in opt.param_groups:
                g["lr"] = cur_lr
            n_threads = tuner.threads_for(step)
            torch.set_num_threads(n_threads)
            t_step = time.perf_counter()
            x = torch.from_numpy(make_batch(train_imgs, batch, patch, seed, step))
            y = model(x)
            fy = net(y)
            with torch.no_grad():
                fx = net(x)
            s_loss = tn.style_loss(fy, targets).mean()
            c_loss = tn.content_loss(fy, fx, net.content_layer).mean()
            loss = style_weight * s_loss + content_weight * c_loss
            loss = loss + tv_weight * tn.total_variation(y).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tuner.record(step, n_threads, time.perf_counter() - t_step)
            step += 1
            for key, v in (("loss", loss), ("style", s_loss), ("content", c_loss)):
                v = float(v.detach())
                ema[key] = v if math.isnan(ema[key]) else 0.9 * ema[key] + 0.1 * v
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(style=f"{ema['style']:.3f}", content=f"{ema['content']:.3f}")
                for key, v in ema.items():
                    tb.add_scalar(f"train/{key}", v, step)
                tb.add_scalar("train/lr", cur_lr, step)
            if step % checkpoint_every == 0 and step < steps:
                _checkpoint(out, model, spec, opt, step, seed, tb, net, targets, val_imgs)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    metrics = {
        "steps": float(step),
        "train_style_loss": float(ema["style"]),
        "train_content_loss": float(ema["content"]),
        "train_seconds": float(seconds),
        "steps_per_second": float((step - start_step) / max(seconds, 1e-9)),
    }
    metrics = {k: v for k, v in metrics.items() if not math.isnan(v)}  # no step ran: no EMA
    _checkpoint(out, model, spec, opt, step, seed, tb, net, targets, val_imgs, metrics)
    tb.close()
    return spec.metrics


def _checkpoint(
    out: Path,
    model: Any,
    spec: Any,
    opt: Any,
    step: int,
    seed: int,
    tb: Any,
    net: Any,
    targets: list[Any],
    val: list[np.ndarray],
    extra: dict[str, float] | None = None,
) -> None:
    """Score held-out images, log them, and save atomically with Ctrl-C held off."""
    from ptx.training.common.checkpoint import save_checkpoint

    model.eval()
    scores: dict[str, float] = {}
    if val:
        stylized = stylize_torch(model, val)
        scores = {f"val_{k}": v for k, v in style_scores(net, targets, val, stylized).items()}
        for key in ("gram_reduction", "content_loss", "luma_ssim"):
            tb.add_scalar(f"val/{key}", scores[f"val_{key}"], step)
        pair = np.concatenate([np.stack(val[:4]), np.stack(stylized[:4])], axis=1)
        tb.add_images("val/content_over_stylized", pair, step, dataformats="NHWC")
    tb.flush()
    model.train()
    spec.metrics = {**scores, **(extra or {})}
    state = {"optimizer": opt.state_dict(), "step": step, "seed": seed}
    with deferred_interrupt():
        save_checkpoint(out, model, spec, state)


def evaluate_style(
    model: str | Path,
    style_image: str | Path,
    data: str | Path,
    max_images: int = 16,
    size: int = 128,
    seed: int = 0,
    val_fraction: float = 0.05,
    texture_seed: int | None = None,
    vgg_weights: Path | None = None,
) -> dict[str, float]:
    """Gram-loss reduction and content preservation of an exported style model (ptx.runtime).

    The texture net and the style image's scale are the ones recorded at training
    (the ONNX spec's config) unless given.
    """
    import torch

    from ptx.runtime import load
    from ptx.runtime.pipelines.stylize import stylize_arrays
    from ptx.training.style import texture_net as tn

    if max_images < 1 or size < 16:
        raise InputError(f"need --max-images >= 1 and --size >= 16, got {max_images}, {size}")
    engine = load(model, backend="onnxruntime")
    cfg = engine.spec.config if engine.spec is not None else {}
    if texture_seed is None:
        texture_seed = int(cfg.get("texture_seed", 0))
    side = int(cfg.get("style_side", 256))
    _, val_files = split_files(Path(data), val_fraction, seed)
    if not val_files:
        raise InputError(f"{data}: no held-out images (needs 2+ images or a split column)")
    contents = [
        fit_square(im, size) for im in load_images(val_files[:max_images], size, False, "val")
    ]
    if not contents:
        raise InputError(f"{data}: no readable held-out images")
    net = tn.texture_net(texture_seed, vgg_weights)
    style = load_style(style_image, side)
    targets = tn.style_targets(net, torch.from_numpy(to_nchw(style[None])))
    scores = style_scores(net, targets, contents, stylize_arrays(engine, contents))
    scores.update(texture_seed=float(texture_seed), size=float(size))
    return scores
