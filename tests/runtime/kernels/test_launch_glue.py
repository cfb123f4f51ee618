"""Kernel launch glue on the CPU: grid limits and resample geometry are checked before a launch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.cuda.interop import DeviceArray
from ptx.runtime.kernels.ops import check_post_arrays, check_pre_arrays
from ptx.runtime.kernels.params import BLOCK, MAX_GRID_YZ, grid, inverse_params, pad_params
from ptx.spec import ImageConvention


def test_grid_y_never_exceeds_cudas_limit():
    tallest = MAX_GRID_YZ * BLOCK[1]
    assert grid((tallest, 16), 1) == (1, MAX_GRID_YZ, 1)
    with pytest.raises(InputError, match=f"height {tallest + 1} is over"):
        grid((tallest + 1, 16), 1)  # before: a grid y of 65536 reached the driver
    with pytest.raises(InputError, match="batch 65536"):
        grid((8, 8), MAX_GRID_YZ + 1)


def test_an_empty_or_outside_inner_box_is_refused_before_a_launch():
    pre = pad_params((4, 6), ImageConvention())
    post = inverse_params(pre, ImageConvention())
    src = DeviceArray(256, (1, 3, 4, 6), np.dtype(np.float32))
    dst = DeviceArray(512, (1, 4, 6, 3), np.dtype(np.uint8))
    assert check_post_arrays(src, dst, post) == 1
    for bad in ({"inner_hw": (0, 6)}, {"inner_hw": (4, 0)}, {"top": 1}, {"left": -1}):
        with pytest.raises(InputError, match="postprocess: inner box"):  # read index -1 before
            check_post_arrays(src, dst, replace(post, **bad))
    img = DeviceArray(256, (1, 4, 6, 3), np.dtype(np.uint8))
    x = DeviceArray(512, (1, 3, 4, 6), np.dtype(np.float32))
    assert check_pre_arrays(img, x, pre) == 1
    with pytest.raises(InputError, match="preprocess: inner box"):
        check_pre_arrays(img, x, replace(pre, inner_hw=(0, 6)))


def test_params_and_arrays_refuse_what_the_kernels_cannot_do():
    from ptx.runtime.kernels.params import with_dtype

    conv = ImageConvention()
    with pytest.raises(InputError, match="image size 0x4 is empty"):
        pad_params((4, 0), conv)
    pre = pad_params((4, 6), conv)
    with pytest.raises(InputError, match="channel order 'RGBA'"):
        inverse_params(pre, conv, order="RGBA")
    assert with_dtype(pre, "float16").dtype == "float16"
    with pytest.raises(InputError, match="kernel dtype 'int8'"):
        with_dtype(pre, "int8")
    post = inverse_params(pre, conv)
    src = DeviceArray(256, (1, 3, 4, 6), np.dtype(np.float32))
    with pytest.raises(InputError, match="postprocess source must be float32 \\[1, 3, 4, 6\\]"):
        check_post_arrays(DeviceArray(256, (1, 3, 4, 5), np.dtype(np.float32)), src, post)
    with pytest.raises(InputError, match="postprocess destination is read-only"):
        check_post_arrays(src, DeviceArray(512, (1, 4, 6, 3), np.dtype(np.uint8), True), post)
    img = DeviceArray(256, (1, 4, 6, 3), np.dtype(np.uint8))
    with pytest.raises(InputError, match="preprocess destination is read-only"):
        check_pre_arrays(img, DeviceArray(512, (1, 3, 4, 6), np.dtype(np.float32), True), pre)
