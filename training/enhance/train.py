"""Train the "enhance" family on an image folder, degrading clean crops on the fly.

One run = load the folder, split train / held-out (labels.csv's ``split``
column when present), then AdamW with warm-up + cosine decay over the step or
time budget, whichever ends first. Checkpoints are atomic and Ctrl-C-safe; the
held-out PSNR/SSIM (model and degraded input) go into the checkpoint's spec.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.training.data.degrade import DegradeConfig
from ptx.training.enhance.data import (
    Prefetcher,
    held_out_pairs,
    load_images,
    make_batch,
    split_files,
    to_hwc_u8,
    to_nchw,
)

FAMILY = "enhance"
GLOBAL_LOSS_WEIGHT = 0.5  # direct supervision of the tone-curve branch speeds it up
MSE_WEIGHT = 10.0  # PSNR is MSE: where the global shift is ambiguous, hedge toward the mean


# -- thread count ---------------------------------------------------------------------
class ThreadTuner:
    """Picks torch's thread count by timing real steps, and re-checks now and then.

    On a shared machine all-cores intra-op threading can be several times slower
    than one thread (threads wait on each other's preempted cores); timing a few
    steps of each candidate is cheap and needs no guess about the load.
    """

    def __init__(self, candidates: list[int], probe: int = 5, every: int = 300) -> None:
        self.candidates = sorted(set(candidates), reverse=True)
        self.probe = probe
        self.every = every
        self.best = self.candidates[0]
        self.times: dict[int, list[float]] = {}

    @classmethod
    def for_training(cls, threads: int | None) -> ThreadTuner:
        """``threads`` when given, else all cores timed against half of them."""
        cores = os.cpu_count() or 1
        return cls([threads] if threads else [cores, max(1, cores // 2)])

    def threads_for(self, step: int) -> int:
        """The thread count to use for ``step``."""
        phase = step % self.every
        window = self.probe * len(self.candidates)
        if len(self.candidates) > 1 and phase < window:
            return self.candidates[phase // self.probe]
        return self.best

    def record(self, step: int, threads: int, seconds: float) -> None:
        """Note one step's time; at the end of a probe window, keep the fastest count."""
        phase = step % self.every
        if phase % self.probe:  # the first step after a switch pays for the switch
            self.times.setdefault(threads, []).append(seconds)
        if phase == self.probe * len(self.candidates) - 1 and self.times:
            self.best = min(self.times, key=lambda t: float(np.median(self.times[t])))
            self.times = {}


# -- schedule and safety ---------------------------------------------------------------
def lr_at(progress: float, base: float, warmup: float = 0.03) -> float:
    """Linear warm-up then cosine decay to 2% of ``base``; progress runs 0 → 1."""
    if progress < warmup:
        return base * (0.1 + 0.9 * progress / warmup)
    t = min(1.0, (progress - warmup) / (1.0 - warmup))
    return base * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t)))


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a checkpoint's files are all from one step."""
    try:
        previous = signal.getsignal(signal.SIGINT)
        caught: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread: signals cannot be handled here anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


