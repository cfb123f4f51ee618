"""Profile selection, batch chunking, shape checks and buffer sizes of the TensorRT backend."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.backends.tensorrt.shapes import (
    Chunk,
    Profile,
    nbytes,
    plan_chunks,
    profiles_from_sidecar,
    select_profile,
    validate_shapes,
)

SMALL = Profile(0, {"image": ((1, 3, 16, 16), (2, 3, 32, 32), (4, 3, 64, 64))})
LARGE = Profile(1, {"image": ((1, 3, 128, 128), (8, 3, 256, 256), (8, 3, 512, 512))})
BIG_BATCH = Profile(2, {"image": ((2, 3, 16, 16), (16, 3, 32, 32), (16, 3, 32, 32))})


def req(n: int, h: int, w: int | None = None) -> dict[str, tuple[int, ...]]:
    return {"image": (n, 3, h, w or h)}


def test_select_picks_the_fitting_profile_nearest_its_opt():
    assert select_profile([SMALL, LARGE], req(2, 32)).index == 0
    assert select_profile([SMALL, LARGE], req(3, 300)).index == 1
    assert select_profile([SMALL, BIG_BATCH], req(2, 32)).index == 0  # opt batch 2 is nearer
    assert select_profile([SMALL, BIG_BATCH], req(12, 32)).index == 2
    assert select_profile([SMALL, LARGE], req(1, 100)) is None
    assert select_profile([SMALL], {"other": (1, 3, 32, 32)}) is None


def test_one_chunk_when_a_profile_fits():
    assert plan_chunks([SMALL, LARGE], req(3, 64)) == [Chunk(0, 3, 0)]


def test_a_large_batch_is_split_into_chunks_that_fit():
    chunks = plan_chunks([SMALL, LARGE], req(11, 200))
    assert chunks == [Chunk(0, 8, 1), Chunk(8, 11, 1)]
    chunks = plan_chunks([SMALL], req(10, 40))
    assert chunks == [Chunk(0, 4, 0), Chunk(4, 8, 0), Chunk(8, 10, 0)]
    covered = [i for c in chunks for i in range(c.start, c.stop)]
    assert covered == list(range(10))


def test_the_remainder_may_use_another_profile():
    # BIG_BATCH takes 16 at a time but needs at least 2: the last 1 goes to SMALL.
    assert plan_chunks([SMALL, BIG_BATCH], req(33, 32)) == [
        Chunk(0, 16, 2), Chunk(16, 32, 2), Chunk(32, 33, 0),
    ]  # fmt: skip


def test_too_large_without_chunking_names_every_profile():
    with pytest.raises(InputError) as err:
        plan_chunks([SMALL, LARGE], req(9, 256), allow_chunking=False, where="m.plan")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("m.plan: request image [9, 3, 256, 256]")
    assert "profile 0: image [1,3,16,16]..[4,3,64,64]" in msg
    assert "profile 1: image [1,3,128,128]..[8,3,512,512]" in msg
    assert "allow chunking" in msg and "ptx build --shapes" in msg


def test_chunking_cannot_fix_an_image_size_outside_every_profile():
    with pytest.raises(InputError, match="splitting the batch does not help"):
        plan_chunks([SMALL, LARGE], req(2, 100))


def test_validate_shapes_names_the_input_and_axis():
    declared = {"image": (-1, 3, -1, -1)}
    validate_shapes(req(2, 32), declared)
    with pytest.raises(InputError, match=r"input 'image' axis 1 must be 3, got 4"):
        validate_shapes({"image": (2, 4, 32, 32)}, declared)
    with pytest.raises(InputError, match="rank 4"):
        validate_shapes({"image": (2, 3, 32)}, declared)
    with pytest.raises(InputError, match=r"inputs \['image'\] expected, got \['x'\]"):
        validate_shapes({"x": (2, 3, 32, 32)}, declared)


def test_buffer_sizes():
    assert nbytes((2, 3, 32, 32), np.float16) == 2 * 3 * 32 * 32 * 2
    assert nbytes((5,), np.int64) == 40
    with pytest.raises(InputError, match="dynamic"):
        nbytes((-1, 3), np.float32)


def test_profiles_read_from_a_sidecar():
    sidecar = {
        "profiles": [
            {"image": {"min": [1, 3, 16, 16], "opt": [2, 3, 32, 32], "max": [4, 3, 64, 64]}},
            {"image": {"min": [1, 3, 128, 128], "opt": [8, 3, 256, 256], "max": [8, 3, 512, 512]}},
        ]
    }
    assert profiles_from_sidecar(sidecar) == [SMALL, LARGE]
    assert profiles_from_sidecar({}) == []
