"""Optimisation profiles: ``--shapes`` (parsed by ptx.tensors), else the ModelSpec or static dims.

Every profile is validated against the network's declared dims before the build.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptx.errors import InputError
from ptx.spec import ModelSpec
from ptx.tensors import parse_profiles


@dataclass
class Profile:
    """min / opt / max for one input, and where they came from."""

    name: str
    min: list[int]
    opt: list[int]
    max: list[int]
    source: str  # "--shapes", "spec", "static", "batch of <input>"

    def to_dict(self) -> dict[str, object]:
        """A JSON-able dict."""
        return {"min": self.min, "opt": self.opt, "max": self.max, "source": self.source}


def _check(p: Profile, declared: list[int]) -> None:
    """Ranks match, static dims kept, min <= opt <= max."""
    where = f"input '{p.name}' ({p.source})"
    for label, dims in (("min", p.min), ("opt", p.opt), ("max", p.max)):
        if len(dims) != len(declared):
            raise InputError(
                f"{where}: {label} {dims} has rank {len(dims)}, the model's is "
                f"{len(declared)} {declared}"
            )
        for axis, (want, got) in enumerate(zip(declared, dims, strict=True)):
            if want >= 0 and want != got:
                raise InputError(
                    f"{where}: {label} axis {axis} is {got}, the model fixes it at "
                    f"{want} {declared}"
                )
    for axis, (lo, mid, hi) in enumerate(zip(p.min, p.opt, p.max, strict=True)):
        if not lo <= mid <= hi:
            raise InputError(
                f"{where}: axis {axis} needs min <= opt <= max, got {lo}, {mid}, {hi}"
                f" (min {p.min}, opt {p.opt}, max {p.max})"
            )


def resolve_profiles(
    declared: dict[str, list[int]],
    shapes: str | list[str] | None,
    spec: ModelSpec | None,
) -> list[Profile]:
    """One profile per network input (``declared``: name -> dims, -1 dynamic), validated."""
    given = parse_profiles(shapes)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(f"--shapes names {unknown}, but the model's inputs are {sorted(declared)}")
    spec_prof = spec.profile if spec is not None else None
    out: dict[str, Profile] = {}
    for name, dims in declared.items():
        if name in given:
            out[name] = Profile(name, *(list(d) for d in given[name]), source="--shapes")
        elif spec_prof is not None and name in spec_prof.opt:
            out[name] = Profile(
                name,
                list(spec_prof.min[name]),
                list(spec_prof.opt[name]),
                list(spec_prof.max[name]),
                source="spec",
            )
        elif all(d >= 0 for d in dims):
            out[name] = Profile(name, list(dims), list(dims), list(dims), source="static")
    for name, dims in declared.items():
        if name in out:
            continue
        batch = next((p for p in out.values() if declared[p.name][0] < 0), None)
        if dims[0] < 0 and all(d >= 0 for d in dims[1:]) and batch is not None:
            rest = list(dims[1:])
            out[name] = Profile(
                name,
                [batch.min[0], *rest],
                [batch.opt[0], *rest],
                [batch.max[0], *rest],
                source=f"batch of {batch.name}",
            )
        else:
            dyn = [i for i, d in enumerate(dims) if d < 0]
            example = "x".join(str(d if d > 0 else 1) for d in dims)
            raise InputError(
                f"input '{name}' {dims} has dynamic axes {dyn} and nothing gives their range: "
                f"pass --shapes {name}:MIN,OPT,MAX (e.g. {name}:{example},...)"
            )
    for name, dims in declared.items():
        _check(out[name], dims)
    return [out[name] for name in declared]
