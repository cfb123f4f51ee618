"""NVRTC compiles every kernel for every target; the cache; the launch ABI vs the PTX."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ptx.errors import BuildError
from ptx.runtime.kernels import compile as kc
from ptx.runtime.kernels.params import inverse_params, letterbox_params, post_args, pre_args
from ptx.spec import ImageConvention

pytestmark = pytest.mark.skipif(
    not kc.nvrtc_available(), reason="NVRTC missing: pip install nvidia-cuda-nvrtc"
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path))
    return tmp_path / "kernels"


def test_every_kernel_compiles_for_every_target(cache):
    results = kc.compile_all(cache=False)
    assert [(r["kernel"], r["target"]) for r in results] == [
        (k, t) for k in kc.KERNELS for t in kc.TARGETS
    ]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    for name, entries in kc.KERNELS.items():
        for target in kc.CUBIN_TARGETS:
            image = kc.compile_kernel(name, target, cache=False).image
            assert image[:4] == b"\x7fELF"
            for entry in entries:
                assert entry.encode() in image  # the extern "C" symbol is unmangled
        ptx = kc.compile_kernel(name, kc.PTX_TARGET, cache=False).image.decode()
        assert ".target sm_75" in ptx
        for entry in entries:
            assert f".entry {entry}(" in ptx
    assert not cache.exists()  # cache=False wrote nothing


def test_cache_hits_and_recovers_from_a_corrupt_entry(cache):
    first = kc.compile_kernel("postprocess", "sm_86")
    assert not first.cached
    files = list(cache.iterdir())
    assert len(files) == 1 and kc.nvrtc_version() and "sm_86" in files[0].name
    again = kc.compile_kernel("postprocess", "sm_86")
    assert again.cached and again.image == first.image
    files[0].write_bytes(b"garbage" + first.image[7:])  # not an ELF any more
    fixed = kc.compile_kernel("postprocess", "sm_86")
    assert not fixed.cached and fixed.image[:4] == b"\x7fELF"
    assert files[0].read_bytes()[:4] == b"\x7fELF"


def test_cache_key_changes_with_options_target_and_version():
    base = kc.cache_key("preprocess", "sm_90", "13.0")
    assert base != kc.cache_key("preprocess", "sm_89", "13.0")
    assert base != kc.cache_key("preprocess", "sm_90", "13.1")
    assert base != kc.cache_key("preprocess", "sm_90", "13.0", ("--std=c++17", "-lineinfo"))
    assert base != kc.cache_key("postprocess", "sm_90", "13.0")


def test_a_broken_kernel_is_one_build_error_line(tmp_path, monkeypatch):
    for header in kc.HEADERS:
        (tmp_path / header).write_text((kc.HERE / header).read_text())
    src = kc.kernel_source("preprocess").replace("const int n = blockIdx.z;", "int n = undefined;")
    (tmp_path / "preprocess.cu").write_text(src)
    monkeypatch.setattr(kc, "HERE", tmp_path)
    with pytest.raises(BuildError) as err:
        kc.compile_kernel("preprocess", "sm_80", cache=False)
    assert "\n" not in str(err.value) and "undefined" in str(err.value)


PTX_TYPES = {"u64": 8, "u32": 4, "f32": 4}


def _ptx_params(entry: str) -> list[str]:
    name = "preprocess" if "pre" in entry else "postprocess"
    ptx = kc.compile_kernel(name, kc.PTX_TARGET, cache=False).image.decode()
    block = ptx.split(f".entry {entry}(", 1)[1].split(")", 1)[0]
    return re.findall(r"\.param \.(\w+) ", block)


def _kind(numpy_type: type) -> str:
    dt = np.dtype(numpy_type)
    return {"f": "f32"}.get(dt.kind, "u64" if dt.itemsize == 8 else "u32")


def test_launch_arguments_match_the_compiled_signatures():
    conv = ImageConvention(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    pre = letterbox_params((40, 60), (32, 32), conv, dtype="float16")
    post = inverse_params(pre, conv)
    pre_kinds = [_kind(t) for _, t in pre_args(pre, 1, 2, 3, 4, 5)]
    post_kinds = [_kind(t) for _, t in post_args(post, 1, 2, 3, 4, 5)]
    assert pre_kinds == _ptx_params("ptx_preprocess")
    assert post_kinds == _ptx_params("ptx_postprocess")