# -- evaluation ------------------------------------------------------------------------
def evaluate_pairs(model: Any, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean PSNR/SSIM of the model's output and of the degraded input on (degraded, clean)."""
    import torch

    from ptx.training.common.metrics import psnr, ssim

    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_in": [], "ssim_in": []}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for noisy, clean in pairs:
            out = to_hwc_u8(model(torch.from_numpy(to_nchw(noisy[None])))[0])
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


def _log_grid(tb: Any, model: Any, pairs: list, step: int, n: int = 4) -> None:
    """A TensorBoard image grid: rows of degraded | output | clean."""
    import torch

    side = min(min(p[1].shape[:2]) for p in pairs[:n])
    rows = []
    with torch.no_grad():
        for noisy, clean in pairs[:n]:
            x = torch.from_numpy(to_nchw(noisy[None, :side, :side]))
            y = torch.from_numpy(to_nchw(clean[None, :side, :side]))
            rows.append(torch.cat([x, model(x), y], dim=3)[0])
    tb.add_image("val/degraded|output|clean", torch.cat(rows, dim=1), step)


# -- the loop --------------------------------------------------------------------------
def _snapshot(opt: Any, step: int, seed: int, frac: float) -> dict[str, Any]:
    import torch

    return {
        "optimizer": opt.state_dict(),
        "step": step,
        "seed": seed,
        "schedule": frac,
        "torch_rng": torch.get_rng_state(),
    }


def schedule_position(
    step: int, steps: int, elapsed: float, budget: float | None, start: float = 0.0
) -> float:
    """How far through the LR schedule (0 → 1) a run is: steps, or time when that ends first.

    A resumed run starts at ``start`` and spends its new time budget on the rest.
    """
    frac = step / max(steps, 1)
    if budget is not None and budget > 0:
        frac = max(frac, start + (1.0 - start) * elapsed / budget)
    return min(frac, 1.0)


def _start(out: Path, resume: bool, config: dict | None) -> tuple[Any, Any, dict | None]:
    """(model, spec, resume state): a fresh model, or the checkpoint in ``out``."""
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import load_checkpoint, load_state

    if not resume:
        fam = registry.get(FAMILY)
        cfg = fam.config(**(config or {}))
        return fam.build(cfg), fam.make_spec(cfg), None
    if not (out / "spec.json").is_file():
        raise InputError(f"{out}: nothing to resume (no spec.json); drop --resume to start")
    model, spec = load_checkpoint(out, family=FAMILY)
    state = load_state(out)
    if state is None:
        raise InputError(f"{out}: checkpoint has no resume state (state.pt); drop --resume")
    return model, spec, state


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
) -> dict[str, float]:
    """Train (or resume) an enhance model into checkpoint folder ``out``; returns final metrics.

    ``threads`` fixes torch's thread count; None times all cores against one and
    keeps the faster (see ThreadTuner).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    data, out = Path(data), Path(out)
    if steps < 0 or batch < 1 or patch < 16:
        raise InputError(f"need steps >= 0, batch >= 1, patch >= 16; got {steps}, {batch}, {patch}")
    torch.manual_seed(seed)
    model, spec, state = _start(out, resume, config)
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
    tuner = ThreadTuner.for_training(threads)
    tb = SummaryWriter(str(out / "tb"))
    feed = Prefetcher(lambda k: make_batch(train_imgs, batch, patch, seed, k, dcfg), step)
    t0 = time.perf_counter()
    start_step, loss_ema = step, float("nan")
    frac = schedule_position(step, steps, 0.0, time_budget_s, start_frac)
    bar = tqdm(total=steps, initial=step, desc="train enhance", disable=not progress)
    try:
        while step < steps:
            elapsed = time.perf_counter() - t0
            if time_budget_s is not None and elapsed >= time_budget_s:
                break
            frac = schedule_position(step, steps, elapsed, time_budget_s, start_frac)
            cur_lr = lr_at(frac, lr)
            for g in opt.param_groups:
                g["lr"] = cur_lr
            n_threads = tuner.threads_for(step)
            torch.set_num_threads(n_threads)
            t_step = time.perf_counter()
            loss = _train_step(model, opt, feed.get(step))
            tuner.record(step, n_threads, time.perf_counter() - t_step)
            step += 1
            loss_ema = loss if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * loss
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss_ema:.4f}", lr=f"{cur_lr:.2g}", threads=n_threads)
                tb.add_scalar("train/loss", loss_ema, step)
                tb.add_scalar("train/lr", cur_lr, step)
            if step % checkpoint_every == 0 and step < steps:
                _checkpoint(model, spec, _snapshot(opt, step, seed, frac), out, tb, val_pairs[:16])
    finally:
        bar.close()
        feed.close()
    seconds = time.perf_counter() - t0
    metrics = evaluate_pairs(model, val_pairs) if val_pairs else {}
    metrics.update(
        steps=float(step),
        train_loss=float(loss_ema),
        train_seconds=float(seconds),
        steps_per_second=float((step - start_step) / max(seconds, 1e-9)),
        held_out_images=float(len(val_pairs)),
    )
    spec.metrics = metrics
    _checkpoint(model, spec, _snapshot(opt, step, seed, frac), out, tb, val_pairs, metrics)
    tb.close()
    return metrics


def _train_step(model: Any, opt: Any, pair: tuple[np.ndarray, np.ndarray]) -> float:
    """One AdamW step on L1 + MSE of the output plus the same on the tone-curve branch alone."""
    import torch

    noisy, clean = (torch.from_numpy(a) for a in pair)
    glob, pred = model.forward_both(noisy)
    loss = _loss(pred, clean) + GLOBAL_LOSS_WEIGHT * _loss(glob, clean)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def _loss(pred: Any, clean: Any) -> Any:
    err = pred - clean
    return err.abs().mean() + MSE_WEIGHT * err.pow(2).mean()


def _checkpoint(
    model: Any,
    spec: Any,
    state: dict[str, Any],
    out: Path,
    tb: Any,
    pairs: list,
    metrics: dict[str, float] | None = None,
) -> None:
    """Log held-out scores and images, then save atomically with Ctrl-C held off."""
    from ptx.training.common.checkpoint import save_checkpoint

    step = state["step"]
    if pairs:
        scores = metrics or evaluate_pairs(model, pairs)
        for k in ("val_psnr", "val_ssim", "val_psnr_degraded", "val_ssim_degraded"):
            tb.add_scalar(f"val/{k[4:]}", scores[k], step)
        _log_grid(tb, model.eval(), pairs, step)
        model.train()
    tb.flush()
    with deferred_interrupt():
        save_checkpoint(out, model, spec, state)
