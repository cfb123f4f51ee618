"""Optimisation profiles, shape checks and batch chunking for a TensorRT plan (no GPU).

A request is a dict input name -> shape. ``plan_chunks`` picks the profile that fits
it, or splits axis 0 (the batch) into chunks that fit one; with chunking off, a
request larger than every profile is one InputError line naming the profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ptx.errors import InputError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    """One optimisation profile: input name -> (min, opt, max) shapes."""

    index: int
    ranges: dict[str, tuple[Shape, Shape, Shape]]

    def fits(self, shapes: Mapping[str, Shape]) -> bool:
        """True when every input's shape lies within [min, max] on every axis."""
        for name, (lo, _, hi) in self.ranges.items():
            shape = shapes.get(name)
            if shape is None or len(shape) != len(lo):
                return False
            if any(not a <= s <= b for a, s, b in zip(lo, shape, hi, strict=True)):
                return False
        return True

    def distance(self, shapes: Mapping[str, Shape]) -> int:
        """How far the request is from this profile's opt shapes (smaller is better)."""
        return sum(
            abs(s - o)
            for name, (_, opt, _) in self.ranges.items()
            for s, o in zip(shapes[name], opt, strict=True)
        )

    def max_batch(self) -> int:
        """The largest axis-0 size every input accepts."""
        return min((hi[0] for _, _, hi in self.ranges.values() if hi), default=1)

    def describe(self) -> str:
        """``profile 0: image [1,3,16,16]..[4,3,64,64]``."""

        def dims(s: Shape) -> str:
            return "[" + ",".join(str(d) for d in s) + "]"

        parts = [f"{n} {dims(lo)}..{dims(hi)}" for n, (lo, _, hi) in self.ranges.items()]
        return f"profile {self.index}: {', '.join(parts)}"


@dataclass(frozen=True)
class Chunk:
    """Items ``start:stop`` of the batch run under profile ``profile``."""

    start: int
    stop: int
    profile: int


def profiles_from_sidecar(sidecar: Mapping[str, Any]) -> list[Profile]:
    """The sidecar's ``profiles`` list ([{input: {min, opt, max}}]) as Profiles."""
    out = []
    for i, entry in enumerate(sidecar.get("profiles") or []):
        ranges = {
            name: (tuple(r["min"]), tuple(r["opt"]), tuple(r["max"])) for name, r in entry.items()
        }
        out.append(Profile(i, ranges))
    return out


def profiles_from_engine(engine: Any, inputs: list[str]) -> list[Profile]:
    """Profiles read from a deserialised ICudaEngine (needs a GPU to have one)."""
    out = []
    for i in range(engine.num_optimization_profiles):
        ranges = {}
        for name in inputs:
            lo, opt, hi = engine.get_tensor_profile_shape(name, i)
            ranges[name] = (tuple(lo), tuple(opt), tuple(hi))
        out.append(Profile(i, ranges))
    return out


def validate_shapes(
    shapes: Mapping[str, Shape], declared: Mapping[str, Shape], where: str = "plan"
) -> None:
    """Inputs named as declared, ranks equal, fixed (non -1) dims kept; else InputError."""
    if set(shapes) != set(declared):
        raise InputError(f"{where}: inputs {sorted(declared)} expected, got {sorted(shapes)}")
    for name, want in declared.items():
        got = tuple(shapes[name])
        if len(got) != len(want):
            raise InputError(
                f"{where}: input '{name}' needs rank {len(want)} {list(want)}, got {list(got)}"
            )
        for axis, (w, g) in enumerate(zip(want, got, strict=True)):
            if w >= 0 and w != g:
                raise InputError(
                    f"{where}: input '{name}' axis {axis} must be {w}, got {g} (shape {list(got)})"
                )


def select_profile(profiles: list[Profile], shapes: Mapping[str, Shape]) -> Profile | None:
    """The fitting profile nearest the request's shapes (lowest index on ties), or None."""
    fitting = [p for p in profiles if p.fits(shapes)]
    return min(fitting, key=lambda p: (p.distance(shapes), p.index)) if fitting else None


def _batch(shapes: Mapping[str, Shape]) -> int | None:
    sizes = {s[0] for s in shapes.values() if len(s) > 0}
    return sizes.pop() if len(sizes) == 1 else None


def _with_batch(shapes: Mapping[str, Shape], b: int) -> dict[str, Shape]:
    return {name: (b, *s[1:]) for name, s in shapes.items()}


def _too_large(shapes: Mapping[str, Shape], profiles: list[Profile], where: str, hint: str) -> str:
    req = ", ".join(f"{n} {list(s)}" for n, s in shapes.items())
    have = "; ".join(p.describe() for p in profiles) or "no profiles"
    return f"{where}: request {req} fits no optimisation profile ({have}); {hint}"


def plan_chunks(
    profiles: list[Profile],
    shapes: Mapping[str, Shape],
    allow_chunking: bool = True,
    where: str = "plan",
) -> list[Chunk]:
    """How to run the request: one chunk under the best profile, or batch slices that fit."""
    n = _batch(shapes) or 1
    best = select_profile(profiles, shapes)
    if best is not None:
        return [Chunk(0, n, best.index)]
    rebuild = "rebuild the plan with larger --shapes (ptx build --shapes NAME:MIN,OPT,MAX)"
    batch = _batch(shapes)
    if not allow_chunking or batch is None:
        hint = "allow chunking to split the batch, or " if batch is not None else ""
        raise InputError(_too_large(shapes, profiles, where, hint + rebuild))
    for p in sorted(profiles, key=lambda p: (-p.max_batch(), p.index)):
        step = min(p.max_batch(), batch)
        if not p.fits(_with_batch(shapes, step)):
            continue  # a non-batch dim is out of this profile's range
        chunks = [Chunk(s, s + step, p.index) for s in range(0, batch - batch % step, step)]
        rest = batch % step
        if rest:
            tail = select_profile(profiles, _with_batch(shapes, rest))
            if tail is None:
                continue
            chunks.append(Chunk(batch - rest, batch, tail.index))
        return chunks
    raise InputError(
        _too_large(shapes, profiles, where, "splitting the batch does not help; " + rebuild)
    )


def nbytes(shape: Shape, dtype: np.dtype | type) -> int:
    """Bytes of a dense tensor (dynamic -1 dims are an error: resolve the shape first)."""
    if any(d < 0 for d in shape):
        raise InputError(f"shape {list(shape)} still has dynamic dims; set the input shapes first")
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
