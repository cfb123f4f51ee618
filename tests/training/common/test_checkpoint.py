"""Checkpoints: a resume never runs code, a save is one unit, the source hash is checked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ptx.errors import InputError, ModelError
from ptx.training.common import checkpoint as ck
from ptx.training.common import registry

torch = pytest.importorskip("torch")


def _model(seed: int):
    fam = registry.get("enhance")
    torch.manual_seed(seed)
    cfg = fam.config(**fam.test_config)
    return fam.build(cfg), fam.make_spec(cfg)


class _Touch:
    """A pickle that creates a file when unpickled (a stand-in for arbitrary code)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_resume_state_never_runs_code(tmp_path) -> None:
    model, spec = _model(0)
    ck.save_checkpoint(tmp_path, model, spec, {"step": 3})
    marker = tmp_path / "pwned"
    (tmp_path / ck.MANIFEST).unlink()  # an attacker-supplied folder has no matching manifest
    torch.save({"step": 3, "x": _Touch(marker)}, tmp_path / ck.STATE)
    with pytest.raises(ModelError, match="never runs code") as err:
        ck.load_state(tmp_path)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_state_round_trip_with_numpy_rng(tmp_path) -> None:
    import numpy as np

    model, spec = _model(0)
    rng = np.random.default_rng(1)
    state = {"step": 5, "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state}
    ck.save_checkpoint(tmp_path, model, spec, state)
    back = ck.load_state(tmp_path)
    assert back["step"] == 5 and back["numpy_rng"] == rng.bit_generator.state


def test_interrupted_resave_keeps_the_old_unit(tmp_path, monkeypatch) -> None:
    old, spec = _model(0)
    ck.save_checkpoint(tmp_path, old, spec, {"step": 1})
    new, spec2 = _model(1)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)  # dies after the new weights are written
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(tmp_path, new, spec2, {"step": 2})
    monkeypatch.undo()
    loaded, _ = ck.load_checkpoint(tmp_path)
    for k, v in old.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert ck.load_state(tmp_path)["step"] == 1
    assert not (tmp_path / ck.STAGE).exists()


def test_save_killed_after_commit_is_finished_on_load(tmp_path, monkeypatch) -> None:
    old, spec = _model(0)
    ck.save_checkpoint(tmp_path, old, spec, {"step": 1})
    new, spec2 = _model(1)
    monkeypatch.setattr(ck, "_apply", lambda out, commit: None)  # killed at the commit point
    ck.save_checkpoint(tmp_path, new, spec2, {"step": 2})
    monkeypatch.undo()
    assert (tmp_path / ck.STAGE / ck.COMMIT).is_file()
    loaded, _ = ck.load_checkpoint(tmp_path)
    for k, v in new.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert ck.load_state(tmp_path)["step"] == 2


def test_weights_from_another_save_are_refused(tmp_path) -> None:
    a, spec_a = _model(0)
    ck.save_checkpoint(tmp_path / "a", a, spec_a)
    b, spec_b = _model(1)
    ck.save_checkpoint(tmp_path / "b", b, spec_b)
    os.replace(tmp_path / "b" / ck.WEIGHTS, tmp_path / "a" / ck.WEIGHTS)
    with pytest.raises(ModelError, match="source_hash") as err:
        ck.load_checkpoint(tmp_path / "a")
    assert "\n" not in str(err.value)


def test_state_from_another_save_is_refused(tmp_path) -> None:
    a, spec = _model(0)
    ck.save_checkpoint(tmp_path / "a", a, spec, {"step": 1})
    ck.save_checkpoint(tmp_path / "b", a, spec, {"step": 2})
    os.replace(tmp_path / "b" / ck.STATE, tmp_path / "a" / ck.STATE)
    with pytest.raises(ModelError, match="does not belong"):
        ck.load_state(tmp_path / "a")


def test_save_without_state_drops_an_old_state(tmp_path) -> None:
    a, spec = _model(0)
    ck.save_checkpoint(tmp_path, a, spec, {"step": 1})
    ck.save_checkpoint(tmp_path, a, spec)
    assert ck.load_state(tmp_path) is None
    assert json.loads((tmp_path / ck.MANIFEST).read_text())["remove"] == [ck.STATE]


def test_uncommitted_stage_is_discarded(tmp_path) -> None:
    a, spec = _model(0)
    ck.save_checkpoint(tmp_path, a, spec)
    (tmp_path / ck.STAGE).mkdir()
    (tmp_path / ck.STAGE / ck.WEIGHTS).write_bytes(b"half")
    ck.load_checkpoint(tmp_path)
    assert not (tmp_path / ck.STAGE).exists()


def test_an_unwritable_place_is_one_line(tmp_path) -> None:
    (tmp_path / "file").write_text("not a folder")
    a, spec = _model(0)
    with pytest.raises(InputError, match="cannot write a checkpoint here") as err:
        ck.save_checkpoint(tmp_path / "file" / "ckpt", a, spec)
    assert "\n" not in str(err.value)
