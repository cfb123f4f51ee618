"""`ptx batch` on a local Ray: outputs equal `ptx run`'s, resume, a killed worker, bad files."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError, MissingDependency
from ptx.io import sha256_file, write_image
from ptx.runtime.batch import MANIFEST_NAME, run_batch
from ptx.runtime.batch.job import WORKERS_PER_DECODER, decoders, import_ray, local_ray_options
from ptx.runtime.cli.batch import batch_cmd
from ptx.runtime.cli.run_enhance import enhance_cmd

GOOD = ["a.png", "b.png", "c.png", "sub/d.png", "sub/deeper/e.bmp"]


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for the module, as ptx batch starts it (run_batch reuses it).

    No GPUs, even on a machine that has some (Ray would detect them): the cluster the
    no-GPU test needs.
    """
    ray = pytest.importorskip("ray")
    ray.init(**local_ray_options(2), num_gpus=0)
    yield ray
    ray.shutdown()


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
    }


def _manifest(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / MANIFEST_NAME).read_text().splitlines()]


def _many(root: Path, helpers, n: int) -> Path:
    for i in range(n):
        write_image(root / f"img{i:02d}.png", helpers.random_image(12, 16, i))
    return root


def test_outputs_equal_ptx_run_and_bad_files_are_counted(ray_local, models, photo_folder, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["--model", str(models["affine"]), "--input", str(photo_folder), "--no-progress"]
    run = CliRunner().invoke(enhance_cmd, [*args, "--out", str(ref)])
    assert run.exit_code == 0, run.output
    res = CliRunner().invoke(
        batch_cmd, ["enhance", *args, "--out", str(out), "--workers", "2", "--json"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{") :])
    assert (summary["images"], summary["failed"], summary["resumed"]) == (5, 2, 0)
    assert sorted(Path(s["path"]).name for s in summary["skipped"]) == ["broken.png", "empty.jpg"]
    assert _files(out) == _files(ref)
    assert sorted(_files(out)) == sorted(GOOD)
    lines = _manifest(out)
    ok = [rec for rec in lines if "error" not in rec]
    assert len(ok) == 5 and len(lines) == 7
    for rec in ok:
        assert rec["sha256"] == sha256_file(rec["output"])
        assert rec["model_sha256"] == sha256_file(models["affine"])
        assert rec["ptx_version"]


def test_gpus_per_worker_on_a_cluster_without_gpus_is_one_line(ray_local, models, tmp_path):
    """Refused right after Ray starts: Ray itself would wait for the GPUs for ever."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", np.zeros((8, 8, 3), np.uint8))
    res = CliRunner().invoke(main, ["batch", "enhance", "--model", str(models["affine"]),
                                    "--input", str(src), "--out", str(out),
                                    "--gpus-per-worker", "1"])  # fmt: skip
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: --gpus-per-worker 1: the Ray cluster has no GPUs (none detected on this "
        "machine, or none in the cluster at --address); drop the flag to run on the CPU"
    ]
    assert not out.exists()
    assert ray_local.is_initialized()  # the fixture's Ray, left running for the next test


def test_local_ray_workers_keep_the_drivers_priority(ray_local):
    """Ray's default puts workers 15 nice levels down: any other load would starve a batch."""
    import os

    @ray_local.remote(num_cpus=0.25)
    def niceness() -> int:
        return os.nice(0)

    assert ray_local.get(niceness.remote(), timeout=120) == os.nice(0)


def test_one_decode_task_feeds_several_cpu_actors_and_each_gpu_actor_has_its_own():
    """Each decode task is a Ray process to start and keep: as few as keep the actors fed."""
    assert decoders(1) == decoders(WORKERS_PER_DECODER) == 1
    assert decoders(WORKERS_PER_DECODER + 1) == 2
    assert decoders(3 * WORKERS_PER_DECODER) == 3
    assert decoders(2, gpus_per_worker=0.5) == 2


def test_resume_redoes_only_what_was_missing(ray_local, models, helpers, tmp_path):
    src, out = _many(tmp_path / "in", helpers, 12), tmp_path / "out"
    seen = []

    def stop_after_four(row: dict) -> None:
        seen.append(row)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch("enhance", models["affine"], src, out, workers=2, progress=False,
                  on_result=stop_after_four)  # fmt: skip
    recorded = len(_manifest(out))
    assert recorded == 4
    victim = Path(_manifest(out)[0]["output"])
    victim.write_bytes(b"torn")  # an output changed after it was recorded: redone
    again = run_batch("enhance", models["affine"], src, out, workers=2, progress=False)
    assert again.resumed == recorded - 1
    assert again.images == 12 - again.resumed
    assert again.failed == 0
    ref = tmp_path / "ref"
    assert CliRunner().invoke(
        enhance_cmd, ["--model", str(models["affine"]), "--input", str(src), "--out", str(ref)]
    ).exit_code == 0  # fmt: skip
    assert _files(out) == _files(ref)
    third = run_batch("enhance", models["affine"], src, out, workers=2, progress=False)
    assert (third.images, third.resumed) == (0, 12)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(ray_local, models, helpers, tmp_path):
    src, out = _many(tmp_path / "in", helpers, 12), tmp_path / "out"
    flags, victims = tmp_path / "killed", ["img02.png", "img05.png", "img09.png"]
    summary = run_batch("enhance", models["affine"], src, out, workers=2, batch=3,
                        progress=False, kill_on=f"{','.join(victims)}|{flags}")  # fmt: skip
    # a worker really died (SIGKILL) on each, after the outputs before it in its batch
    assert sorted(p.name for p in flags.iterdir()) == [f"{v}.killed" for v in victims]
    assert (summary.images, summary.failed) == (12, 0)
    outputs = [rec["output"] for rec in _manifest(out)]
    assert len(outputs) == len(set(outputs)) == 12
    assert not list(out.rglob("*.part"))
    ref = tmp_path / "ref"
    assert CliRunner().invoke(
        enhance_cmd, ["--model", str(models["affine"]), "--input", str(src), "--out", str(ref)]
    ).exit_code == 0  # fmt: skip
    assert _files(out) == _files(ref)


def test_blocks_are_bounded_by_decoded_bytes_and_outputs_stay_ptx_runs(
    ray_local, models, helpers, tmp_path
):
    """A tiny budget: what each decode task returned and each actor call held stays
    within it (an image over it alone), outputs and manifest as without a budget."""
    src, out, budget = tmp_path / "in", tmp_path / "out", 2000  # 1-3 small images a block
    sizes = {f"img{i:02d}.png": (12, 16) if i % 4 else (20, 40) for i in range(14)}
    for i, (name, (h, w)) in enumerate(sizes.items()):  # 576 B each; 2,400 B (over) each 4th
        write_image(src / name, helpers.random_image(h, w, i))
    (src / "broken.png").write_bytes(b"not an image")  # no pixels: costs the budget nothing
    rows: list[dict] = []
    summary = run_batch("enhance", models["affine"], src, out, workers=2, progress=False,
                        block_bytes=budget, on_result=rows.append)  # fmt: skip
    assert (summary.images, summary.failed) == (14, 1)
    blocks: dict[str, list[dict]] = {}
    for row in rows:
        blocks.setdefault(row["block"], []).append(row)
    nbytes = {name: h * w * 3 for name, (h, w) in sizes.items()} | {"broken.png": 0}
    for block in blocks.values():
        decoded = sum(nbytes[Path(r["source"]).name] for r in block)
        assert decoded <= budget or len(block) == 1, block  # what the decode task returned
        assert {r["held"] for r in block} == {decoded}  # what the actor's call held: the same
    assert max(len(b) for b in blocks.values()) == 3  # 3 x 576 fit, a 4th would not
    assert sum(len(b) == 1 and nbytes[Path(b[0]["source"]).name] > budget
               for b in blocks.values()) == 4  # fmt: skip
    ref = tmp_path / "ref"
    assert (
        CliRunner()
        .invoke(
            enhance_cmd, ["--model", str(models["affine"]), "--input", str(src), "--out", str(ref)]
        )
        .exit_code
        == 0
    )  # the broken file is skipped, as here
    assert _files(out) == _files(ref)
    lines = _manifest(out)
    assert sorted(Path(rec["input"]).name for rec in lines) == sorted([*sizes, "broken.png"])
    for rec in lines:
        assert (
            "error" in rec
            if rec["input"].endswith("broken.png")
            else (rec["sha256"] == sha256_file(rec["output"]))
        )


def test_list_file_and_parquet_inputs_keep_relative_names(ray_local, models, helpers, tmp_path):
    src = _many(tmp_path / "cat", helpers, 3)
    write_image(src / "deep" / "x.png", helpers.random_image(8, 8, 9))
    names = ["img00.png", "deep/x.png", "img02.png"]
    listing = tmp_path / "cat.txt"
    listing.write_text("# catalogue\n" + "\n".join(f"cat/{n}" for n in names) + "\n")
    a = run_batch("enhance", models["affine"], listing, tmp_path / "a", progress=False)
    assert a.images == 3
    assert sorted(_files(tmp_path / "a")) == sorted(names)
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = tmp_path / "cat.parquet"
    pq.write_table(pa.table({"path": [str(src / n) for n in names]}), table)
    b = run_batch("enhance", models["affine"], table, tmp_path / "b", progress=False)
    assert b.images == 3
    assert _files(tmp_path / "b") == _files(tmp_path / "a")


def test_outputs_that_would_overwrite_inputs_are_refused(models, helpers, tmp_path):
    src = _many(tmp_path / "in", helpers, 2)
    listing = tmp_path / "list.txt"
    listing.write_text("in/img00.png\nin/img01.png\n")
    with pytest.raises(InputError, match="overwrite"):
        run_batch("enhance", models["affine"], listing, src, progress=False)
    with pytest.raises(InputError, match="input folder"):
        run_batch("enhance", models["affine"], src, src, progress=False)


def test_missing_ray_is_one_line_with_the_install_hint(monkeypatch, models, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependency) as err:
        import_ray()
    text = str(err.value)
    assert "\n" not in text and "pip install 'ptx[batch]'" in text
    with pytest.raises(MissingDependency):
        run_batch("enhance", models["affine"], tmp_path, tmp_path / "out", progress=False)


def test_stylize_equals_ptx_run_stylize_and_skips_images_below_the_floor(
    ray_local, helpers, photo_folder, tmp_path
):
    import onnx

    from ptx.runtime.cli.run_stylize import run_stylize_cmd
    from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

    path = helpers.affine_model(tmp_path / "style.onnx", scale=0.8, bias=0.1, spec=False)
    model = onnx.load(str(path))
    shape = ["batch", 3, "height", "width"]
    spec = ModelSpec(
        task="stylize",
        inputs=[TensorSpec("image", "float32", shape)],
        outputs=[TensorSpec("out", "float32", shape)],
        image=ImageConvention(),
        config={"min_side": 10},  # e.bmp (9x7) is below it
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["--model", str(path), "--input", str(photo_folder), "--no-progress"]
    assert CliRunner().invoke(run_stylize_cmd, [*args, "--out", str(ref)]).exit_code == 0
    res = CliRunner().invoke(batch_cmd, ["stylize", *args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "4 images, 3 failed, 0 already done" in res.output
    assert "needs at least 10x10" in res.output
    assert _files(out) == _files(ref)
    assert sorted(_files(out)) == sorted(g for g in GOOD if not g.endswith("e.bmp"))


def test_generate_from_a_labels_file_equals_ptx_run_generate(ray_local, tmp_path):
    import importlib.util

    from ptx.runtime.cli.run_generate import run_generate_cmd
    from ptx.spec import ImageConvention

    where = Path(__file__).parents[1] / "pipelines" / "test_generate.py"
    spec = importlib.util.spec_from_file_location("ptx_test_generate", where)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    model = gen.tiny_generator(tmp_path / "gan.onnx", image=ImageConvention(range=(-1.0, 1.0)))
    lines = [
        {"labels": {"category": "mug", "color": "red"}, "seed": 3, "out": "mug.png"},
        {"labels": {"category": "watch"}, "seed": 5},
        {"labels": {"category": "sofa"}, "seed": 1},  # not in the vocabulary: skipped
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "out"
    summary = run_batch("generate", model, labels, out, workers=1, progress=False)
    assert (summary.images, summary.failed) == (2, 1)
    assert "sofa" in summary.skipped[0][1]
    for args, name in [
        (["--label", "category=mug", "--label", "color=red", "--seed", "3"], "mug.png"),
        (["--label", "category=watch", "--seed", "5"], "000001_watch.png"),
    ]:
        ref = tmp_path / f"ref-{name}"
        res = CliRunner().invoke(
            run_generate_cmd, ["--model", str(model), "--n", "1", "--out", str(ref), *args]
        )
        assert res.exit_code == 0, res.output
        (written,) = ref.glob("*.png")
        assert (out / name).read_bytes() == written.read_bytes()
    again = run_batch("generate", model, labels, out, workers=1, progress=False)
    assert (again.images, again.resumed, again.failed) == (0, 2, 1)


def test_generate_actors_write_png_at_the_drivers_level(ray_local, monkeypatch, tmp_path):
    """Ray started before PTX_PNG_LEVEL was set: its actors only know the level they are given."""
    import importlib.util

    from PIL import Image

    from ptx.io import encode_image

    where = Path(__file__).parents[1] / "pipelines" / "test_generate.py"
    spec = importlib.util.spec_from_file_location("ptx_test_generate", where)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    model = gen.tiny_generator(tmp_path / "gan.onnx")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"labels": {"category": "mug"}, "seed": 3, "out": "m.png"}))
    written = {}
    for level in ("0", "9"):
        monkeypatch.setenv("PTX_PNG_LEVEL", level)
        out = tmp_path / f"out{level}"
        assert run_batch("generate", model, labels, out, workers=1, progress=False).images == 1
        written[level] = (out / "m.png").read_bytes()
    pixels = np.asarray(Image.open(io.BytesIO(written["9"])).convert("RGB"))
    assert written["0"] == encode_image(pixels, "PNG", level=0)
    assert written["9"] == encode_image(pixels, "PNG", level=9)
    assert len(written["0"]) > len(written["9"])


def test_bad_labels_lines_are_refused_with_their_line_number(tmp_path):
    from ptx.runtime.batch.generate import plan_generate

    labels = tmp_path / "labels.jsonl"
    for text, match in [
        ('{"labels": {"category": "mug"}}\nnot json\n', r"labels.jsonl:2: not a labels line"),
        ('{"out": "../escape.png"}\n', "inside --out"),
        ('{"out": "a.png"}\n{"out": "a.png"}\n', "earlier line"),
        ("# nothing\n", "no labels lines"),
    ]:
        labels.write_text(text)
        with pytest.raises(InputError, match=match):
            plan_generate(labels, tmp_path / "out")
