"""Train the "cutout" family on matte renders the catalogue synthesises (no image folder).

One run = render ``images`` products with their exact alpha (seeded), then AdamW
with warm-up + cosine decay over the step or time budget, whichever ends first
(the common TrainLoop), on L1 + BCE of the alpha plus L1 of its gradients (sharp,
well-placed edges). Held-out renders (another seed, half degraded) are scored with
IoU and mean absolute alpha error; the figures go into the checkpoint's spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.spec import ModelSpec
from ptx.training.common.checkpoint import load_checkpoint, save_checkpoint, start_or_resume
from ptx.training.common.loop import LoopState, TrainLoop
from ptx.training.common.schedule import lr_at
from ptx.training.common.threads import ThreadTuner
from ptx.training.cutout.data import held_out, make_batch, training_set
from ptx.training.cutout.metrics import mean_scores
from ptx.training.data.degrade import DegradeConfig
from ptx.training.enhance.data import Prefetcher

FAMILY = "cutout"
BCE_WEIGHT = 0.5
GRAD_WEIGHT = 1.0


def predict(model: Any, rgb: np.ndarray) -> np.ndarray:
    """The model's float32 HxW alpha for one uint8 HxWx3 image (torch, eval mode)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32) / 255.0)
    with torch.no_grad():
        return model(x)[0, 0].numpy()


