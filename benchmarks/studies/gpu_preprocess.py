"""Time the fused preprocessing kernel against the same work as a chain of torch ops and
against a device-to-device copy of the input bytes (default 1024x1024 -> 256x256, batch 32).

CUDA events around each run, warm-up first, the median of many runs, inputs rotated
among several sets so no run reads a cache-warm batch. Needs torch with CUDA.
``python -m ptx.benchmarks.studies.gpu_preprocess [--json-out FILE]``; JSON goes to
``$OUT/gpu_preprocess.json`` when $OUT is set and no file is named.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from ptx.io import atomic_write_text
from ptx.runtime.cuda import as_device_array
from ptx.runtime.kernels.ops import kernels_for
from ptx.runtime.kernels.params import letterbox_params
from ptx.spec import ImageConvention

TARGET_SPEEDUP = 3.0  # fused kernel vs the torch chain
TARGET_COPY_FRACTION = 0.5  # fused kernel's bytes/s vs a device-to-device copy's
SPIN_CYCLES = 2_000_000  # about 1 ms of GPU clock, longer than any run's Python overhead


def median_ms(torch: Any, fn: Any, sets: int, runs: int, warmup: int) -> float:
    """Median milliseconds of ``fn(i)`` over ``runs`` event-timed calls (after ``warmup``)."""
    for i in range(warmup):
        fn(i % sets)
    pairs = []
    spin = getattr(torch.cuda, "_sleep", None)
    for i in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if spin is not None:
            # Keep the GPU busy while Python queues the run, so the events time GPU work
            # and not the host's launch overhead.
            spin(SPIN_CYCLES)
        start.record()
        fn(i % sets)
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in pairs)


def run(batch: int, src: int, dst: int, runs: int, warmup: int, sets: int) -> dict[str, Any]:
    """Time the three variants and check that kernel and chain agree."""
    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        raise SystemExit("gpu_preprocess: torch sees no CUDA GPU")
    conv = ImageConvention(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    p = letterbox_params((src, src), (dst, dst), conv, dtype="float16")
    kernels = kernels_for(torch.cuda.current_device())
    inputs = [
        torch.randint(0, 256, (batch, src, src, 3), dtype=torch.uint8, device="cuda")
        for _ in range(sets)
    ]
    out = torch.empty(p.out_shape(batch), dtype=torch.float16, device="cuda")
    scale = torch.tensor(p.scale, device="cuda").view(1, 3, 1, 1)
    offset = torch.tensor(p.offset, device="cuda").view(1, 3, 1, 1)
    copy_dst = torch.empty_like(inputs[0])

    srcs = [as_device_array(t) for t in inputs]  # resolved once: the launch is what is timed
    dst_array = as_device_array(out)

    def fused(i: int) -> None:
        kernels.preprocess(srcs[i], dst_array, p, torch.cuda.current_stream())

    def chain(i: int) -> Any:  # the same function: uint8 NHWC -> area resize -> normalise -> FP16
        x = inputs[i].permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(dst, dst), mode="area")
        return torch.addcmul(offset, x, scale).half()

    def copy(i: int) -> None:
        copy_dst.copy_(inputs[i])

    out.fill_(float("nan"))
    fused(0)
    want = chain(0)
    torch.cuda.synchronize()
    diff = (out.float() - want.float()).abs().max().item()
    times = {
        "fused_kernel": median_ms(torch, fused, sets, runs, warmup),
        "torch_chain": median_ms(torch, chain, sets, runs, warmup),
        "d2d_copy": median_ms(torch, copy, sets, runs, warmup),
    }
    in_bytes = inputs[0].numel()
    out_bytes = out.numel() * out.element_size()
    fused_gbs = (in_bytes + out_bytes) / times["fused_kernel"] / 1e6
    copy_gbs = 2 * in_bytes / times["d2d_copy"] / 1e6  # bytes read + bytes written
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {
        "gpu": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "shape": {"batch": batch, "src": [src, src, 3], "dst": list(p.out_shape(batch))},
        "runs": runs,
        "median_ms": {k: round(v, 4) for k, v in times.items()},
        "bytes": {"read": in_bytes, "written": out_bytes},
        "gb_per_s": {"fused_kernel": round(fused_gbs, 1), "d2d_copy": round(copy_gbs, 1)},
        "speedup_vs_torch": round(times["torch_chain"] / times["fused_kernel"], 2),
        "fraction_of_copy_bandwidth": round(fused_gbs / copy_gbs, 3),
        "max_abs_diff_vs_torch": diff,
        "targets": {"speedup": TARGET_SPEEDUP, "copy_fraction": TARGET_COPY_FRACTION},
    }


def table(r: dict[str, Any]) -> str:
    """A short Markdown table of the result."""
    ms, gbs = r["median_ms"], r["gb_per_s"]
    speed_ok = "met" if r["speedup_vs_torch"] >= TARGET_SPEEDUP else "MISSED"
    copy_ok = "met" if r["fraction_of_copy_bandwidth"] >= TARGET_COPY_FRACTION else "MISSED"
    return "\n".join([
        f"{r['gpu']} (cc {r['compute_capability']}), batch {r['shape']['batch']}, "
        f"{r['shape']['src'][0]}x{r['shape']['src'][1]} -> {r['shape']['dst'][2]}x"
        f"{r['shape']['dst'][3]} FP16 NCHW, median of {r['runs']}",
        "| variant | median ms | GB/s |",
        "|---|---|---|",
        f"| fused kernel | {ms['fused_kernel']:.4f} | {gbs['fused_kernel']} |",
        f"| torch chain | {ms['torch_chain']:.4f} | |",
        f"| d2d copy of the input | {ms['d2d_copy']:.4f} | {gbs['d2d_copy']} |",
        f"speedup vs torch {r['speedup_vs_torch']}x (target >= {TARGET_SPEEDUP}x: {speed_ok}); "
        f"{r['fraction_of_copy_bandwidth']:.0%} of copy bandwidth "
        f"(target >= {TARGET_COPY_FRACTION:.0%}: {copy_ok}); "
        f"max |kernel - torch| {r['max_abs_diff_vs_torch']:.2e}",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--src", type=int, default=1024)
    ap.add_argument("--dst", type=int, default=256)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--sets", type=int, default=3, help="input sets rotated between runs")
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = run(args.batch, args.src, args.dst, args.runs, args.warmup, args.sets)
    print(table(result))
    target = args.json_out or (
        Path(os.environ["OUT"]) / "gpu_preprocess.json" if os.environ.get("OUT") else None
    )
    if target is not None:
        atomic_write_text(target, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
