"""Train the "style" family (fast style transfer) for one style image on an image folder.

Loss per image: ``content_weight`` x content loss (one texture-net layer against
the content image's) + ``style_weight`` x Gram style loss (every layer against
the style image's Gram) + ``tv_weight`` x total variation, all measured on the
fixed, seeded random texture net (or a local VGG16). The style image is a file
or a built-in (see ``style.data``). The common TrainLoop runs it; pixels become
tensors and back through the spec's image convention.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ptx.errors import InputError
from ptx.spec import ModelSpec
from ptx.training.common.checkpoint import (
    save_checkpoint,
    start_or_resume,
)
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import lr_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.data.files import load_images, split_files
from ptx.training.style import texture_net as tn
from ptx.training.style.data import load_style, make_batch, square_images
from ptx.training.style.evaluate import style_scores, style_targets, stylize_torch

FAMILY = "style"
# The model starts as the identity, where the content term is zero and its pull can hold the
# model there: at 10, half of the short (45 s) runs never left it (Gram cut 1 %); at 20, every
# run did (measured over 4 seeds' worth of thread timings each).
STYLE_WEIGHT = 20.0


def _checkpoint(
    out: Path,
    model: Any,
    spec: ModelSpec,
    state: dict[str, Any],
    tb: Any,
    net: Any,
    targets: list[Any],
    val: list[np.ndarray],
    extra: dict[str, float] | None = None,
) -> None:
    """Score held-out images, log them, and save atomically (the loop holds Ctrl-C off)."""
    step = state["step"]
    model.eval()
    scores: dict[str, float] = {}
    if val:
        stylized = stylize_torch(model, val, spec.image)
        scores = style_scores(net, targets, val, stylized, spec.image)
        scores = {f"val_{k}": v for k, v in scores.items()}
        for key in ("gram_reduction", "content_loss", "luma_ssim"):
            tb.add_scalar(f"val/{key}", scores[f"val_{key}"], step)
        pair = np.concatenate([np.stack(val[:4]), np.stack(stylized[:4])], axis=1)
        tb.add_images("val/content_over_stylized", pair, step, dataformats="NHWC")
    tb.flush()
    model.train()
    spec.metrics = {**scores, **(extra or {})}
    save_checkpoint(out, model, spec, state)


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
    from torch.utils.tensorboard import SummaryWriter

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or patch < 16 or style_side < 16:
        raise InputError(
            f"need steps >= 0, batch >= 1, patch >= 16, style side >= 16; "
            f"got {steps}, {batch}, {patch}, {style_side}"
        )
    torch.manual_seed(seed)
    model, spec, state = start_or_resume(out, FAMILY, resume, config)
    conv = spec.image
    if state is not None:  # the loss must stay the one the run started with
        texture_seed = int(spec.config.get("texture_seed", texture_seed))
        style_side = int(spec.config.get("style_side", style_side))
    net = tn.texture_net(texture_seed, vgg_weights)
    targets = style_targets(net, load_style(style_image, style_side), conv)
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
    val_imgs = square_images(val_files[:max_val], patch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
    model.train()
    tb = SummaryWriter(str(out / "tb"))

    def step_fn(at: LoopState) -> dict[str, float]:
        x = torch.from_numpy(make_batch(train_imgs, batch, patch, seed, at.step, conv))
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
        losses = {"loss": loss, "style": s_loss, "content": c_loss}
        return {k: float(v.detach()) for k, v in losses.items()}

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        snapshot = {"optimizer": opt.state_dict(), "step": at.step, "seed": seed}
        _checkpoint(out, model, spec, snapshot, tb, net, targets, val_imgs, metrics)

    def summarise(at: LoopState) -> dict[str, float]:
        metrics = {
            "steps": float(at.step),
            "train_style_loss": float(at.averages.get("style", math.nan)),
            "train_content_loss": float(at.averages.get("content", math.nan)),
            "train_seconds": float(at.seconds),
            "steps_per_second": float(at.steps_per_second),
        }
        return {k: v for k, v in metrics.items() if not math.isnan(v)}  # no step ran: no EMA

    TrainLoop(
        steps,
        label="train style",
        time_budget_s=time_budget_s,
        start=step,
        lr=lambda frac: lr_at(frac, lr),
        optimizers=[opt],
        tuner=ThreadTuner.for_training(threads),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        summarise=summarise,
        progress=progress,
        tb=tb,
        smoothing=0.9,
        postfix=lambda at: {
            "style": f"{at.averages['style']:.3f}",
            "content": f"{at.averages['content']:.3f}",
        },
    ).run(step_fn)
    tb.close()
    return spec.metrics
