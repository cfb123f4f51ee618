"""`ptx run generate --profile`: validation, weights -> counts, notes, images, grid (tiny GAN)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import LazyGroup
from ptx.errors import InputError
from ptx.io import read_image
from ptx.runtime import load
from ptx.runtime.pipelines.generate_profile import (
    Profile,
    generate_profile,
    load_profile,
    parse_profile,
    plan_variants,
)

VOCAB = {"category": ["mug", "bottle", "watch"], "color": ["red", "blue", "black"]}


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real gan family at its CI size, exported with its spec (labels, latent size)."""
    import torch

    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import save_checkpoint

    tmp = tmp_path_factory.mktemp("gan")
    fam = registry.get("gan")
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp / "ckpt", fam.build(cfg), fam.make_spec(cfg))
    out = tmp / "gan.onnx"
    export_checkpoint(ckpt, out)
    return out


def _ptx() -> LazyGroup:
    return LazyGroup(lazy={"generate": "ptx.runtime.cli.run_generate:run_generate_cmd"})


def test_weights_become_counts_by_largest_remainder() -> None:
    p = parse_profile({"colors": {"blue": 3, "red": 1}, "categories": {"mug": 2, "bottle": 1}})
    plan = plan_variants(p, VOCAB, 16)
    got = {(g["category"], g["color"]): k for g, k in plan.groups}
    # shares 6:3:2:1 of 16 -> 8, 4, 2.67, 1.33: the largest remainder gets the 16th
    assert got == {("mug", "blue"): 8, ("bottle", "blue"): 4, ("mug", "red"): 3,
                   ("bottle", "red"): 1}  # fmt: skip
    assert plan.n == 16 and plan.notes == []
    one = plan_variants(parse_profile({"colors": ["Blue", "red"]}), VOCAB, 5)
    assert [(g, k) for g, k in one.groups] == [({"color": "blue"}, 3), ({"color": "red"}, 2)]


def test_what_the_model_cannot_express_is_one_note_each() -> None:
    p = parse_profile({"colors": {"teal": 2, "red": 1}, "styles": {"minimal": 1}})
    plan = plan_variants(p, VOCAB, 4)
    assert plan.groups == [({"color": "red"}, 4)]
    assert len(plan.notes) == 2
    assert "color 'teal' left out" in plan.notes[0] and "red, blue, black" in plan.notes[0]
    assert "'styles' left out: this generator has no style label" in plan.notes[1]
    with pytest.raises(InputError, match="nothing this generator can express"):
        plan_variants(parse_profile({"styles": ["minimal"], "colors": ["teal"]}), VOCAB, 4)


@pytest.mark.parametrize(
    "data, lines",
    [
        ([1, 2], ["a profile is a JSON object"]),
        ({"colours": ["red"]}, ["field 'colours': unknown", "no preferences"]),
        ({"colors": {"red": -1}, "n": 0}, ["'n': need a whole number in 1..1024",
                                           "'red' needs a positive finite weight"]),
        ({"colors": [], "categories": [1], "seed": "x", "name": 3},
         ["'name': need a string", "'seed': need a whole number", "'colors': give an object",
          "'categories': a list must hold names"]),
        ({"n": 3}, ["no preferences"]),
    ],
)  # fmt: skip
def test_bad_profiles_are_one_line_per_bad_field(data, lines) -> None:
    with pytest.raises(InputError) as err:
        parse_profile(data, "u.json")
    text = str(err.value).splitlines()
    assert len(text) == len(lines)
    for line, want in zip(text, lines, strict=True):
        assert line.startswith("u.json: ") and want in line


def test_generation_follows_the_plan_and_the_seed(gan: Path) -> None:
    engine = load(gan, backend="onnxruntime")
    vocab = engine.spec.labels
    cat, col = vocab["category"][0], vocab["color"][1]
    p = Profile(preferences={"categories": {cat: 1}, "colors": {col: 1}})
    images, labels, plan = generate_profile(engine, p, n=3, seed=2)
    assert len(images) == 3 and all(lab == {"category": cat, "color": col} for lab in labels)
    again, _, _ = generate_profile(engine, p, n=3, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(images, again, strict=True))
    other, _, _ = generate_profile(engine, Profile(n=3, seed=5, preferences=p.preferences))
    assert not np.array_equal(images[0], other[0])
    free, labels, _ = generate_profile(engine, Profile(preferences={"colors": {col: 1.0}}), n=12)
    assert {lab["color"] for lab in labels} == {col}
    assert len({lab["category"] for lab in labels}) > 1  # categories drawn from the seed


def test_cli_profile_writes_variants_grid_and_notes(gan: Path, tmp_path: Path) -> None:
    vocab = load(gan, backend="onnxruntime").spec.labels
    c0, c1 = vocab["color"][:2]
    prof = tmp_path / "user.json"
    user = {"name": "ann", "n": 4, "seed": 1, "colors": {c0: 3, c1: 1, "teal": 1}}
    prof.write_text(json.dumps({**user, "styles": ["retro"]}))
    out = tmp_path / "out"
    args = ["generate", "--model", str(gan), "--profile", str(prof), "--out", str(out), "--json"]
    result = CliRunner().invoke(_ptx(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profile"] == "ann" and report["seed"] == 1 and len(report["images"]) == 4
    assert [g["count"] for g in report["groups"]] == [3, 1]
    assert [i["color"] for i in report["images"]] == [c0, c0, c0, c1]
    notes = [ln for ln in result.stderr.splitlines() if ln.startswith("note: ")]
    assert len(notes) == 2 and "teal" in notes[0] and "style" in notes[1]
    side = read_image(Path(report["images"][0]["path"])).shape[0]
    assert read_image(out / "grid.png").shape == (2 * (side + 2) + 2, 2 * (side + 2) + 2, 3)


@pytest.mark.parametrize(
    "content, extra, text",
    [
        ("{not json", [], "not JSON (Expecting property name"),
        ('{"colors": {"red": 0}}', [], "'red' needs a positive finite weight"),
        ('{"colors": ["red"]}', ["--label", "color=red"], "do not combine"),
    ],
)
def test_cli_bad_profile_is_one_line_nothing_written(gan, tmp_path, content, extra, text):
    prof = tmp_path / "p.json"
    prof.write_text(content)
    out = tmp_path / "out"
    args = ["generate", "--model", str(gan), "--profile", str(prof), "--out", str(out), *extra]
    result = CliRunner().invoke(_ptx(), args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("error:") and text in result.stderr
    assert not out.exists()


def test_a_missing_profile_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the profile"):
        load_profile(tmp_path / "absent.json")
