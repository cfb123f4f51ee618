"""The batch actor's write path without Ray: `ptx run`'s bytes, one sweep and one folder fsync."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptx.io import (
    WRITE_FORMATS,
    encode_for,
    read_image,
    remove_stale_parts_in,
    sha256_file,
    write_image,
)
from ptx.runtime.batch import job
from ptx.runtime.batch.blocks import decoded_bytes, plan_blocks
from ptx.runtime.batch.pixels import decode_rows, encode_output, image_views, output_planes
from ptx.runtime.pipelines.batching import save_image
from ptx.spec import ImageConvention


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_one_listing_removes_only_dead_writers_parts(tmp_path):
    dead, live = _dead_pid(), os.getppid()
    stale = [tmp_path / f".a.v1.jpg.{dead}.k2_x9ab.part", tmp_path / f".b.png.{dead}.zz.part"]
    kept = [
        tmp_path / f".c.jpg.{live}.q1.part",  # a live writer's
        tmp_path / f".d.jpg.{os.getpid()}.q2.part",  # our own
        tmp_path / ".e.part",  # not a writer's temp file
        tmp_path / "f.jpg",
    ]
    for p in stale + kept:
        p.write_bytes(b"x")
    assert remove_stale_parts_in(tmp_path) == 2
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert remove_stale_parts_in(tmp_path / "missing") == 0


def _rows(helpers, src: Path, out: Path, names: list[str]):
    """The table a decode task hands the actor (decode_rows, as Ray runs it)."""
    for i, name in enumerate(names):
        write_image(src / name, helpers.random_image(12, 16, i))
    return decode_rows({
        "source": [str(src / name) for name in names],
        "dest": [str(out / Path(name).with_suffix(".jpg")) for name in names],
    })  # fmt: skip


def test_decoded_pixels_travel_in_one_buffer_and_are_read_in_place(helpers, tmp_path):
    pa = pytest.importorskip("pyarrow")
    sizes = [(12, 16), (7, 5), (12, 16)]
    for i, (h, w) in enumerate(sizes):
        write_image(tmp_path / f"p{i}.png", helpers.random_image(h, w, i))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    names = ["p0.png", "bad.png", "p1.png", "p2.png"]
    table = decode_rows({"source": [str(tmp_path / n) for n in names], "dest": names})
    assert table.column("pixels").num_chunks == 1 and table.column("error")[1].as_py()
    views = image_views(table)
    assert views[1] is None
    for view, name in zip(views[:1] + views[2:], ["p0.png", "p1.png", "p2.png"], strict=True):
        np.testing.assert_array_equal(view, read_image(tmp_path / name))
        assert not view.flags.writeable  # the object store is shared
    data = table.column("pixels").chunk(0).buffers()[2]
    assert all(np.shares_memory(v, np.frombuffer(data, np.uint8)) for v in views if v is not None)
    # As Ray may hand it over: sliced (offsets start mid-buffer) and in several chunks.
    joined = pa.concat_tables([table.slice(2, 2), table.slice(0, 2)])
    assert joined.column("pixels").num_chunks == 2
    again = image_views(joined)
    np.testing.assert_array_equal(again[0], views[2])
    np.testing.assert_array_equal(again[1], views[3])
    np.testing.assert_array_equal(again[2], views[0])
    assert again[3] is None


def test_the_actor_writes_ptx_runs_bytes_with_one_sweep_and_fsync_a_folder(
    models, helpers, tmp_path, monkeypatch
):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    stale = out / f".x.jpg.{_dead_pid()}.ab.part"
    stale.write_bytes(b"torn")
    synced, swept = [], []
    monkeypatch.setattr(job, "sync_folder", lambda folder: synced.append(Path(folder)))
    real_sweep = job.remove_stale_parts_in
    monkeypatch.setattr(job, "remove_stale_parts_in",
                        lambda folder: swept.append(folder) or real_sweep(folder))  # fmt: skip
    worker = job.Worker("enhance", str(models["affine"]), threads=1, backend="onnxruntime",
                        batch=2)  # fmt: skip
    names = [f"p{i}.png" for i in range(5)]
    res = worker(_rows(helpers, src, out, names))
    assert list(res["error"]) == [""] * 5
    assert not stale.exists() and swept == [out]
    assert synced == [out]  # one folder fsync for the batch, after every write
    again = worker(_rows(helpers, src, out, names[:2]))
    assert swept == [out] and synced == [out, out]  # swept once per actor, synced per batch
    # Same bytes as `ptx run` (save_image) and the sha256 of what is on disk.
    engine_out = tmp_path / "ref"
    for i, name in enumerate(names):
        dest = out / Path(name).with_suffix(".jpg")
        assert res["sha256"][i] == sha256_file(dest)
        item_img = read_image(src / name)
        x = worker.conv.to_model([item_img], worker.dtype)
        y = next(iter(worker.engine.run({worker.engine.inputs[0].name: x}).values()))
        ref = engine_out / dest.name
        save_image(ref, worker.conv.to_pixels(y, size=item_img.shape[:2])[0])
        assert ref.read_bytes() == dest.read_bytes(), name
    assert list(again["sha256"]) == list(res["sha256"][:2])
    assert not list(out.glob(".*.part"))


def test_blocks_are_planned_from_headers_within_rows_and_bytes(helpers, tmp_path, monkeypatch):
    """Headers only: 16x12 is 576 decoded bytes; over the budget alone; undecodable costs 0."""
    shapes = [(12, 16)] * 5 + [(30, 40)] + [(12, 16)] * 2
    rows = []
    for i, (h, w) in enumerate(shapes):
        write_image(tmp_path / f"p{i}.png", helpers.random_image(h, w, i))
        rows.append({"source": str(tmp_path / f"p{i}.png"), "dest": f"p{i}.png"})
    (tmp_path / "bad.png").write_bytes(b"not an image")
    rows.insert(1, {"source": str(tmp_path / "bad.png"), "dest": "bad.png"})
    assert decoded_bytes(tmp_path / "p5.png") == 30 * 40 * 3
    assert decoded_bytes(tmp_path / "bad.png") == decoded_bytes(tmp_path / "none.png") == 0

    def names(blocks):
        return [[Path(r["source"]).stem for r in b] for b in blocks]

    assert names(plan_blocks(rows, 3, budget=1200)) == [
        ["p0", "bad", "p1"], ["p2", "p3"], ["p4"], ["p5"], ["p6", "p7"]
    ]  # fmt: skip
    assert names(plan_blocks(rows, 3, budget=10**9)) == [
        ["p0", "bad", "p1"], ["p2", "p3", "p4"], ["p5", "p6", "p7"]
    ]  # fmt: skip
    monkeypatch.setenv("PTX_MAX_PIXELS", "1000")  # p5 is refused by its decode: costs nothing
    assert decoded_bytes(tmp_path / "p5.png") == 0
    assert names(plan_blocks(rows, 9, budget=1200)) == [
        ["p0", "bad", "p1"], ["p2", "p3"], ["p4", "p5", "p6"], ["p7"]
    ]  # fmt: skip
    # A GPU actor's call gathers a row count across blocks: uniform blocks of as many of
    # the largest image as fit (p5: 3,600 B, 2 of them at 7,200 B), so any such run fits.
    monkeypatch.delenv("PTX_MAX_PIXELS")
    assert names(plan_blocks(rows, 3, budget=7200, uniform=True)) == [
        ["p0", "bad"], ["p1", "p2"], ["p3", "p4"], ["p5", "p6"], ["p7"]
    ]  # fmt: skip
    assert [len(b) for b in plan_blocks(rows, 3, budget=100, uniform=True)] == [1] * 9
    assert plan_blocks([], 3) == plan_blocks([], 3, uniform=True) == []


@pytest.mark.parametrize(
    "conv",
    [
        ImageConvention(),
        ImageConvention(
            channel_order="BGR", range=(-1.0, 1.0), mean=(0.1, 0.2, 0.3), std=(0.9, 1.1, 0.7)
        ),  # fmt: skip
        ImageConvention(layout="NHWC"),  # not planes: to_pixels + encode_for
    ],
    ids=["rgb01", "bgr-mean-std", "nhwc"],
)
def test_outputs_go_to_pillow_as_planes_with_ptx_runs_bytes(conv, tmp_path):
    """Every written format, odd floats (NaN, inf, halves, out of range), a crop, batch > 1,
    float16 and read-only outputs: the bytes of to_pixels + encode_for, other images intact."""
    rng = np.random.default_rng(3)
    y = rng.normal(0.5, 0.6, (3, 3, 9, 11)).astype(np.float32)
    lo, hi = conv.range
    y[1, 0, 0, :6] = [np.nan, np.inf, -np.inf, 0.5 / 255, 1.5 / 255, 254.5 / 255]
    y[1, 0, 0, :6] = y[1, 0, 0, :6] * (hi - lo) + lo  # halves after the convention's maths
    if conv.layout == "NHWC":
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1))
    size = (7, 10)
    for i in range(3):
        for suffix in WRITE_FORMATS:
            for batch in (y.copy(), y.astype(np.float16), _read_only(y)):
                dest = tmp_path / f"o{suffix}"
                want = encode_for(dest, conv.to_pixels(batch[i : i + 1], size=size)[0], level=1)
                before = batch.copy()
                got = encode_output(batch, i, conv, size, dest, level=1)
                assert got == want, (i, suffix, batch.dtype)
                others = [j for j in range(3) if j != i]
                np.testing.assert_array_equal(batch[others], before[others])  # untouched
    planes = output_planes(y.copy(), 1, ImageConvention(), size) if conv.layout == "NCHW" else []
    assert all(p.dtype == np.uint8 and p.shape == size for p in planes)


def _read_only(y: np.ndarray) -> np.ndarray:
    out = y.copy()
    out.flags.writeable = False
    return out


def test_a_cut_out_keeps_its_alpha_through_the_actor(models, tmp_path):
    """The alpha travels beside the pixels (its own Arrow column) and is given back on write."""
    from PIL import Image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    alpha = np.zeros((12, 16), np.uint8)
    alpha[2:10, 3:13], alpha[1, 3:13] = 255, 100
    rgba = np.dstack([np.full((12, 16, 3), (30, 120, 200), np.uint8), alpha])
    Image.fromarray(rgba, "RGBA").save(src / "cut.png")
    write_image(src / "plain.png", np.full((12, 16, 3), 90, np.uint8))
    assert decoded_bytes(src / "cut.png") == 12 * 16 * 4  # the alpha counts in a block's bytes
    names = ["cut.png", "plain.png"]
    table = decode_rows({"source": [str(src / n) for n in names],
                         "dest": [str(out / n) for n in names]})  # fmt: skip
    alphas = image_views(table, "alpha")
    np.testing.assert_array_equal(alphas[0], alpha)
    assert alphas[1] is None
    worker = job.Worker("enhance", str(models["affine"]), threads=1, backend="onnxruntime")
    res = worker(table)
    assert list(res["error"]) == ["", ""]
    with Image.open(out / "cut.png") as img:
        assert img.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(img)[..., 3], alpha)
    with Image.open(out / "plain.png") as img:
        assert img.mode == "RGB"


def test_a_jpeg_source_gives_its_tables_to_the_actors_jpeg(models, helpers, tmp_path):
    """The actor's bytes are ptx run's for a JPEG too: the input's tables, not quality 95."""
    from PIL import Image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(helpers.random_image(24, 32, 5)).save(src / "a.jpg", quality=60)
    table = decode_rows({"source": [str(src / "a.jpg")], "dest": [str(out / "a.jpg")]})
    worker = job.Worker("enhance", str(models["affine"]), threads=1, backend="onnxruntime")
    assert list(worker(table)["error"]) == [""]
    img = read_image(src / "a.jpg")
    y = next(
        iter(
            worker.engine.run(
                {worker.engine.inputs[0].name: worker.conv.to_model([img], worker.dtype)}
            ).values()
        )
    )
    rgb = worker.conv.to_pixels(y, size=img.shape[:2])[0]
    save_image(tmp_path / "ref.jpg", rgb, source=src / "a.jpg")
    assert (tmp_path / "ref.jpg").read_bytes() == (out / "a.jpg").read_bytes()
    with Image.open(out / "a.jpg") as a, Image.open(src / "a.jpg") as b:
        assert a.quantization == b.quantization


