"""`ptx train cutout`: a tiny real run writes a checkpoint with held-out scores, and resumes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ptx.cli import main
from ptx.spec import ModelSpec
from ptx.training.common.checkpoint import load_checkpoint, load_state
from ptx.training.cutout.train import train_cutout

TINY = {"width": 4, "context": 16, "work_side": 64}


def test_train_then_resume(tmp_path) -> None:
    out = tmp_path / "ckpt"
    m = train_cutout(
        out, steps=2, images=4, size=64, batch=2, patch=48, progress=False,
        config=TINY, held_out_images=2, threads=1,
    )  # fmt: skip
    assert m["steps"] == 2.0 and 0.0 <= m["val_iou"] <= 1.0 and 0.0 <= m["val_mae"] <= 1.0
    spec = ModelSpec.load(out / "spec.json")
    assert spec.family == "cutout" and spec.metrics["val_mae"] == m["val_mae"]
    assert load_state(out)["step"] == 2
    m2 = train_cutout(
        out, steps=3, images=4, size=64, batch=2, patch=48, progress=False,
        resume=True, held_out_images=2, threads=1,
    )  # fmt: skip
    assert m2["steps"] == 3.0
    model, spec2 = load_checkpoint(out, family="cutout")
    assert spec2.config["width"] == 4


def test_cli_refuses_a_bad_patch(tmp_path) -> None:
    args = ["train", "cutout", "--out", str(tmp_path / "c"), "--size", "64", "--patch", "96"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code != 0
    assert "patch" in result.output
    assert not (tmp_path / "c" / "spec.json").exists()


def test_cli_train_json(tmp_path) -> None:
    args = ["train", "cutout", "--out", str(tmp_path / "c"), "--steps", "1", "--images", "2"]
    args += ["--size", "48", "--patch", "32", "--batch", "1", "--width", "4", "--held-out", "2"]
    args += ["--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["steps"] == 1.0 and "val_iou" in report


def test_init_warm_starts_from_a_checkpoint(tmp_path) -> None:
    """--init: a new run starts from another checkpoint's weights and config, step 0."""
    import pytest
    import torch

    from ptx.errors import InputError

    a, b = tmp_path / "a", tmp_path / "b"
    train_cutout(
        a, steps=2, images=2, size=48, batch=1, patch=32, progress=False,
        config=TINY, held_out_images=1, threads=1,
    )  # fmt: skip
    train_cutout(
        b, steps=0, images=2, size=48, batch=1, patch=32, progress=False,
        init=a, held_out_images=1, threads=1,
    )  # fmt: skip
    ma, _ = load_checkpoint(a, family="cutout")
    mb, spec_b = load_checkpoint(b, family="cutout")
    assert spec_b.config["width"] == 4 and load_state(b)["step"] == 0
    for (ka, va), (kb, vb) in zip(ma.state_dict().items(), mb.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    with pytest.raises(InputError):
        train_cutout(b, steps=1, images=2, size=48, batch=1, patch=32, resume=True, init=a)


def test_work_side_goes_into_the_spec(tmp_path) -> None:
    """--work-side sets the side the runtime runs the net at; nonsense is refused up front."""
    import pytest

    from ptx.errors import InputError

    a = tmp_path / "a"
    train_cutout(
        a, steps=1, images=2, size=48, batch=1, patch=32, progress=False,
        config=TINY, held_out_images=1, threads=1, work_side=48,
    )  # fmt: skip
    assert ModelSpec.load(a / "spec.json").config["work_side"] == 48
    with pytest.raises(InputError, match="work-side"):
        train_cutout(
            tmp_path / "b", steps=1, images=2, size=48, batch=1, patch=32, progress=False,
            config=TINY, work_side=8,
        )  # fmt: skip
    assert not (tmp_path / "b" / "spec.json").exists()
    c = tmp_path / "c"  # none given: a fresh run runs at its render size
    train_cutout(
        c, steps=0, images=2, size=40, batch=1, patch=32, progress=False,
        config={"width": 4, "context": 16}, held_out_images=1, threads=1,
    )  # fmt: skip
    assert ModelSpec.load(c / "spec.json").config["work_side"] == 40


def test_cli_work_side(tmp_path) -> None:
    """`ptx train cutout --work-side N` writes N into the spec the runtime reads."""
    args = ["train", "cutout", "--out", str(tmp_path / "c"), "--steps", "0", "--images", "2"]
    args += ["--size", "48", "--patch", "32", "--batch", "1", "--width", "4", "--held-out", "1"]
    result = CliRunner().invoke(main, [*args, "--work-side", "96", "--json"])
    assert result.exit_code == 0, result.output
    assert ModelSpec.load(tmp_path / "c" / "spec.json").config["work_side"] == 96


def test_flip_average_goes_into_the_spec(tmp_path) -> None:
    """Fresh runs ask the runtime to flip-average; --init keeps the checkpoint's unless told."""
    a = tmp_path / "a"
    args = ["train", "cutout", "--out", str(a), "--steps", "0", "--images", "2", "--size", "40"]
    args += ["--patch", "32", "--batch", "1", "--width", "4", "--held-out", "1"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert ModelSpec.load(a / "spec.json").config["flip_average"] is True
    b = tmp_path / "b"
    args[3] = str(b)
    result = CliRunner().invoke(main, [*args, "--no-flip-average"])
    assert result.exit_code == 0, result.output
    assert ModelSpec.load(b / "spec.json").config["flip_average"] is False
    c = tmp_path / "c"  # a warm start keeps its checkpoint's choice
    train_cutout(
        c, steps=0, images=2, size=40, batch=1, patch=32, progress=False,
        held_out_images=1, threads=1, init=b,
    )  # fmt: skip
    assert ModelSpec.load(c / "spec.json").config["flip_average"] is False


def test_refine_goes_into_the_spec_and_init_says_task_cutout(tmp_path) -> None:
    """Fresh runs ask the runtime to refine with GrabCut; --no-refine / --init as flip-average."""
    a = tmp_path / "a"
    args = ["train", "cutout", "--out", str(a), "--steps", "0", "--images", "2", "--size", "40"]
    args += ["--patch", "32", "--batch", "1", "--width", "4", "--held-out", "1"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert ModelSpec.load(a / "spec.json").config["refine"] == "grabcut"
    b = tmp_path / "b"
    args[3] = str(b)
    assert CliRunner().invoke(main, [*args, "--no-refine"]).exit_code == 0
    assert ModelSpec.load(b / "spec.json").config["refine"] is None
    old = ModelSpec.load(b / "spec.json")  # a checkpoint from before the 'cutout' task
    old.task = "custom"
    old.save(b / "spec.json")
    c = tmp_path / "c"
    train_cutout(
        c, steps=0, images=2, size=40, batch=1, patch=32, progress=False,
        held_out_images=1, threads=1, init=b,
    )  # fmt: skip
    spec = ModelSpec.load(c / "spec.json")
    assert spec.config["refine"] is None and spec.task == "cutout"


def test_refiner_wraps_an_init_checkpoint(tmp_path) -> None:
    """--refiner N: the --init net becomes the frozen coarse stage, the work side doubles."""
    import pytest
    import torch

    from ptx.errors import InputError

    a, b = tmp_path / "a", tmp_path / "b"
    train_cutout(
        a, steps=1, images=2, size=48, batch=1, patch=32, progress=False,
        config=TINY, held_out_images=1, threads=1, work_side=48,
    )  # fmt: skip
    args = ["train", "cutout", "--out", str(b), "--init", str(a), "--refiner", "4"]
    args += ["--steps", "2", "--images", "2", "--size", "64", "--patch", "64", "--batch", "1"]
    result = CliRunner().invoke(main, [*args, "--held-out", "1", "--json"])
    assert result.exit_code == 0, result.output
    ma, _ = load_checkpoint(a, family="cutout")
    mb, spec = load_checkpoint(b, family="cutout")
    assert spec.config["refiner"] == 4 and spec.config["work_side"] == 96
    for k, v in ma.state_dict().items():
        assert torch.equal(mb.coarse.state_dict()[k], v), k
    assert float(mb.head.weight.abs().sum()) > 0.0  # the refiner trained
    with pytest.raises(InputError, match="--init"):
        train_cutout(
            tmp_path / "c", steps=1, images=2, size=48, batch=1, patch=32, progress=False,
            config={**TINY, "refiner": 4}, held_out_images=1, threads=1,
        )  # fmt: skip
    again = ["train", "cutout", "--out", str(tmp_path / "e"), "--init", str(b), "--refiner", "4"]
    result = CliRunner().invoke(main, again)  # a refined checkpoint gets no second refiner
    assert result.exit_code != 0 and "already has an edge refiner" in result.output
    bad = ["train", "cutout", "--out", str(tmp_path / "f"), "--init", str(a), "--refiner", "-2"]
    result = CliRunner().invoke(main, bad)
    assert result.exit_code != 0 and "at least 1 channel" in result.output


def test_train_coarse_unfreezes_a_refined_models_net(tmp_path) -> None:
    """--train-coarse: the coarse net under the refiner learns too; a plain net is refused."""
    import pytest
    import torch

    from ptx.errors import InputError

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    kw = dict(images=2, batch=1, progress=False, held_out_images=1, threads=1)
    train_cutout(a, steps=1, size=48, patch=32, config=TINY, **kw)
    train_cutout(b, steps=1, size=64, patch=64, init=a, config={"refiner": 4}, **kw)
    train_cutout(c, steps=2, size=64, patch=64, init=b, train_coarse=True, **kw)
    train_cutout(c, steps=3, size=64, patch=64, resume=True, **kw)  # the resume keeps it
    assert load_state(c)["train_coarse"] is True and load_state(c)["step"] == 3
    mb, _ = load_checkpoint(b, family="cutout")
    mc, _ = load_checkpoint(c, family="cutout")
    moved = [
        k
        for k, v in mb.coarse.state_dict().items()
        if not torch.equal(v, mc.coarse.state_dict()[k])
    ]
    assert any(k.endswith("weight") for k in moved) and any("running_mean" in k for k in moved)
    with pytest.raises(InputError, match="refiner"):
        train_cutout(tmp_path / "d", steps=1, size=48, patch=32, init=a, train_coarse=True, **kw)
