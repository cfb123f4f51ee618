"""Train the "enhance" family on an image folder, degrading clean crops on the fly.

One run = load the folder, split train / held-out (labels.csv's ``split``
column when present), then AdamW with warm-up + cosine decay over the step or
time budget, whichever ends first (the common TrainLoop). Checkpoints are
atomic and Ctrl-C-safe; the held-out PSNR/SSIM (model and degraded input) go
into the checkpoint's spec. Pixels become tensors and back through the spec's
image convention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.spec import ImageConvention, ModelSpec
from ptx.training.common.checkpoint import (
    save_checkpoint,
    start_or_resume,
)
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.metrics import psnr, ssim
from ptx.training.common.schedule import lr_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.data.degrade import DegradeConfig
from ptx.training.data.files import load_images, split_files
from ptx.training.enhance.data import Prefetcher, held_out_pairs, make_batch, package_textures

FAMILY = "enhance"
GLOBAL_LOSS_WEIGHT = 0.5  # direct supervision of the tone-curve branch speeds it up
GLOBAL_LOSS_BLOCK = 4  # ... on block means, where noise averages out (see _train_step)
MSE_WEIGHT = 10.0  # PSNR is MSE: where the global shift is ambiguous, hedge toward the mean
CLEAN_WEIGHT = 4.0  # clean -> clean pairs count this much more: "do no harm" comes first
NEED_DB = 30.0  # block-mean PSNR below which a pair "needs a tone correction" (the gate's label)
NEED_BLOCK = 8  # ... on 8x8 block means, where noise and JPEG blocks average out
GATE_LOSS_WEIGHT = 0.1  # the classifier's BCE next to the pixel losses
CURVE_IDLE_WEIGHT = 0.1  # the full curve is trained on pairs that need it; a little on the rest
# Extra pairs per step for the tone curve and its gate only: their forward pass is a thumbnail
# and an MLP, so on a CPU budget they see several times more photos for little extra time.
GLOBAL_EXTRA = 32
GLOBAL_PATCH = 32  # ... at half the side: a quarter of the pixels to render, degrade and curve


# -- evaluation ------------------------------------------------------------------------
def evaluate_pairs(
    model: Any, pairs: list[tuple[np.ndarray, np.ndarray]], conv: ImageConvention
) -> dict[str, float]:
    """Mean PSNR/SSIM of the model's output and of the degraded input on (degraded, clean)."""
    import torch

    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_in": [], "ssim_in": []}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for noisy, clean in pairs:
            y = model(torch.from_numpy(conv.to_model(noisy[None])))
            out = conv.to_pixels(y.numpy(), size=noisy.shape[:2])[0]
            scores["psnr"].append(psnr(out, clean))
            scores["ssim"].append(ssim(out, clean))
            scores["psnr_in"].append(psnr(noisy, clean))
            scores["ssim_in"].append(ssim(noisy, clean))
    model.train(was_training)
    return {
        "val_psnr": float(np.mean(scores["psnr"])),
        "val_ssim": float(np.mean(scores["ssim"])),
        "val_psnr_degraded": float(np.mean(scores["psnr_in"])),
        "val_ssim_degraded": float(np.mean(scores["ssim_in"])),
    }


def _log_grid(tb: Any, model: Any, pairs: list, step: int, conv: ImageConvention) -> None:
    """A TensorBoard image grid: rows of degraded | output | clean (n = 4)."""
    import torch

    side = min(min(p[1].shape[:2]) for p in pairs[:4])
    rows = []
    with torch.no_grad():
        for noisy, clean in pairs[:4]:
            x = noisy[:side, :side]
            y = conv.to_pixels(model(torch.from_numpy(conv.to_model(x[None]))).numpy())[0]
            rows.append(np.concatenate([x, y, clean[:side, :side]], axis=1))
    tb.add_image("val/degraded|output|clean", np.concatenate(rows, axis=0), step, dataformats="HWC")


