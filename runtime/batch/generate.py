"""`ptx batch generate`: one image per line of a labels file (JSONL), one generator per actor.

A line is ``{"labels": {"category": "mug"}, "seed": 7, "out": "mug-7.png"}``; ``seed``
defaults to the line number (from 0) and ``out`` to ``NNNNNN_<labels>.png``. Each
image is what `ptx run generate --n 1 --seed SEED --label ...` writes for the line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ptx.errors import InputError, ModelError
from ptx.io import atomic_write_bytes, encode_image, png_level, sha256_file
from ptx.runtime import load
from ptx.runtime.batch.devices import worker_device
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.generate import generate


def plan_generate(labels_file: str | Path, out_dir: str | Path) -> list[dict]:
    """Rows (source, dest, labels, seed) for every line of ``labels_file``; bad lines refused."""
    src, out = Path(labels_file), Path(out_dir)
    if not src.is_file():
        raise InputError(f"{src}: no such labels file (JSONL, one image a line)")
    rows, dests = [], set()
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rec = json.loads(line)
            labels = {str(k): str(v) for k, v in rec.get("labels", {}).items()}
            seed = int(rec.get("seed", n))
        except (ValueError, AttributeError, TypeError) as exc:
            raise InputError(
                f"{src}:{n + 1}: not a labels line ({exc}); use "
                '{"labels": {"category": "mug"}, "seed": 7}'
            ) from exc
        tag = "_".join(v.replace("/", "-") for v in labels.values()) or "free"
        name = str(rec.get("out") or f"{len(rows):06d}_{tag}.png")
        dest = (out / name).resolve()
        if out.resolve() not in dest.parents or dest.suffix.lower() != ".png":
            raise InputError(f"{src}:{n + 1}: out {name!r} must be a .png name inside --out")
        if str(dest) in dests:
            raise InputError(f"{src}:{n + 1}: out {name!r} is written by an earlier line")
        dests.add(str(dest))
        row = {"source": f"{src}:{n + 1}", "dest": str(dest), "labels": json.dumps(labels)}
        rows.append({**row, "seed": seed})
    if not rows:
        raise InputError(f"{src}: no labels lines")
    return rows


class GenerateWorker:
    """Ray actor: one generator engine; one image per row, written atomically as PNG.

    ``gpus`` and ``loader`` as for job.Worker: the GPU Ray assigned, and a test seam;
    ``level`` the driver's PNG level (an actor on another node has its own environment).
    """

    def __init__(
        self,
        model: str,
        threads: int,
        backend: str = "onnxruntime",
        gpus: float = 0.0,
        loader: Callable[..., Engine] | None = None,
        level: int | None = None,
    ) -> None:
        device = worker_device(gpus)
        self.level = png_level() if level is None else level
        self.device = device
        self.engine = (loader or load)(model, device=device, threads=threads, backend=backend)

    def __call__(self, batch: dict) -> dict:
        """Generate each row's image; every row comes back with sha256 or error."""
        n = len(batch["source"])
        sha, err = [""] * n, [""] * n
        for i in range(n):
            dest = str(batch["dest"][i])
            try:
                images, _ = generate(
                    self.engine,
                    json.loads(str(batch["labels"][i])),
                    n=1,
                    seed=int(batch["seed"][i]),
                )
                atomic_write_bytes(dest, encode_image(images[0], "PNG", level=self.level))
                sha[i] = sha256_file(dest)
            except (InputError, ModelError, OSError, ValueError) as exc:
                err[i] = str(exc)
        return {
            "source": batch["source"], "dest": batch["dest"], "sha256": sha, "error": err,
            "device": [self.device] * n,
        }  # fmt: skip
