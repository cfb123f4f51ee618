"""kill -9 at random moments during folder runs: every output file is complete or absent."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time

import pytest

from ptx.errors import ImageError
from ptx.io import list_images, read_image, write_image
from ptx.runtime.pipelines.enhance import enhance_path

KILLS = 20


def _run(model: str, src: str, out: str) -> None:
    while True:  # again and again, so a kill can land anywhere (a rerun overwrites)
        enhance_path(model, src, out, batch=2, progress=False)


def _wait_for_output(out, child, timeout_s: float = 120.0) -> None:
    """Block until the folder run has written something (else every kill lands in start-up)."""
    deadline = time.monotonic() + timeout_s
    while not (out.exists() and list_images(out)):
        assert child.is_alive(), "the folder run died before writing anything"
        assert time.monotonic() < deadline, f"no output within {timeout_s:g} s"
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_during_folder_runs_leaves_whole_files_or_none(models, tmp_path, helpers):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(24):
        write_image(src / f"{i:02d}.png", helpers.random_image(96, 128, i))
        write_image(src / f"{i:02d}.jpg", helpers.random_image(64, 48, 100 + i))
    rng = random.Random(0)
    ctx = multiprocessing.get_context("fork")
    seen = 0
    for _ in range(KILLS):
        child = ctx.Process(target=_run, args=(str(models["affine"]), str(src), str(out)))
        child.start()
        _wait_for_output(out, child)  # a loaded machine may take seconds to start the loop
        child.join(rng.uniform(0.0, 0.5))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        for f in list_images(out) if out.exists() else []:
            try:
                rgb = read_image(f)
            except ImageError as exc:  # a torn file would be here
                pytest.fail(f"{f.name} is not whole after kill -9: {exc}")
            assert rgb.shape[:2] in ((96, 128), (64, 48))
            seen += 1
    assert seen > 0
