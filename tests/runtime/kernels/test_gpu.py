"""GPU: the fused kernels against the NumPy reference (uint8 within 1 level, floats within
FP16 rounding). Fresh random inputs each run, outputs poisoned before each launch."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.runtime.kernels.params import inverse_params, letterbox_params, pad_params
from ptx.runtime.kernels.reference import postprocess_reference, preprocess_reference
from ptx.spec import ImageConvention

pytestmark = pytest.mark.gpu
cp = pytest.importorskip("cupy", reason="the GPU kernel tests use CuPy arrays")
SEED = int(np.random.SeedSequence().entropy % 2**32)
RNG = np.random.default_rng(SEED)
NORM = ImageConvention(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@pytest.fixture(scope="module")
def kernels():
    from ptx.runtime.kernels.ops import kernels_for

    return kernels_for(0)


def close_enough(got: np.ndarray, want: np.ndarray, dtype: str) -> None:
    got, want = got.astype(np.float64), want.astype(np.float64)
    assert np.isfinite(got).all(), f"unwritten (NaN-poisoned) outputs remain (seed {SEED})"
    rtol = 2.0**-10 if dtype == "float16" else 1e-5  # one FP16 ulp, or float32 sum order
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-5, err_msg=f"seed {SEED}")


def run_pre(kernels, batch: np.ndarray, p) -> np.ndarray:
    src = cp.asarray(batch)
    dst = cp.full(p.out_shape(len(batch)), np.nan, dtype=p.dtype)  # poison
    stream = cp.cuda.Stream(non_blocking=True)
    kernels.preprocess(src, dst, p, stream)
    stream.synchronize()
    return cp.asnumpy(dst)


CASES = [
    ("shrink-letterbox-fp16", (96, 128), (32, 32), "NCHW", "RGB", "float16"),
    ("shrink-fraction-fp32", (97, 61), (40, 24), "NCHW", "RGB", "float32"),
    ("enlarge-letterbox-nhwc-bgr", (20, 36), (64, 48), "NHWC", "BGR", "float32"),
    ("enlarge-fp16-bgr-source", (17, 17), (50, 70), "NCHW", "BGR-in", "float16"),
]


@pytest.mark.parametrize(("name", "src", "canvas", "layout", "order", "dtype"), CASES)
def test_preprocess_matches_reference(kernels, name, src, canvas, layout, order, dtype):
    model_order = "BGR" if order == "BGR" else "RGB"
    conv = ImageConvention(layout=layout, channel_order=model_order, mean=NORM.mean, std=NORM.std)
    source_order = "BGR" if order == "BGR-in" else "RGB"
    p = letterbox_params(src, canvas, conv, order=source_order, dtype=dtype, fill=114)
    batch = RNG.integers(0, 256, (3, *src, 3), dtype=np.uint8)
    close_enough(run_pre(kernels, batch, p), preprocess_reference(batch, p), dtype)


def test_reflect_padding_matches_the_cpu_path(kernels):
    from ptx.image import preprocess

    conv = ImageConvention(multiple_of=16)
    batch = RNG.integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)
    p = pad_params((45, 70), conv, dtype="float32")
    got = run_pre(kernels, batch, p)
    np.testing.assert_array_equal(got, preprocess(list(batch), conv), err_msg=f"seed {SEED}")


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_postprocess_matches_reference_within_one_level(kernels, dtype, layout):
    conv = ImageConvention(layout=layout, channel_order="BGR", mean=NORM.mean, std=NORM.std)
    pre = letterbox_params((45, 80), (64, 64), conv, dtype=dtype)
    post = inverse_params(pre, conv)
    x = RNG.normal(0, 1.2, pre.out_shape(2)).astype(dtype)  # some values clamp at 0 / 255
    want = postprocess_reference(x, post)
    outs = []
    for poison in (0, 255):  # two poisons: a pixel left unwritten differs between runs
        dst = cp.full((2, 45, 80, 3), poison, dtype=np.uint8)
        kernels.postprocess(cp.asarray(x), dst, post, cp.cuda.Stream.null)
        cp.cuda.runtime.deviceSynchronize()
        outs.append(cp.asnumpy(dst))
    np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"unwritten pixels (seed {SEED})")
    diff = np.abs(outs[0].astype(int) - want.astype(int))
    assert diff.max() <= 1, f"max diff {diff.max()} (seed {SEED})"


def test_torch_tensors_are_accepted_zero_copy(kernels):
    torch = pytest.importorskip("torch")
    conv = ImageConvention()
    p = letterbox_params((64, 64), (32, 32), conv, dtype="float16")
    batch = RNG.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    src = torch.from_numpy(batch).cuda()
    dst = torch.full(p.out_shape(2), float("nan"), dtype=torch.float16, device="cuda")
    kernels.preprocess(src, dst, p, torch.cuda.current_stream())
    torch.cuda.synchronize()
    close_enough(dst.cpu().numpy(), preprocess_reference(batch, p), "float16")


def test_host_array_into_a_kernel_is_one_line(kernels):
    from ptx.errors import InputError

    p = letterbox_params((8, 8), (8, 8), ImageConvention())
    dst = cp.zeros(p.out_shape(1), dtype=np.float32)
    with pytest.raises(InputError, match="host \\(NumPy\\) array where a GPU array"):
        kernels.preprocess(np.zeros((1, 8, 8, 3), np.uint8), dst, p)
