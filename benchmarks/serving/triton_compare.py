"""A real tritonserver on what `ptx triton` writes, against in-process answers and `ptx serve`.

Writes a repository for the enhancer (the shipped ``runtime/models/enhance.onnx``, or
``--model``) and a tiny GAN (the gan family's test configuration at random init,
exported as `ptx export` does): the backend-native entries, the python-backend ones
and the image ensemble. Starts nvidia-pytriton's ``tritonserver`` (python backend
only, in ``.venv-triton``: ``scripts/triton-venv.sh``) on the python-backend entries,
checks tritonclient's HTTP and gRPC answers against the same ONNX in-process (max abs
diff), then measures p50 at concurrency 1 for Triton and `ptx serve` (HTTP and gRPC)
and in-process, in alternating rounds. Writes ``<out>/<name>.json`` and ``.md``.

    python -m ptx.benchmarks.serving.triton_compare [--size 64] [--seconds 2] [--out DIR]
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report, stats
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving.load import spawn_server, stop_server
from ptx.benchmarks.serving.triton_server import REPO_ROOT, TritonServer, free_port, make_venv
from ptx.export.triton import write_repository
from ptx.export.triton_python import write_python_entries
from ptx.io import atomic_write_text, decode_image, encode_image
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays

SHIPPED_ENHANCER = REPO_ROOT / "runtime" / "models" / "enhance.onnx"
ENTRIES = ["enhance_python", "enhance_pre", "enhance_post", "enhance_image", "gan_python"]
DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64", np.dtype(object): "BYTES"}


def tiny_gan(out: Path) -> Path:
    """The gan family's test configuration at random init, exported as `ptx export` does."""
    from ptx.benchmarks.harness.models import export_onnx, family_model  # torch: heavy
    from ptx.training.common import registry

    return export_onnx(family_model("gan", config=registry.get("gan").test_config), out)


def build_repository(work: Path, enhancer: Path | None = None) -> dict[str, Path]:
    """Models and a repository under ``work``: {"repo", "enhance", "gan"} paths."""
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    enh = models / "enhance.onnx"
    shutil.copyfile(enhancer or SHIPPED_ENHANCER, enh)
    gan = tiny_gan(models / "gan.onnx")
    repo = work / "repo"
    for name, path, ensemble in (("enhance", enh, True), ("gan", gan, False)):
        write_repository(path, repo, name=name, kind="cpu", instances=1)
        write_python_entries(path, repo, name=name, ensemble=ensemble)
    return {"repo": repo, "enhance": enh, "gan": gan}


