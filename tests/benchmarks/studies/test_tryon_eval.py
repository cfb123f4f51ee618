"""The try-on evaluation: held-out samples, the three methods' scores, tables, sheet and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.benchmarks.studies import tryon_eval
from ptx.errors import InputError
from ptx.io import read_image


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from ptx.export.pytorch.export import export_checkpoint
    from ptx.training.common import registry
    from ptx.training.common.checkpoint import save_checkpoint

    tmp = tmp_path_factory.mktemp("tryon-eval")
    fam = registry.get("tryon")
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp / "ckpt", fam.build(cfg), fam.make_spec(cfg))
    out = tmp / "tryon.onnx"
    export_checkpoint(ckpt, out, size=(24, 24), exporter="torchscript", opset=17)
    return out


def test_a_perfect_dresser_scores_zero_colour_error_and_beats_the_baselines() -> None:
    samples = tryon_eval.held_out(6, 24)
    truth = {id(s.garment): s.truth for s in samples}
    done = tryon_eval.evaluate(samples, lambda g, m: [truth[id(x)] for x in g])
    overall = done["result"]["overall"]
    assert overall["model"]["garment_de2000"] == 0.0 and overall["model"]["ssim"] > 0.999
    assert overall["paste"]["garment_de2000"] < overall["bare"]["garment_de2000"]
    kinds = done["result"]["by_kind"]
    assert sum(row["n"] for row in kinds.values()) == 6
    assert set(done["result"]["by_pattern"]) <= {"solid", "stripes", "checks", "dots", "texture"}
    text = tryon_eval.markdown(done["result"], "perfect")
    assert "| overall | 6 |" in text and "By garment pattern" in text
    with pytest.raises(InputError, match="at least 1 sample"):
        tryon_eval.held_out(0, 24)


def test_the_command_scores_an_untrained_model_as_the_bare_mannequin(
    model: Path, tmp_path: Path
) -> None:
    sheet, samples = tmp_path / "sheet.png", tmp_path / "samples"
    args = ["--model", str(model), "--n", "5", "--sheet", str(sheet), "--sheet-rows", "3",
            "--sheet-scale", "2", "--samples", str(samples), "--out", str(tmp_path / "res"),
            "--json"]  # fmt: skip
    result = CliRunner().invoke(tryon_eval.main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    # A fresh model is the bare mannequin (zero last conv): its scores are the bare ones.
    assert report["overall"]["model"] == pytest.approx(report["overall"]["bare"], abs=1e-6)
    assert report["side"] == 24 and (tmp_path / "res" / "tryon_eval.md").is_file()
    assert read_image(sheet).shape == (3 * 50 + 2, 4 * 50 + 2, 3)  # 24 px tiles at x2
    assert len(list((samples / "garments").iterdir())) == 5
    assert np.asarray(read_image(samples / "mannequins" / "m000.png")).shape == (24, 24, 3)