def test_headers_go_to_threads_only_when_reads_are_slow(helpers, tmp_path, monkeypatch):
    """In order, bad files 0, by threads once the timed first reads look like round trips."""
    import threading

    from ptx.runtime.batch import blocks

    paths = []
    for i in range(40):
        h = 8 + i % 5
        write_image(tmp_path / f"p{i}.png", helpers.random_image(h, 10, i))
        paths.append(str(tmp_path / f"p{i}.png"))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths.insert(7, str(tmp_path / "bad.png"))
    want = [0 if "bad" in p else (8 + int(Path(p).stem[1:]) % 5) * 10 * 3 for p in paths]
    seen: list[str] = []
    real = blocks.decoded_bytes

    def spy(path, limit=None):
        seen.append(threading.current_thread().name)
        return real(path, limit)

    monkeypatch.setattr(blocks, "decoded_bytes", spy)
    monkeypatch.setattr(blocks, "PROBE_HEADERS", 4)
    assert blocks.header_bytes(paths) == want  # fast local reads: all on the caller
    assert not any(name.startswith("ptx-headers") for name in seen)
    seen.clear()
    monkeypatch.setattr(blocks, "SLOW_HEADER_S", 0.0)  # every read now counts as slow
    assert blocks.header_bytes(paths) == want
    assert sum(name.startswith("ptx-headers") for name in seen) == len(paths) - 4