def enhancer_feeds(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """One size x size image as the enhancer's input tensor."""
    x = np.random.default_rng(seed).random((1, 3, size, size), dtype=np.float32)
    return {"image": x}


def gan_feeds(batch: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Latents and label ids for the tiny GAN (3 categories, 2 colours)."""
    rng = np.random.default_rng(seed)
    return {
        "z": rng.standard_normal((batch, 8)).astype(np.float32),
        "category": (np.arange(batch) % 3).astype(np.int64),
        "color": (np.arange(batch) % 2).astype(np.int64),
    }


def photo(size: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth RGB test picture (uint8), not a training image."""
    yy, xx = np.mgrid[0:size, 0 : size + 7].astype(np.float32)
    rng = np.random.default_rng(seed)
    base = np.stack([np.sin(xx / 5), np.cos(yy / 7), np.sin((xx + yy) / 9)], axis=-1)
    img = 127.5 + 100 * base + rng.normal(0, 6, base.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def infer(module, url: str, model: str, feeds: dict[str, np.ndarray], outputs: list[str]):
    """tritonclient ``module`` (http or grpc) infer; {output name: array}."""
    client = module.InferenceServerClient(url)
    try:
        return infer_with(module, client, model, feeds, outputs)
    finally:
        client.close()


def infer_with(module, client, model: str, feeds: dict[str, np.ndarray], outputs: list[str]):
    """One infer on an open client; {output name: array}."""
    inputs = []
    for name, arr in feeds.items():
        tensor = module.InferInput(name, list(arr.shape), DATATYPES[arr.dtype])
        tensor.set_data_from_numpy(arr)
        inputs.append(tensor)
    wanted = [module.InferRequestedOutput(o) for o in outputs]
    result = client.infer(model, inputs, outputs=wanted)
    return {o: result.as_numpy(o) for o in outputs}


def triton_feeds(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-item scalars (a label id per sample) as Triton wants them: [N, 1], reshaped to [N]
    by the entry's config (``reshape: { shape: [ ] }``, as `ptx triton` writes it)."""
    return {k: v.reshape(-1, 1) if v.ndim == 1 else v for k, v in feeds.items()}


def ensemble_png(module, url: str, rgb: np.ndarray) -> np.ndarray:
    """The enhance_image ensemble's answer for ``rgb``, decoded."""
    blob = np.array([[encode_image(rgb, "PNG")]], dtype=np.object_)
    png = infer(module, url, "enhance_image", {"IMAGE": blob}, ["PNG"])["PNG"]
    return decode_image(png.reshape(-1)[0])


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Max abs difference (shapes must match)."""
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape} != {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def correctness(triton: TritonServer, paths: dict[str, Path]) -> list[dict]:
    """Each entry's tritonclient HTTP and gRPC answer against the ONNX in-process."""
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    rows = []
    enh = load(paths["enhance"], backend="onnxruntime")
    gan = load(paths["gan"], backend="onnxruntime")
    try:
        clients = {"http": (httpclient, triton.http_url), "grpc": (grpcclient, triton.grpc_url)}
        cases = [("enhance_python", enh, enhancer_feeds(64)), ("gan_python", gan, gan_feeds())]
        for entry, engine, feeds in cases:
            out = engine.outputs[0].name
            ref = engine.run(feeds)[out]
            sent = triton_feeds(feeds)
            diffs = {
                proto: max_diff(infer(mod, url, entry, sent, [out])[out], ref)
                for proto, (mod, url) in clients.items()
            }
            rows.append({"entry": entry, "compared_with": "ONNX in-process", **diffs})
        rgb = photo()
        ref = enhance_arrays(enh, [rgb])[0]
        diffs = {
            proto: max_diff(ensemble_png(mod, url, rgb), ref)
            for proto, (mod, url) in clients.items()
        }
        rows.append({"entry": "enhance_image", "compared_with": "ptx run enhance (uint8)", **diffs})
    finally:
        enh.close()
        gan.close()
    return rows


def p50_rounds(calls: dict[str, Callable[[], object]], seconds: float, rounds: int) -> dict:
    """p50 ms of each call at concurrency 1, measured in alternating rounds (same machine state)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():  # warm-up
        for _ in range(5):
            fn()
    for _ in range(rounds):
        for label, fn in calls.items():
            end = time.perf_counter() + seconds / rounds
            while time.perf_counter() < end:
                t = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - t) * 1e3)
    return {k: {"p50_ms": stats.median(v), "n": len(v)} for k, v in times.items()}


def latency(triton: TritonServer, paths: dict[str, Path], size: int, seconds: float) -> dict:
    """p50 at concurrency 1: in-process, Triton HTTP/gRPC, ptx serve HTTP/gRPC (enhancer)."""
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    feeds = enhancer_feeds(size)
    grpc_port = free_port()
    args = ["--backend", "onnxruntime", "--grpc-port", str(grpc_port)]
    proc, url = spawn_server(f"enhance={paths['enhance']}", args)
    engine = load(paths["enhance"], backend="onnxruntime")
    out = engine.outputs[0].name
    clients = {
        "triton http": (httpclient, httpclient.InferenceServerClient(triton.http_url)),
        "triton grpc": (grpcclient, grpcclient.InferenceServerClient(triton.grpc_url)),
        "ptx serve http": (httpclient, httpclient.InferenceServerClient(url[len("http://") :])),
        "ptx serve grpc": (grpcclient, grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")),
    }
    try:
        calls: dict[str, Callable[[], object]] = {"in-process": lambda: engine.run(feeds)}
        for label, (mod, client) in clients.items():
            model = "enhance_python" if label.startswith("triton") else "enhance"
            calls[label] = lambda m=mod, c=client, n=model: infer_with(m, c, n, feeds, [out])
        return p50_rounds(calls, seconds * len(calls), rounds=5)
    finally:
        for _, client in clients.values():
            client.close()
        engine.close()
        stop_server(proc)


def markdown(doc: dict) -> str:
    """The results page: what loaded, answers against in-process, p50s."""
    lat = doc["latency"]
    floor = lat["in-process"]["p50_ms"]
    ready = sum(state == "READY" for state in doc["triton"]["loaded"].values())
    lines = [
        f"# A real tritonserver on `ptx triton` output ({doc['env'].get('hostname', '?')})",
        "",
        f"`{doc['command']}`, {doc['created']}. tritonserver {doc['triton']['version']} "
        f"(nvidia-pytriton 0.7.0, python backend only) loaded {ready} entries in "
        f"{doc['triton']['load_s']:.1f} s; the backend-native ones need a full Triton "
        "(onnxruntime backend). The machine is shared with other jobs (noisy timings).",
        "",
        "| Triton entry | state | compared with | max abs diff HTTP | max abs diff gRPC |",
        "| --- | --- | --- | --- | --- |",
    ]
    diffs = {r["entry"]: r for r in doc["answers"]}
    for entry, state in doc["triton"]["loaded"].items():
        r = diffs.get(entry)
        cells = [r["compared_with"], f"{r['http']:.3g}", f"{r['grpc']:.3g}"] if r else ["-"] * 3
        lines.append(f"| {entry} | {state} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"p50 at concurrency 1, enhancer {doc['size']}x{doc['size']} FP32 tensor, "
        "alternating rounds:",
        "",
        "| path | p50 ms | x in-process | requests |",
        "| --- | --- | --- | --- |",
    ]
    for label, r in lat.items():
        lines.append(f"| {label} | {r['p50_ms']:.3f} | {r['p50_ms'] / floor:.2f}x | {r['n']} |")
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), help="enhancer ONNX [shipped]")
@click.option("--size", default=64, show_default=True, help="enhancer request side")
@click.option("--seconds", default=2.0, show_default=True, help="measured seconds per path")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
@click.option("--name", default="vm-triton", show_default=True, help="results file stem")
def main(model, size, seconds, out, name) -> None:
    """Serve ptx triton output on a real tritonserver; answers and p50 against ptx serve."""
    import tritonclient.http as httpclient

    make_venv()
    with tempfile.TemporaryDirectory(prefix="ptx-triton-") as tmp:
        paths = build_repository(Path(tmp), Path(model) if model else None)
        with TritonServer(paths["repo"], ENTRIES) as triton:
            client = httpclient.InferenceServerClient(triton.http_url)
            index = client.get_model_repository_index()
            version = client.get_server_metadata()["version"]
            client.close()
            loaded = {m["name"]: m.get("state") or "not loaded" for m in index}
            answers = correctness(triton, paths)
            lat = latency(triton, paths, size, seconds)
            load_s = triton.load_s
    doc = report.document([], env_mod.capture(), {})
    doc.update(
        command="python -m ptx.benchmarks.serving.triton_compare",
        size=size,
        triton={"version": version, "loaded": loaded, "load_s": load_s},
        answers=answers,
        latency=lat,
    )
    folder = report.results_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"{name}.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(folder / f"{name}.md", markdown(doc))
    click.echo(markdown(doc))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)
