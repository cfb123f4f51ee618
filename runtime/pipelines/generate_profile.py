"""Personalised variants: a user's preference profile -> the generator images it asks for.

A profile is a JSON object::

    {"name": "alice", "n": 12, "seed": 3,
     "colors": {"blue": 3, "red": 1},
     "categories": ["mug", "bottle"],
     "styles": {"minimal": 1}}

``colors``, ``categories`` and ``styles`` map to the generator's label keys
``color``, ``category`` and ``style`` (its spec's vocabulary); each is an object
of value -> positive weight, or a list (equal weights). Preferences are taken as
independent, so a (category, color) combination's share is the product of its
weights; ``n`` variants are split by those shares (largest remainder, ties in
profile order). A preference the model cannot express (a value outside its
vocabulary, or a field it has no label for) is left out with one note line;
label keys the profile does not mention are drawn from the seed. Bad JSON or
bad fields are one error line per field. Draw order for a seed: z for all n
samples (one standard-normal draw), then each free label key in spec order.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.generate import (
    MAX_CHUNK,
    GeneratorPlan,
    chunks,
    feeds_for,
    generator_plan,
    to_images,
)

PREFERENCE_FIELDS = {"colors": "color", "categories": "category", "styles": "style"}
OTHER_FIELDS = ("name", "n", "seed")
MAX_VARIANTS = 1024
DEFAULT_N = 16  # variants when neither the profile nor the caller says how many


@dataclass(frozen=True)
class Profile:
    """A validated profile: name, optional count and seed, weights per preference field."""

    name: str = "profile"
    n: int | None = None
    seed: int | None = None
    preferences: dict[str, dict[str, float]] = field(default_factory=dict)  # field -> weights


@dataclass
class VariantPlan:
    """What to generate: (labels, count) groups in order, and the notes on what was left out."""

    groups: list[tuple[dict[str, str], int]]
    notes: list[str]

    @property
    def n(self) -> int:
        """Total variants."""
        return sum(k for _, k in self.groups)


def _weights(name: str, value: Any) -> tuple[dict[str, float] | None, str | None]:
    """(weights, None) or (None, the error line) for one preference field."""
    if isinstance(value, list):
        value = {v: 1.0 for v in value} if all(isinstance(v, str) for v in value) else None
        if value is None:
            return None, f"profile field '{name}': a list must hold names (strings) only"
    if not isinstance(value, dict) or not value:
        return None, (
            f"profile field '{name}': give an object of name -> weight, e.g. "
            f'{{"{name}": {{"blue": 2, "red": 1}}}}, or a list of names'
        )
    out: dict[str, float] = {}
    for key, w in value.items():
        ok = isinstance(w, int | float) and not isinstance(w, bool) and _finite(w)
        if not key.strip() or not ok or w <= 0:
            return None, (
                f"profile field '{name}': '{key}' needs a positive finite weight, got {w!r}"
            )
        out[key.strip()] = float(w)
    return out, None


def _finite(w: float) -> bool:
    try:
        return math.isfinite(w)
    except OverflowError:  # a JSON integer too large for a float
        return False


def _int_field(name: str, value: Any, lo: int, hi: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return f"profile field '{name}': need a whole number in {lo}..{hi}, got {value!r}"
    return None


def parse_profile(data: Any, where: str = "profile") -> Profile:
    """A Profile from decoded JSON; one InputError line per bad field (all of them at once)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: a profile is a JSON object, got {type(data).__name__}")
    errors: list[str] = []
    known = (*OTHER_FIELDS, *PREFERENCE_FIELDS)
    for key in data:
        if key not in known:
            errors.append(f"profile field '{key}': unknown (fields: {', '.join(known)})")
    name = data.get("name", "profile")
    if not isinstance(name, str):
        errors.append(f"profile field 'name': need a string, got {name!r}")
    for key, lo, hi in (("n", 1, MAX_VARIANTS), ("seed", 0, 2**63 - 1)):
        if key in data and (err := _int_field(key, data[key], lo, hi)):
            errors.append(err)
    prefs: dict[str, dict[str, float]] = {}
    for key in PREFERENCE_FIELDS:
        if key in data:
            weights, err = _weights(key, data[key])
            if err:
                errors.append(err)
            else:
                prefs[key] = weights or {}
    if not any(k in data for k in PREFERENCE_FIELDS):
        errors.append(f"profile: no preferences; give one of {', '.join(PREFERENCE_FIELDS)}")
    if errors:
        raise InputError("\n".join(f"{where}: {e}" for e in errors))
    return Profile(str(name), data.get("n"), data.get("seed"), prefs)


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file (one InputError line for unreadable or bad JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the profile ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not JSON ({exc.msg} at line {exc.lineno} col {exc.colno})") from exc
    return parse_profile(data, str(p))


def _allocate(shares: list[float], n: int) -> list[int]:
    """n split by ``shares`` (largest remainder; ties to the earlier share)."""
    total = sum(shares)
    exact = [n * s / total for s in shares]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def plan_variants(profile: Profile, vocab: Mapping[str, list[str]], n: int) -> VariantPlan:
    """The (labels, count) groups ``profile`` asks of a generator with ``vocab``."""
    notes: list[str] = []
    axes: list[tuple[str, list[tuple[str, float]]]] = []
    for fld, weights in profile.preferences.items():
        key = PREFERENCE_FIELDS[fld]
        if key not in vocab:
            notes.append(
                f"'{fld}' left out: this generator has no {key} label "
                f"(its labels: {', '.join(vocab) or 'none'})"
            )
            continue
        lower = {v.lower(): v for v in vocab[key]}
        kept = []
        for value, w in weights.items():
            if value.lower() in lower:
                kept.append((lower[value.lower()], w))
            else:
                notes.append(
                    f"{key} '{value}' left out: not one this generator makes "
                    f"(its {key} values: {', '.join(vocab[key])})"
                )
        if kept:
            # Relative to the axis' largest weight, so products of huge weights stay finite.
            top = max(w for _, w in kept)
            axes.append((key, [(v, w / top) for v, w in kept]))
        else:
            notes.append(f"'{fld}': nothing this generator can make; {key} is drawn freely")
    if not axes:
        raise InputError(
            "the profile asks for nothing this generator can express: " + "; ".join(notes)
        )
    combos = list(itertools.product(*[vals for _, vals in axes]))
    shares = [math.prod(w for _, w in combo) for combo in combos]
    counts = _allocate(shares, n)
    groups = [
        ({key: value for (key, _), (value, _) in zip(axes, combo, strict=True)}, k)
        for combo, k in zip(combos, counts, strict=True)
        if k > 0
    ]
    return VariantPlan(groups, notes)


def profile_feeds(
    plan: GeneratorPlan, profile: Profile, n: int = DEFAULT_N, seed: int = 0
) -> tuple[dict[str, np.ndarray], list[dict[str, str]], VariantPlan]:
    """(the engine's feeds, labels of each sample, the variant plan) for ``profile``.

    The profile's n and seed win when set; the CLI and the server's /generate both call this.
    """
    n = profile.n if profile.n is not None else n
    seed = profile.seed if profile.seed is not None else seed
    if n < 1:
        raise InputError(f"the number of images must be at least 1, got {n}")
    variants = plan_variants(profile, plan.vocab, n)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, plan.latent), dtype=np.float32)
    ids: dict[str, np.ndarray] = {}
    for key, values in plan.vocab.items():
        fixed = [labels.get(key) for labels, k in variants.groups for _ in range(k)]
        if all(v is not None for v in fixed):
            ids[key] = np.array([values.index(v) for v in fixed], dtype=np.int64)
        else:
            ids[key] = rng.integers(0, len(values), size=n, dtype=np.int64)
    per_image = [{k: plan.vocab[k][int(ids[k][i])] for k in plan.vocab} for i in range(n)]
    return feeds_for(plan, z, ids), per_image, variants


def generate_profile(
    engine: Engine, profile: Profile, n: int = DEFAULT_N, seed: int = 0
) -> tuple[list[np.ndarray], list[dict[str, str]], VariantPlan]:
    """(uint8 images, labels of each, the plan) for ``profile``; its n and seed win when set."""
    plan = generator_plan(engine)
    feeds, per_image, variants = profile_feeds(plan, profile, n, seed)
    images = to_images(plan, [engine.run(part) for part in chunks(feeds, MAX_CHUNK)])
    return images, per_image, variants
