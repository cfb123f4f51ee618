"""The layout file: defaults, a platform's overrides, and one clear line for each bad field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptx.errors import InputError
from ptx.studio.layout import DEFAULTS, load_layout, resolve


def write(tmp_path: Path, data, name: str = "layout.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_defaults_are_valid_and_normalised() -> None:
    for section in DEFAULTS:
        resolve(section)
    display = resolve("display")
    assert display["size"] == (1000, 1000) and display["background"] == (255, 255, 255)
    assert resolve("ad")["sizes"] == [(1200, 628), (1080, 1080)]
    assert resolve("compare")["text_colour"] is None  # auto


def test_file_overrides_defaults_and_flags_override_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "display": {"size": [800, 600], "background": "#eeeeee", "shadow": {"opacity": 0}},
            "ad": {"headline": "Summer sale", "sizes": [[300, 250]]},
        },
    )
    display = load_layout("display", path)
    assert display["size"] == (800, 600) and display["background"] == (238, 238, 238)
    assert display["shadow"] == {**resolve("display")["shadow"], "opacity": 0.0}
    assert display["fill"] == DEFAULTS["display"]["fill"]  # untouched fields keep defaults
    assert load_layout("display", path, size=[64, 64], fill=None)["size"] == (64, 64)
    ad = load_layout("ad", path)
    assert ad["headline"] == "Summer sale" and ad["sizes"] == [(300, 250)]
    assert load_layout("compare", path) == resolve("compare")  # a section left out: defaults


def test_yaml_layout(tmp_path: Path) -> None:
    pytest.importorskip("yaml")  # YAML layouts are optional (PyYAML); JSON needs nothing
    path = write(tmp_path, "display:\n  size: [640, 480]\n  arrangement: grid\n", "t.yaml")
    layout = load_layout("display", path)
    assert layout["size"] == (640, 480) and layout["arrangement"] == "grid"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"display": {"fil": 0.5}}, r"display\.fil: unknown field \(known: arrangement"),
        ({"display": {"fill": 2}}, r"display\.fill: must be a number in 0\.05\.\.1, got 2"),
        ({"display": {"fill": "big"}}, r'display\.fill: must be a number .*, got "big"'),
        ({"display": {"size": [1000]}}, r"display\.size: must be \[width, height\]"),
        ({"display": {"size": [10, 1000]}}, r"display\.size: must be .*16\.\.8192"),
        ({"display": {"background": "#zz"}}, r"display\.background: must be a colour"),
        ({"display": {"shadow": {"blur": -1}}}, r"display\.shadow\.blur: must be a number"),
        ({"display": {"shadow": 3}}, r"display\.shadow: must be an object"),
        ({"display": {"arrangement": "pile"}}, r"must be one of auto, single, grid"),
        ({"ad": {"sizes": []}}, r"ad\.sizes: must be a list of \[width, height\] pairs"),
        ({"ad": {"landscape": {"cta": [0.9, 0.1, 0.2, 0.1]}}}, r"ad\.landscape\.cta: must be"),
        ({"ad": {"cta_style": {"min_size": 50, "max_size": 20}}}, r"min_size: must be <= max"),
        ({"compare": {"columns": 2}}, r"compare\.columns: unknown field"),
        ({"banner": {}}, r"banner: unknown section \(known: display, compare, ad\)"),
        ([1, 2], r"must hold an object"),
        ("{not json", r"not valid JSON \(.* at line 1\)"),
    ],
)
def test_bad_fields_are_one_clear_line(tmp_path: Path, data, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError, match=message) as info:
        for section in ("display", "compare", "ad"):
            load_layout(section, path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_layout_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such layout file"):
        load_layout("display", tmp_path / "nope.json")
