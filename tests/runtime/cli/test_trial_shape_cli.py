"""`ptx serve --trial-shape`: parsed with ptx.tensors, one line when bad, passed to the trial."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError
from ptx.runtime.backends.auto import select
from ptx.runtime.backends.auto.cache import CACHE_SUFFIX
from ptx.runtime.cli import serve as serve_cli
from ptx.runtime.cli._common import trial_shapes

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def serve(*args: str):
    return CliRunner().invoke(main, ["serve", "--port", "0", *args])


def test_trial_shapes_parse_and_refuse_bad_text():
    assert trial_shapes(("image:1x3x512x512", "mask:1x1x8x8")) == {
        "image": (1, 3, 512, 512),
        "mask": (1, 1, 8, 8),
    }
    assert trial_shapes(()) == {}
    for bad, words in (
        ("image:1x3xbig", "expected integers joined by x"),
        ("1x3x8x8", "expected NAME:SHAPE"),
        ("image:1x3x0x8", "every dim must be >= 1"),
        ("image:1x3x8x8:float16", "no dtype"),
    ):
        with pytest.raises(InputError, match=words):
            trial_shapes((bad,))
    with pytest.raises(InputError, match="given twice"):
        trial_shapes(("image:1x3x8x8", "image:1x3x16x16"))


def test_serve_help_and_a_bad_shape_is_one_line(models):
    assert "--trial-shape" in CliRunner().invoke(main, ["serve", "--help"]).stdout
    for shape in ("image:1x3xbig", "image:1x3x8"):
        res = serve("--model", f"m={models['affine']}", "--trial-shape", shape)
        assert res.exit_code == 2, res.output
        assert res.stderr.strip().count("\n") == 0 and "trial" in res.stderr.lower()


def test_serve_runs_the_trial_at_the_given_shape(models, monkeypatch):
    pytest.importorskip("openvino")  # a second CPU backend: something to trial
    monkeypatch.setattr(serve_cli, "serve_forever", lambda app, config, **_: None)
    res = serve("--model", f"m={models['affine']}", "--trial-shape", "image:1x3x24x40", "--json")
    assert res.exit_code == 0, res.output
    params = json.loads(res.stdout)["models"]["m"]["parameters"]
    assert params["precision"] in ("fp32", "bf16", "fp16", "int8") and params["backend"]
    cache = models["affine"].with_name("affine.onnx" + CACHE_SUFFIX)
    keys = json.loads(cache.read_text())["choices"]
    assert [k.split("|")[0] for k in keys] == ["image:1x3x24x40"]
    (entry,) = keys.values()
    assert entry["shapes"] == {"image": [1, 3, 24, 40]}
