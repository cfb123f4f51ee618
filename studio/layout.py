"""The declarative layout file: defaults per command, merged with a platform's JSON/YAML template.

A layout file holds up to three sections, ``display``, ``compare`` and ``ad``; every
field is optional and falls back to the defaults below. Each field is checked by its
own rule, and the first bad one is one InputError line naming the file, the field
path and what it takes (unknown fields too, so a typo is not silently ignored).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ptx.errors import InputError, MissingDependency

Rule = Callable[[Any], Any]  # returns the normalised value or raises ValueError(what it takes)


def number(lo: float, hi: float) -> Rule:
    """A float in [lo, hi]."""

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise ValueError(f"a number in {lo}..{hi}")
        return float(v)

    return check


def integer(lo: int, hi: int) -> Rule:
    """An int in [lo, hi]."""

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"an integer in {lo}..{hi}")
        return int(v)

    return check


def size(v: Any) -> tuple[int, int]:
    """[width, height] in pixels, each 16..8192."""
    ok = isinstance(v, list | tuple) and len(v) == 2
    bad = not ok or any(isinstance(x, bool) or not isinstance(x, int) for x in v)
    if bad or not all(16 <= x <= 8192 for x in v):
        raise ValueError("[width, height], integers in 16..8192")
    return int(v[0]), int(v[1])


def sizes(v: Any) -> list[tuple[int, int]]:
    """A non-empty list of [width, height]."""
    if not isinstance(v, list) or not v:
        raise ValueError("a list of [width, height] pairs")
    return [size(s) for s in v]


def colour(v: Any) -> tuple[int, int, int]:
    """'#rrggbb', a CSS colour name, or [r, g, b] (0..255)."""
    from PIL import ImageColor

    if isinstance(v, list | tuple) and len(v) == 3 and all(isinstance(x, int) for x in v):
        if all(0 <= x <= 255 for x in v):
            return int(v[0]), int(v[1]), int(v[2])
    elif isinstance(v, str):
        try:
            return ImageColor.getrgb(v)[:3]
        except ValueError:
            pass
    raise ValueError("a colour: '#rrggbb', a CSS name or [r, g, b]")


def colour_or_auto(v: Any) -> tuple[int, int, int] | None:
    """A colour, or 'auto' (picked for contrast at render time)."""
    return None if v == "auto" else colour(v)


def choice(*options: str) -> Rule:
    """One of ``options``."""

    def check(v: Any) -> str:
        if v not in options:
            raise ValueError("one of " + ", ".join(options))
        return v

    return check


def text(v: Any) -> str:
    """A string."""
    if not isinstance(v, str):
        raise ValueError("a string")
    return v


def optional(rule: Rule) -> Rule:
    """``rule``, or null."""
    return lambda v: None if v is None else rule(v)


def box(v: Any) -> tuple[float, float, float, float]:
    """[x, y, w, h] as fractions of the canvas, inside it."""
    ok = isinstance(v, list | tuple) and len(v) == 4
    ok = ok and all(not isinstance(x, bool) and isinstance(x, int | float) for x in v)
    if not ok or min(v) < 0 or v[2] <= 0 or v[3] <= 0 or v[0] + v[2] > 1 or v[1] + v[3] > 1:
        raise ValueError("[x, y, w, h], fractions of the canvas (x + w <= 1, y + h <= 1)")
    return tuple(float(x) for x in v)  # type: ignore[return-value]


SHADOW = {"opacity": number(0, 1), "height": number(0, 0.5), "blur": number(0, 0.2)}
TEXT_STYLE = {"font": optional(text), "max_size": integer(6, 400), "min_size": integer(4, 400)}
AD_BOXES = {"product": box, "headline": box, "cta": box}

SCHEMA: dict[str, dict[str, Any]] = {
    "display": {
        "size": size,
        "background": colour,
        "fill": number(0.05, 1),
        "arrangement": choice("auto", "single", "grid", "combination"),
        "columns": integer(0, 64),
        "gap": number(0, 0.5),
        "overlap": number(0, 0.6),
        "secondary_scale": number(0.2, 1),
        "shadow": SHADOW,
    },
    "compare": {
        "size": size,
        "background": colour,
        "fill": number(0.05, 1),
        "gap": number(0, 0.5),
        "caption_height": number(0.05, 0.8),
        "scale": choice("same", "fit"),
        "text_colour": colour_or_auto,
        "name": TEXT_STYLE,
        "details": TEXT_STYLE,
        "shadow": SHADOW,
    },
    "ad": {
        "sizes": sizes,
        "background": choice("generated", "image", "colour"),
        "background_colour": colour,
        "text_colour": colour_or_auto,
        "cta_colour": colour,
        "cta_text_colour": colour_or_auto,
        "headline": text,
        "cta": text,
        "fill": number(0.05, 1),
        "landscape": AD_BOXES,
        "portrait": AD_BOXES,
        "headline_style": TEXT_STYLE,
        "cta_style": TEXT_STYLE,
        "shadow": SHADOW,
    },
}

_TEXT_DEFAULT = {"font": None, "max_size": 64, "min_size": 10}
DEFAULTS: dict[str, dict[str, Any]] = {
    "display": {
        "size": [1000, 1000],
        "background": "#ffffff",
        "fill": 0.8,
        "arrangement": "auto",
        "columns": 0,
        "gap": 0.04,
        "overlap": 0.2,
        "secondary_scale": 0.75,
        "shadow": {"opacity": 0.35, "height": 0.06, "blur": 0.012},
    },
    "compare": {
        "size": [1600, 900],
        "background": "#ffffff",
        "fill": 0.85,
        "gap": 0.03,
        "caption_height": 0.3,
        "scale": "same",
        "text_colour": "auto",
        "name": {**_TEXT_DEFAULT, "max_size": 40},
        "details": {**_TEXT_DEFAULT, "max_size": 28},
        "shadow": {"opacity": 0.3, "height": 0.05, "blur": 0.01},
    },
    "ad": {
        "sizes": [[1200, 628], [1080, 1080]],
        "background": "generated",
        "background_colour": "#f2efe9",
        "text_colour": "auto",
        "cta_colour": "#1f2937",
        "cta_text_colour": "auto",
        "headline": "New in store",
        "cta": "Shop now",
        "fill": 0.9,
        "landscape": {
            "product": [0.52, 0.06, 0.44, 0.88],
            "headline": [0.06, 0.14, 0.42, 0.44],
            "cta": [0.06, 0.66, 0.26, 0.16],
        },
        "portrait": {
            "product": [0.12, 0.05, 0.76, 0.58],
            "headline": [0.08, 0.66, 0.84, 0.16],
            "cta": [0.3, 0.84, 0.4, 0.1],
        },
        "headline_style": {**_TEXT_DEFAULT, "max_size": 96, "min_size": 12},
        "cta_style": {**_TEXT_DEFAULT, "max_size": 48, "min_size": 10},
        "shadow": {"opacity": 0.3, "height": 0.05, "blur": 0.01},
    },
}


def _merge(where: str, schema: dict, defaults: dict, given: Any) -> dict:
    if not isinstance(given, dict):
        raise InputError(f"{where}: must be an object (a mapping of fields)")
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise InputError(
            f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(schema))})"
        )
    out = {}
    for key, rule in schema.items():
        value = given.get(key, defaults[key])
        if isinstance(rule, dict):
            out[key] = _merge(f"{where}.{key}", rule, defaults[key], value)
            continue
        try:
            out[key] = rule(value)
        except ValueError as exc:
            raise InputError(f"{where}.{key}: must be {exc}, got {json.dumps(value)}") from None
    return out


def _check_text_styles(where: str, section: dict) -> None:
    for key, value in section.items():
        if isinstance(value, dict) and value.get("min_size", 0) > value.get("max_size", 1e9):
            raise InputError(f"{where}.{key}.min_size: must be <= max_size ({value['max_size']})")


def resolve(section: str, given: dict | None = None, source: str = "layout") -> dict:
    """The ``section``'s fields: defaults overridden by ``given``, each checked and normalised."""
    if section not in SCHEMA:
        raise InputError(f"unknown layout section '{section}' (use {', '.join(SCHEMA)})")
    where = f"{source}: {section}"
    out = _merge(where, SCHEMA[section], DEFAULTS[section], given or {})
    _check_text_styles(where, out)
    return out


def read_layout_file(path: str | Path) -> dict:
    """The raw mapping of a layout file (.json, or .yaml/.yml when PyYAML is installed)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such layout file")
    raw = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # optional: JSON needs nothing
        except ImportError as exc:
            raise MissingDependency("pyyaml", None, "a YAML layout file") from exc
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            at = f" at line {line + 1}" if line is not None else ""
            raise InputError(f"{p}: not valid YAML{at}") from None
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{p}: a layout file must hold an object with display/compare/ad")
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise InputError(f"{p}: {unknown[0]}: unknown section (known: {', '.join(SCHEMA)})")
    return data


def load_layout(section: str, path: str | Path | None = None, **overrides: Any) -> dict:
    """The checked layout of one command: defaults < the file's section < non-None overrides."""
    given = copy.deepcopy(read_layout_file(path).get(section, {})) if path else {}
    source = str(path) if path else "layout"
    if not isinstance(given, dict):
        raise InputError(f"{source}: {section}: must be an object (a mapping of fields)")
    given.update({k: v for k, v in overrides.items() if v is not None})
    return resolve(section, given, source)
