"""The try-on family: the U-Net's shapes and start, a tiny pix2pix run, resume and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.tryon.model import TEST_CONFIG, build, build_discriminator, make_spec
from ptx.training.tryon.train import train_tryon

TINY = {**TEST_CONFIG, "side": 24}


def test_the_net_takes_any_size_and_starts_as_the_bare_mannequin() -> None:
    net = build(TINY).eval()
    with torch.no_grad():
        for h, w in ((16, 16), (17, 23), (40, 24)):
            g, m = torch.rand(2, 3, h, w), torch.rand(2, 3, h, w)
            y = net(g, m)
            assert y.shape == (2, 3, h, w)
            assert torch.equal(y, m)  # zero tail: the identity on the mannequin
    critic = build_discriminator(TINY)
    logits = critic(*(torch.rand(1, 3, 32, 32) for _ in range(3)))
    assert logits.shape[:2] == (1, 1) and logits.shape[-1] > 1  # a map of patch logits


def test_the_spec_names_both_inputs() -> None:
    spec = make_spec(TINY)
    assert [t.name for t in spec.inputs] == ["garment", "mannequin"]
    assert spec.outputs[0].name == "tryon" and spec.family == "tryon"
    assert spec.config["side"] == 24


def test_a_tiny_run_learns_trains_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "ck"
    m = train_tryon(out, 6, batch=2, config=TINY, n_val=3, threads=1, progress=False,
                    checkpoint_every=3, lr=2e-3)  # fmt: skip
    assert m["steps"] == 6 and np.isfinite(m["val_psnr"]) and 0 < m["val_ssim"] <= 1
    assert m["val_garment_de2000"] > 0
    model, spec = load_checkpoint(out, family="tryon")
    assert not torch.equal(model.tail.weight, torch.zeros_like(model.tail.weight))  # it moved
    state = load_state(out)
    assert state["step"] == 6 and "critic" in state and "critic_optimizer" in state
    m2 = train_tryon(out, 8, batch=2, n_val=3, threads=1, progress=False, resume=True)
    assert m2["steps"] == 8 and load_state(out)["step"] == 8


def test_bad_arguments_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="batch >= 1"):
        train_tryon(tmp_path / "x", 2, batch=0, config=TINY, progress=False)
    with pytest.raises(InputError, match="at least 16"):
        train_tryon(tmp_path / "y", 2, config={**TINY, "side": 8}, progress=False)


def test_the_cli_trains(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["train", "tryon", "--out", str(out), "--steps", "2", "--batch", "1", "--side", "24",
            "--width", "4", "--depth", "2", "--val", "2", "--threads", "1", "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["steps"] == 2 and report["checkpoint"] == str(out)