def evaluate(model: Any, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Held-out IoU (alpha > 0.5) and MAE of the model, as val_iou / val_mae."""
    was_training = model.training
    model.eval()
    scores = mean_scores([(predict(model, rgb), alpha) for rgb, alpha in pairs])
    model.train(was_training)
    return {"val_iou": scores["iou"], "val_mae": scores["mae"]}


def loss_fn(pred: Any, alpha: Any) -> Any:
    """L1 + BCE of the alpha, plus L1 of its x/y differences."""
    import torch.nn.functional as F

    eps = 1e-4
    l1 = (pred - alpha).abs().mean()
    bce = F.binary_cross_entropy(pred.clamp(eps, 1 - eps), alpha)
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    grad = (dx(pred) - dx(alpha)).abs().mean() + (dy(pred) - dy(alpha)).abs().mean()
    return l1 + BCE_WEIGHT * bce + GRAD_WEIGHT * grad


def train_cutout(
    out: Path,
    steps: int,
    images: int = 2000,
    size: int = 192,
    batch: int = 10,
    patch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    config: dict | None = None,
    time_budget_s: float | None = None,
    checkpoint_every: int = 250,
    held_out_images: int = 48,
    threads: int | None = None,
    init: Path | None = None,
    work_side: int | None = None,
    flip_average: bool | None = None,
    refine: bool | None = None,
    train_coarse: bool = False,
) -> dict[str, float]:
    """Train (or resume) a cutout model into checkpoint folder ``out``; returns final metrics.

    ``init``: a cutout checkpoint whose weights (and config) a fresh run starts from
    (warm start on new data: new optimizer, full schedule); not with ``resume``.
    ``work_side``: the long side the runtime runs the net at (into the spec). None: a fresh
    run without one in ``config`` takes ``size`` (the net is scale-sensitive: the render
    size it learned from fits best); ``init`` / ``resume`` keep their checkpoint's.
    ``flip_average``: whether the runtime averages with the mirror image (into the spec);
    None keeps the checkpoint's (``init`` / ``resume``) or the default config's.
    ``refine``: whether the runtime refines the alpha with GrabCut (into the spec); as above.
    ``train_coarse``: a refined model's coarse net trains too (else it stays frozen).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter

    out = Path(out)
    if steps < 0 or batch < 1 or not 32 <= patch <= size:
        raise InputError(
            f"need steps >= 0, batch >= 1, 32 <= patch <= size; got {steps}, {batch}, {patch}"
        )
    if init is not None and resume:
        raise InputError("--init starts a new run from a checkpoint's weights; drop --resume")
    if int((config or {}).get("refiner", 0)) < 0:
        raise InputError(f"--refiner must be at least 1 channel, got {config['refiner']}")
    if int((config or {}).get("refiner", 0)) > 0 and init is None and not resume:
        raise InputError("--refiner adds an edge refiner to a trained net: give --init CKPT")
    if work_side is not None and not 32 <= work_side <= 1024:
        raise InputError(f"--work-side must be between 32 and 1024 px, got {work_side}")
    torch.manual_seed(seed)
    if init is not None:
        model, spec = load_checkpoint(init, family=FAMILY)
        spec.task = "cutout"  # checkpoints from before the task existed say 'custom'
        model, spec, work_side = add_refiner(model, spec, config, work_side)
        state = None
    else:
        model, spec, state = start_or_resume(out, FAMILY, resume, config)
    train_coarse = train_coarse or bool((state or {}).get("train_coarse"))  # a resume keeps it
    if train_coarse:
        if not hasattr(model, "unfreeze"):
            raise InputError("--train-coarse is for a model with an edge refiner (--refiner)")
        model.unfreeze()
    if work_side is None and state is None and init is None and "work_side" not in (config or {}):
        work_side = size  # a fresh run: the net runs best at the scale it learns from
    if work_side is not None:  # a runtime setting only: the weights do not depend on it
        spec.config["work_side"] = int(work_side)
    if flip_average is not None:  # likewise
        spec.config["flip_average"] = bool(flip_average)
    if refine is not None:
        spec.config["refine"] = "grabcut" if refine else None
    model.train()
    step, start_frac = 0, 0.0
    params = [p for p in model.parameters() if p.requires_grad]  # a refiner's net is frozen
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, seed = int(state["step"]), int(state.get("seed", seed))
        images, size = int(state.get("images", images)), int(state.get("size", size))
        start_frac = float(state.get("schedule", 0.0))
        torch.set_rng_state(state["torch_rng"])
    rgbs, alphas = training_set(seed, images, size)
    val = held_out(seed, held_out_images, size)
    dcfg = DegradeConfig()
    tb = SummaryWriter(str(out / "tb"))
    feed = Prefetcher(lambda k: make_batch(rgbs, alphas, batch, patch, seed, k, dcfg), step)

    def step_fn(at: LoopState) -> dict[str, float]:
        x, a = (torch.from_numpy(v) for v in feed.get(at.step))
        loss = loss_fn(model(x), a)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    def checkpoint(at: LoopState, metrics: dict[str, float] | None) -> None:
        snapshot = {
            "optimizer": opt.state_dict(),
            "step": at.step,
            "seed": seed,
            "images": images,
            "size": size,
            "schedule": at.progress,
            "torch_rng": torch.get_rng_state(),
            "train_coarse": train_coarse,
        }
        _checkpoint(model, spec, snapshot, out, tb, val, metrics)

    def summarise(at: LoopState) -> dict[str, float]:
        metrics = evaluate(model, val) if val else {}
        metrics.update(
            steps=float(at.step),
            train_loss=float(at.averages.get("loss", float("nan"))),
            train_seconds=float(at.seconds),
            steps_per_second=float(at.steps_per_second),
            held_out_images=float(len(val)),
            train_images=float(images),
        )
        spec.metrics = metrics
        return metrics

    loop = TrainLoop(
        steps,
        label="train cutout",
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
    )
    try:
        result = loop.run(step_fn)
    finally:
        feed.close()
    tb.close()
    return result.metrics


def add_refiner(
    model: Any, spec: ModelSpec, config: dict | None, work_side: int | None
) -> tuple[Any, ModelSpec, int | None]:
    """A plain cutout ``model`` wrapped with a new edge refiner when ``config`` asks for one.

    Its net becomes the frozen coarse stage at half resolution, so the work side doubles
    unless ``work_side`` is given. Anything else: returned as it is.
    """
    from ptx.training.cutout.model import build

    want = int((config or {}).get("refiner", 0))
    if want <= 0:
        return model, spec, work_side
    if int(spec.config.get("refiner", 0)) > 0:
        raise InputError("the --init checkpoint already has an edge refiner; drop --refiner")
    cfg = {**spec.config, "refiner": want}
    refined = build(cfg)
    refined.coarse.load_state_dict(model.state_dict())
    spec.config = cfg
    if work_side is None:
        work_side = 2 * int(spec.config.get("work_side", 160))
    return refined, spec, work_side


def _checkpoint(
    model: Any,
    spec: ModelSpec,
    state: dict[str, Any],
    out: Path,
    tb: Any,
    val: list,
    metrics: dict[str, float] | None,
) -> None:
    """Log held-out scores, then save atomically (the loop holds Ctrl-C off)."""
    if val:
        scores = metrics or evaluate(model, val[:16])
        tb.add_scalar("val/iou", scores["val_iou"], state["step"])
        tb.add_scalar("val/mae", scores["val_mae"], state["step"])
    tb.flush()
    save_checkpoint(out, model, spec, state)
