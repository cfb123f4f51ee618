"""Train the "tryon" family: pix2pix (U-Net generator, PatchGAN critic, L1 + adversarial loss).

Each step renders a fresh batch of (garment, mannequin, truth) triples (a pure
function of seed and step, prepared on a background thread), updates the critic
on real vs generated triples, then the generator on ``l1_weight`` x L1 to the
truth plus the non-saturating adversarial loss. Checkpoints score a fixed set
of held-out samples (a stream training never draws) with PSNR, SSIM and the
garment's CIEDE2000, and save the critic and both optimizers for a resume.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ptx.errors import InputError
from ptx.image import grid
from ptx.spec import ModelSpec
from ptx.training.common.checkpoint import save_checkpoint, start_or_resume
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import lr_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.enhance.data import Prefetcher
from ptx.training.tryon.data import Sample, eval_sample, make_batch
from ptx.training.tryon.evaluate import scores, sheet_rows
from ptx.training.tryon.model import MIN_SIDE, build_discriminator
from ptx.training.tryon.patterns import load_textures

FAMILY = "tryon"
L1_WEIGHT = 100.0  # pix2pix's lambda: L1 carries the layout, the critic sharpens edges


def _pixels(t: torch.Tensor) -> list[np.ndarray]:
    arr = t.detach().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return list(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _tensor(images: list[np.ndarray]) -> torch.Tensor:
    arr = np.stack(images).astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def dress_torch(model: Any, samples: list[Sample], batch: int = 16) -> list[np.ndarray]:
    """The model's uint8 outputs for held-out samples (torch, eval mode, no grad)."""
    out: list[np.ndarray] = []
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            part = samples[i : i + batch]
            y = model(_tensor([s.garment for s in part]), _tensor([s.mannequin for s in part]))
            out.extend(_pixels(y))
    return out


def _checkpoint(
    out: Path, model: Any, spec: ModelSpec, state: dict[str, Any], tb: Any,
    val: list[Sample], extra: dict[str, float] | None = None,
) -> None:  # fmt: skip
    """Score the held-out samples, log them, and save atomically."""
    step = state["step"]
    model.eval()
    got = dress_torch(model, val)
    val_scores = {
        f"val_{k}": v for k, v in scores(got, [s.truth for s in val], [s.mask for s in val]).items()
    }
    for k, v in val_scores.items():
        tb.add_scalar(f"val/{k.removeprefix('val_')}", v, step)
    n = min(4, len(val))
    rows = sheet_rows(
        [s.garment for s in val[:n]], [s.mannequin for s in val[:n]], got[:n],
        [s.truth for s in val[:n]],
    )  # fmt: skip
    tb.add_image("val/garment_mannequin_output_truth", grid(rows, ncol=4), step, dataformats="HWC")
    tb.flush()
    model.train()
    spec.metrics = {**val_scores, **(extra or {})}
    save_checkpoint(out, model, spec, state)


def train_tryon(
    out: Path,
    steps: int,
    batch: int = 8,
    lr: float = 2e-4,
    l1_weight: float = L1_WEIGHT,
    seed: int = 0,
    resume: bool = False,
    config: dict | None = None,
    time_budget_s: float | None = None,
    checkpoint_every: int = 500,
    n_val: int = 32,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Train (or resume) a try-on model into checkpoint folder ``out``; returns final metrics."""
    from torch.utils.tensorboard import SummaryWriter

    out = Path(out)
    if steps < 0 or batch < 1 or n_val < 1 or l1_weight < 0:
        raise InputError(
            f"need steps >= 0, batch >= 1, val samples >= 1, l1 weight >= 0; "
            f"got {steps}, {batch}, {n_val}, {l1_weight}"
        )
    if int((config or {}).get("side", MIN_SIDE)) < MIN_SIDE:
        raise InputError(f"--side must be at least {MIN_SIDE}, got {config['side']}")
    torch.manual_seed(seed)
    model, spec, state = start_or_resume(out, FAMILY, resume, config)
    side = int(spec.config["side"])
    critic = build_discriminator(spec.config)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    step = 0
    if state is not None:
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["optimizer"])
        opt_d.load_state_dict(state["critic_optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
    textures = load_textures()
    spec.config.update(textures=len(textures), l1_weight=l1_weight)
    val = [eval_sample(i, side, textures) for i in range(n_val)]
    model.train()
    critic.train()
    tb = SummaryWriter(str(out / "tb"))
    batches = Prefetcher(lambda k: make_batch(seed, k, batch, side, textures), step)

    def step_fn(at: LoopState) -> dict[str, float]:
        g, m, t = (torch.from_numpy(a) for a in batches.get(at.step))
        y = model(g, m)
        real, fake = critic(g, m, t), critic(g, m, y.detach())
        d_loss = 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        judged = critic(g, m, y)
        adv = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
        l1 = (y - t).abs().mean()
        g_loss = adv + l1_weight * l1
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        losses = {"l1": l1, "adv": adv, "critic": d_loss}
        return {k: float(v.detach()) for k, v in losses.items()}

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        snapshot = {
            "optimizer": opt_g.state_dict(),
            "critic": critic.state_dict(),
            "critic_optimizer": opt_d.state_dict(),
            "step": at.step,
            "seed": seed,
        }
        _checkpoint(out, model, spec, snapshot, tb, val, metrics)

    def summarise(at: LoopState) -> dict[str, float]:
        metrics = {
            "steps": float(at.step),
            "train_l1": float(at.averages.get("l1", math.nan)),
            "train_adv": float(at.averages.get("adv", math.nan)),
            "train_seconds": float(at.seconds),
            "steps_per_second": float(at.steps_per_second),
        }
        return {k: v for k, v in metrics.items() if not math.isnan(v)}

    try:
        TrainLoop(
            steps,
            label="train tryon",
            time_budget_s=time_budget_s,
            start=step,
            lr=lambda frac: lr_at(frac, lr),
            optimizers=[opt_g, opt_d],
            tuner=ThreadTuner.for_training(threads),
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            summarise=summarise,
            progress=progress,
            tb=tb,
            smoothing=0.95,
            postfix=lambda at: {"l1": f"{at.averages['l1']:.4f}"},
        ).run(step_fn)
    finally:
        batches.close()
        tb.close()
    return spec.metrics
