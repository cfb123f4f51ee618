"""Where a run is in its budget, and the learning rate there."""

from __future__ import annotations

import math


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


def lr_at(progress: float, base: float, warmup: float = 0.03) -> float:
    """Linear warm-up then cosine decay to 2% of ``base``; progress runs 0 → 1."""
    if progress < warmup:
        return base * (0.1 + 0.9 * progress / warmup)
    t = min(1.0, (progress - warmup) / (1.0 - warmup))
    return base * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t)))


def cosine_at(progress: float, base: float) -> float:
    """Plain cosine decay from ``base`` to 0 over progress 0 → 1 (no warm-up)."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
