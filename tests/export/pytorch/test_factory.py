"""User-model factories, weights and `--input` declarations: the happy paths and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from ptx.cli import main
from ptx.errors import InputError
from ptx.export.pytorch.factory import InputDecl, build_user_model, load_factory, parse_input

FIXTURES = Path(__file__).parent / "fixtures"
CONV = FIXTURES / "conv_model.py"


# -- parse_input --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("x:1x3x256x256", InputDecl("x", (1, 3, 256, 256), "float32")),
        ("label:1:int64", InputDecl("label", (1,), "int64")),
        ("label:4:int64:10", InputDecl("label", (4,), "int64", 10)),
        ("t::float32", InputDecl("t", (), "float32")),
        ("x:2X3X8X8:float16", InputDecl("x", (2, 3, 8, 8), "float16")),
        # ptx.tensors' vocabulary: its aliases name the same spec dtype everywhere.
        ("x:1x3x8x8:half", InputDecl("x", (1, 3, 8, 8), "float16")),
        ("label:1:INT32:4", InputDecl("label", (1,), "int32", 4)),
    ],
)
def test_parse_input_accepts(text: str, want: InputDecl) -> None:
    assert parse_input(text) == want


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x", "expected NAME:DIMS"),
        ("x:1x3xa", "expected integers"),
        ("x:1x0x4", ">= 1"),
        ("x:1x3:float64", "unknown dtype 'float64' for a model input"),
        ("x:1x3:complex", "unknown dtype 'complex' for a model input"),
        ("3x:1", "not a valid input name"),
        ("x:1:float32:10", "only applies to integer"),
        ("label:1:int64:zero", "HIGH must be"),
        ("a:1:int64:3:extra", "expected NAME:DIMS"),
    ],
)
def test_parse_input_rejects_with_one_line(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as info:
        parse_input(text)
    assert "\n" not in str(info.value)


# -- load_factory -------------------------------------------------------------------
def test_factory_by_file_path_returns_the_function() -> None:
    factory = load_factory(f"{CONV}:make_net")
    assert factory.__name__ == "make_net"
    assert isinstance(factory(), torch.nn.Module)


def test_factory_by_module_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.delitem(sys.modules, "label_model", raising=False)
    factory = load_factory("label_model:make_conditional")
    assert type(factory()).__name__ == "Conditional"


def test_two_files_with_the_same_stem_stay_apart(tmp_path: Path) -> None:
    for sub, value in (("a", 1), ("b", 2)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "model.py").write_text(f"def f():\n    return {value}\n")
    assert load_factory(f"{tmp_path / 'a' / 'model.py'}:f")() == 1
    assert load_factory(f"{tmp_path / 'b' / 'model.py'}:f")() == 2


def test_file_may_import_its_siblings(tmp_path: Path) -> None:
    (tmp_path / "helper_for_ptx_test.py").write_text("WIDTH = 5\n")
    (tmp_path / "m.py").write_text(
        "import torch\nfrom helper_for_ptx_test import WIDTH\n"
        "def f():\n    return torch.nn.Linear(WIDTH, 2)\n"
    )
    assert build_user_model(f"{tmp_path / 'm.py'}:f").in_features == 5


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (f"{CONV}", "names no factory"),
        (f"{CONV}:no_such_factory", "has no 'no_such_factory'.*make_net"),
        (f"{FIXTURES}/missing.py:f", "does not exist"),
        ("ptx_no_such_module_xyz:f", "cannot import module"),
        (f"{CONV}:torch", "not a callable"),
    ],
)
def test_load_factory_errors(target: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        load_factory(target)


def test_file_that_fails_to_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('broken on purpose')\n")
    with pytest.raises(InputError, match="importing it failed: ValueError: broken on purpose"):
        load_factory(f"{bad}:f")


def test_factory_must_return_a_module() -> None:
    with pytest.raises(InputError, match="returned a int, not a torch.nn.Module"):
        build_user_model(f"{CONV}:not_a_module")


def test_factory_that_raises() -> None:
    with pytest.raises(InputError, match="raised RuntimeError: no weights here"):
        build_user_model(f"{CONV}:raises")


# -- weights ------------------------------------------------------------------------
def _shifted_state(shift: float) -> dict[str, torch.Tensor]:
    net = load_factory(f"{CONV}:make_net")()
    return {k: v + shift for k, v in net.state_dict().items()}


def test_weights_from_safetensors_and_torch_state_dicts(tmp_path: Path) -> None:
    state = _shifted_state(0.5)
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pt")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "lightning.pth")
    for name in ("w.safetensors", "w.pt", "lightning.pth"):
        net = build_user_model(f"{CONV}:make_net", tmp_path / name)
        assert not net.training
        for k, v in net.state_dict().items():
            assert torch.equal(v, state[k]), (name, k)


def test_weights_with_wrong_keys_name_them(tmp_path: Path) -> None:
    state = _shifted_state(0.0)
    state["extra.weight"] = state.pop("tail.bias")
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(InputError, match=r"missing 1 key\(s\) \(tail.bias\).*unexpected 1 key"):
        build_user_model(f"{CONV}:make_net", tmp_path / "w.safetensors")


def test_weights_with_wrong_shapes_name_them(tmp_path: Path) -> None:
    state = _shifted_state(0.0)
    state["head.weight"] = torch.zeros(8, 3, 3, 3)
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(InputError, match=r"head.weight \[8, 3, 3, 3\] vs model \[4, 3, 3, 3\]"):
        build_user_model(f"{CONV}:make_net", tmp_path / "w.safetensors")


def test_weights_that_are_not_weights(tmp_path: Path) -> None:
    junk = tmp_path / "w.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot read weights"):
        build_user_model(f"{CONV}:make_net", junk)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(InputError, match="not a state dict"):
        build_user_model(f"{CONV}:make_net", tmp_path / "list.pt")
    with pytest.raises(InputError, match="does not exist"):
        build_user_model(f"{CONV}:make_net", tmp_path / "nope.pt")


# -- the command line turns each into one line and exit 2 -------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--model", f"{CONV}:no_such_factory", "--input", "x:1x3x8x8"],
        ["--model", f"{CONV}:not_a_module", "--input", "x:1x3x8x8"],
        ["--model", f"{CONV}:make_net", "--input", "x:1xx8"],
        ["--model", f"{CONV}:make_net"],
        ["--model", f"{CONV}:make_net", "--input", "x:1x3x8x8", "--input", "x:1x3x8x8"],
        ["--input", "x:1x3x8x8"],
        ["--model", f"{CONV}:make_net", "--checkpoint", "ckpt", "--input", "x:1x3x8x8"],
        ["--model", f"{CONV}:make_net", "--input", "x:1x3x8x8", "--size", "8x8"],
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