# -- the run ---------------------------------------------------------------------------
def train_enhance(
    data: Path,
    out: Path,
    steps: int,
    batch: int = 16,
    patch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    resume: bool = False,
    val_fraction: float = 0.05,
    progress: bool = True,
    config: dict | None = None,
    time_budget_s: float | None = None,
    checkpoint_every: int = 250,
    max_val: int = 64,
    threads: int | None = None,
    textures: bool = True,
) -> dict[str, float]:
    """Train (or resume) an enhance model into checkpoint folder ``out``; returns final metrics.

    ``textures`` mixes scikit-image's grey textures (brick, grass, gravel; never its
    colour photos, which are evaluation data) into the crops, when it is installed.

    ``threads`` fixes torch's thread count; None times all cores against half of
    them and keeps the faster (see ThreadTuner).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or patch < 16:
        raise InputError(f"need steps >= 0, batch >= 1, patch >= 16; got {steps}, {batch}, {patch}")
    torch.manual_seed(seed)
    model, spec, state = start_or_resume(out, FAMILY, resume, config)
    conv = spec.image
    model.train()
    dcfg = DegradeConfig()
    train_files, val_files = split_files(data, val_fraction, seed)
    train_imgs = load_images(train_files, patch, progress, "train")
    if not train_imgs:
        raise InputError(f"{data}: no readable training images")
    val_pairs = held_out_pairs(load_images(val_files[:max_val], 32, progress, "val"), dcfg)

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    step, start_frac = 0, 0.0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
        start_frac = float(state.get("schedule", 0.0))
        torch.set_rng_state(state["torch_rng"])
    tb = SummaryWriter(str(out / "tb"))
    tex = package_textures() if textures else []

    def batches(k: int) -> tuple:
        pair = make_batch(train_imgs, batch, patch, seed, k, dcfg, conv, tex)
        extra = make_batch(
            train_imgs, GLOBAL_EXTRA, GLOBAL_PATCH, seed, k, dcfg, conv, tex, stream=1
        )
        return pair, extra

    feed = Prefetcher(batches, step)

    def step_fn(at: LoopState) -> dict[str, float]:
        pair, extra = feed.get(at.step)
        return {"loss": _train_step(model, opt, pair, extra)}

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        snapshot = {
            "optimizer": opt.state_dict(),
            "step": at.step,
            "seed": seed,
            "schedule": at.progress,
            "torch_rng": torch.get_rng_state(),
        }
        pairs = val_pairs if metrics is not None else val_pairs[:16]
        _checkpoint(model, spec, snapshot, out, tb, pairs, metrics)

    def summarise(at: LoopState) -> dict[str, float]:
        metrics = evaluate_pairs(model, val_pairs, conv) if val_pairs else {}
        metrics.update(
            steps=float(at.step),
            train_loss=float(at.averages.get("loss", float("nan"))),
            train_seconds=float(at.seconds),
            steps_per_second=float(at.steps_per_second),
            held_out_images=float(len(val_pairs)),
        )
        spec.metrics = metrics
        return metrics

    loop = TrainLoop(
        steps,
        label="train enhance",
        time_budget_s=time_budget_s,
        start=step,
        schedule_start=start_frac,
        lr=lambda frac: lr_at(frac, lr),
        optimizers=[opt],
        tuner=ThreadTuner.for_training(threads),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        summarise=summarise,
        progress=progress,
        tb=tb,
        postfix=lambda at: {
            "loss": f"{at.averages['loss']:.4f}",
            "lr": f"{at.lr:.2g}",
            "threads": at.threads,
        },
    )
    try:
        result = loop.run(step_fn)
    finally:
        feed.close()
    tb.close()
    return result.metrics


def _train_step(
    model: Any,
    opt: Any,
    pair: tuple[np.ndarray, np.ndarray],
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """One AdamW step: the output, the full tone curve, and the "needs it" classifier.

    The output's L1 + MSE weighs clean -> clean pairs CLEAN_WEIGHT times. The full
    curve (before the classifier's gate) is scored on 4x4 block means, mostly on the
    pairs that need a tone correction (the gate keeps it off the others): it cannot
    remove noise, and scored per pixel on a noisy input its best curve is a flatter
    one (shrinking toward the mean), which then flattens every noisy photo. The
    classifier learns, with its own BCE, which pairs need a tone correction at all
    (see need_labels); the curve is applied only where it is sure. ``extra`` pairs
    train the curve and the gate alone (see GLOBAL_EXTRA).
    """
    import torch

    noisy, clean = (torch.from_numpy(a) for a in pair)
    curve, pred, logit = model.forward_parts(noisy)
    same = (noisy == clean).flatten(1).all(dim=1)
    weights = 1.0 + (CLEAN_WEIGHT - 1.0) * same.float()
    loss = _loss(pred, clean, weights) + _global_loss(noisy, clean, curve, logit)
    if extra is not None:
        noisy_g, clean_g = (torch.from_numpy(a) for a in extra)
        curve_g, _, logit_g = model.globe.parts(noisy_g)
        loss = loss + _global_loss(noisy_g, clean_g, curve_g, logit_g)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def _global_loss(noisy: Any, clean: Any, curve: Any, logit: Any) -> Any:
    """The full curve's block-mean loss (mostly where needed) plus the gate's BCE."""
    import torch.nn.functional as F

    need = need_labels(noisy, clean)
    gate = F.binary_cross_entropy_with_logits(logit[:, 0], need)
    curve_loss = tone_loss(curve, clean, need + CURVE_IDLE_WEIGHT)
    return GLOBAL_LOSS_WEIGHT * curve_loss + GATE_LOSS_WEIGHT * gate


def need_labels(noisy: Any, clean: Any) -> Any:
    """1.0 where the pair's NEED_BLOCK block means differ by more than NEED_DB allows, else 0.0.

    Block means ignore noise and JPEG blocks (the local branch's work): the label asks
    only whether tones or colours are off by enough to be worth correcting. Tensors
    are in the enhance spec's 0..1 range.
    """
    import torch
    import torch.nn.functional as F

    err = F.avg_pool2d(noisy - clean, NEED_BLOCK).pow(2).flatten(1).mean(dim=1)
    return (err > 10.0 ** (-NEED_DB / 10.0)).to(torch.float32)


def tone_loss(glob: Any, clean: Any, weights: Any = None) -> Any:
    """The tone-curve branch's loss: L1 + MSE of GLOBAL_LOSS_BLOCK-pixel block means."""
    import torch.nn.functional as F

    b = GLOBAL_LOSS_BLOCK
    return _loss(F.avg_pool2d(glob, b), F.avg_pool2d(clean, b), weights)


def _loss(pred: Any, clean: Any, weights: Any = None) -> Any:
    """L1 + MSE_WEIGHT * MSE, per-sample ``weights`` (N,) when given (a weighted mean)."""
    err = pred - clean
    per = err.abs().flatten(1).mean(dim=1) + MSE_WEIGHT * err.pow(2).flatten(1).mean(dim=1)
    if weights is None:
        return per.mean()
    return (per * weights).sum() / weights.sum()


def _checkpoint(
    model: Any,
    spec: ModelSpec,
    state: dict[str, Any],
    out: Path,
    tb: Any,
    pairs: list,
    metrics: dict[str, float] | None = None,
) -> None:
    """Log held-out scores and images, then save atomically (the loop holds Ctrl-C off)."""
    step = state["step"]
    if pairs:
        scores = metrics or evaluate_pairs(model, pairs, spec.image)
        for k in ("val_psnr", "val_ssim", "val_psnr_degraded", "val_ssim_degraded"):
            tb.add_scalar(f"val/{k[4:]}", scores[k], step)
        _log_grid(tb, model.eval(), pairs, step, spec.image)
        model.train()
    tb.flush()
    save_checkpoint(out, model, spec, state)
