"""The Ray Data job: decode in Ray tasks, one ptx engine per actor, the manifest on the driver."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ptx.errors import InputError, ModelError
from ptx.io import (
    atomic_write_bytes,
    png_level,
    remove_stale_parts_in,
    sha256_file,
    sync_folder,
)
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.batch.blocks import BLOCK_BYTES, block_table, plan_blocks
from ptx.runtime.batch.devices import (
    check_cluster_gpus,
    check_gpu_request,
    gpu_backend,
    worker_device,
)
from ptx.runtime.batch.generate import GenerateWorker, plan_generate
from ptx.runtime.batch.manifest import MANIFEST_NAME, Manifest
from ptx.runtime.batch.pixels import decode_row, decode_rows, encode_output, image_views
from ptx.runtime.batch.ray_setup import (
    import_ray,
    local_cpus,
    local_ray_options,
    one_machine,
    start_ray,
)
from ptx.runtime.batch.sources import plan_batch
from ptx.runtime.cpu import physical_cores
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.batching import Item, mark_output, same_size_batches
from ptx.runtime.pipelines.enhance import image_convention, image_input
from ptx.runtime.pipelines.stylize import _guarded
from ptx.spec import ImageConvention

TASKS = ("enhance", "stylize", "generate")
DECODE_CPUS = 0.25  # a decode task's CPU share (small, so it always fits beside the actors)
# Images per Ray task and actor call at most: Ray's per-call cost amortised (16 -> 32:
# the driver 1.2 -> 0.9 ms of CPU an image, idle Ray workers 0.35 -> 0.2; a killed
# actor redoes at most this many); fewer where their pixels pass BLOCK_BYTES.
ROWS_PER_CALL = 32
WORKERS_PER_DECODER = 4  # CPU actors one decode task keeps fed (~3 ms an image vs ~30 ms)
WRITERS = 2  # an actor's encode/write threads: outputs are written while the model runs on


@dataclass
class BatchSummary:
    """What a batch run did: counts (``resumed`` = already complete), speed, skipped files."""

    images: int
    failed: int
    resumed: int
    seconds: float
    images_per_s: float
    workers: int
    out: str
    manifest: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # where the actors' engines ran

    def line(self) -> str:
        """The one-line summary the CLI prints (as `ptx run`'s, plus what was already done)."""
        on = "" if set(self.devices) <= {"cpu"} else f" on {', '.join(self.devices)}"
        return (
            f"{self.images} images, {self.failed} failed, {self.resumed} already done, "
            f"{self.images_per_s:.2f} images/s ({self.seconds:.2f} s, ray x{self.workers}{on}) "
            f"-> {self.out}"
        )

    def to_dict(self) -> dict:
        """JSON-able dict (skipped as [{path, reason}])."""
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return d


class Worker:
    """Ray actor: one ptx engine; runs a batch of decoded rows and writes outputs atomically.

    With ``gpus`` > 0 the engine runs on the GPU Ray assigned this actor (devices.py);
    ``level`` is the PNG level the driver chose (a cluster's actors do not see its
    environment); ``loader`` stands in for ``ptx.runtime.load`` (a test seam: the
    actors are other processes, so a double has to travel with the actor's arguments).
    """

    def __init__(
        self,
        task: str,
        model: str,
        threads: int,
        backend: str,
        batch: int = 1,
        kill_on: str = "",
        gpus: float = 0.0,
        loader: Callable[..., Engine] | None = None,
        level: int | None = None,
    ) -> None:
        device = worker_device(gpus)
        engine = (loader or load)(
            model, device=device, threads=threads, backend=backend, **quiet_pool(backend)
        )
        self.device = device
        self.engine = _guarded(engine, threads) if task == "stylize" else engine
        self.dtype = image_input(self.engine).dtype
        self.conv = image_convention(self.engine)
        self.batch = batch  # images per model call, as `ptx run --batch`
        self.kill_on = kill_on  # test hook "a.png,b.png|flagdir": SIGKILL self once on each
        self.writer = ThreadPoolExecutor(WRITERS, thread_name_prefix="ptx-batch-write")
        self.swept: set[Path] = set()  # output folders this actor cleared of dead writers' parts
        self.level = png_level() if level is None else level

    def _maybe_die(self, source: str) -> None:
        if not self.kill_on:
            return
        names, flags = self.kill_on.split("|", 1)
        name = Path(source).name
        flag = Path(flags) / f"{name}.killed"
        if name in names.split(",") and not flag.exists():
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

    def __call__(self, batch) -> dict:
        """Enhance/stylize a decode_rows table's good rows; every row comes back with
        sha256 or error, its decode ``block`` and the pixel bytes this call ``held``."""
        sources, dests = batch.column("source").to_pylist(), batch.column("dest").to_pylist()
        n = len(sources)
        sha, err = [""] * n, batch.column("error").to_pylist()
        images = image_views(batch)  # read where Ray's object store holds them
        alphas = image_views(batch, "alpha")
        held = sum(a.nbytes for a in (*images, *alphas) if a is not None)
        items = [(i, Item(Path(sources[i]), Path(dests[i]), images[i], alpha=alphas[i]))
                 for i in range(n) if not err[i]]  # fmt: skip
        index = {id(item): i for i, item in items}
        # Dead writers' temp files (a worker killed mid-write) go once per folder and
        # actor, not with every write: listing a 10,000-file folder costs ~6 ms.
        for folder in {item.dest.parent for _, item in items} - self.swept:
            remove_stale_parts_in(folder)
            self.swept.add(folder)
        writes = []
        for group in same_size_batches([item for _, item in items], self.batch):
            try:
                x = self.conv.to_model([it.image for it in group], self.dtype)
                y = next(iter(self.engine.run({self.engine.inputs[0].name: x}).values()))
            except (InputError, ModelError) as exc:
                for item in group:
                    err[index[id(item)]] = str(exc)
                continue
            for i, item in enumerate(group):
                self._maybe_die(str(item.source))
                # Back to pixels on the writer threads too, as ptx run does: the actor's
                # own thread only runs the model.
                done = self.writer.submit(_finish, item, y, i, self.conv, self.level)
                writes.append((item, done))
        # Every row's write has finished (or failed) and its folder entry is durable (one
        # folder fsync for the batch, not one a file) before the rows go back to the
        # manifest, which records only what a crash cannot take back.
        written = set()
        for item, done in writes:
            try:
                sha[index[id(item)]] = done.result()
                written.add(item.dest.parent)
            except (OSError, ValueError, InputError) as exc:
                err[index[id(item)]] = f"{item.dest}: cannot write ({exc})"
        for folder in written:
            sync_folder(folder)
        return {
            "source": sources, "dest": dests, "sha256": sha, "error": err,
            "device": [self.device] * n, "block": batch.column("block").to_pylist(),
            "held": [held] * n,
        }  # fmt: skip


def _rows(ray, ds):
    """The dataset's rows; a worker whose engine could not load is one ModelError line."""
    try:
        yield from ds.iter_rows()
    except ray.exceptions.RayActorError as exc:
        if not exc.actor_init_failed:
            raise
        raise ModelError(f"a ptx batch worker could not start: {init_error(str(exc))}") from None


def init_error(text: str) -> str:
    """The ptx error line at the end of Ray's report of a failed actor ``__init__``."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "unknown error"
    head, sep, tail = last.partition(": ")
    return tail if sep and head.startswith("ptx.errors.") else last


def _finish(item: Item, y: np.ndarray, i: int, conv: ImageConvention, level: int) -> str:
    """Writer thread: output ``i`` of ``y`` to pixels, written atomically; its sha256.

    The bytes and format are save_image's (``ptx run``'s); the folder's fsync and the
    sweep of dead writers' temp files are the caller's (Worker.__call__), once a batch.
    """
    size = item.image.shape[:2]
    data = encode_output(y, i, conv, size, item.dest, level, item.alpha, item.source)
    atomic_write_bytes(item.dest, data, sweep=False, sync_dir=False)
    return hashlib.sha256(data).hexdigest()


def decoders(workers: int, gpus_per_worker: float = 0.0) -> int:
    """Decode tasks at once for ``workers`` actors: one per WORKERS_PER_DECODER on the CPU.

    Each decode task holds a Ray worker process (a second of CPU to start, a few ms a
    second to keep) and one decodes far faster than a CPU actor runs the model, so
    more would only take CPU from the actors; a GPU actor is that much faster, so it
    keeps one decode task of its own.
    """
    if gpus_per_worker > 0:
        return workers
    return max(1, -(-workers // WORKERS_PER_DECODER))


def run_batch(
    task: str,
    model: str | Path,
    input: str | Path,
    out: str | Path,
    workers: int = 2,
    batch: int = 1,
    address: str | None = None,
    threads: int | None = None,
    cpus_per_worker: float | None = None,
    backend: str = "auto",
    progress: bool = True,
    manifest: str | Path | None = None,
    on_result: Callable[[dict], None] | None = None,
    kill_on: str = "",
    gpus_per_worker: float = 0.0,
    loader: Callable[..., Engine] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> BatchSummary:
    """Run ``task`` over ``input`` on Ray Data into ``out`` (names kept), resumably.

    ``gpus_per_worker`` > 0 gives each actor that share of a GPU (Ray ``num_gpus``) and
    runs its engine there (``auto``: TensorRT for a plan, else ONNX Runtime's CUDA
    provider); a cluster without enough GPUs is one InputError line before Ray waits.
    ``on_result`` sees each finished row on the driver (after its manifest line);
    ``kill_on`` ("a.png,b.png|flagdir") is a fault-injection hook: the worker holding
    each named input SIGKILLs itself once (a flag file per name in flagdir);
    ``loader`` replaces ``ptx.runtime.load`` in the actors (tests); ``block_bytes``
    bounds the decoded pixels one decode task returns and one actor call holds.
    """
    if task not in TASKS:
        raise InputError(f"ptx batch runs {', '.join(TASKS)}; got '{task}'")
    if workers < 1 or batch < 1:
        raise InputError(f"--workers and --batch must be >= 1, got {workers} and {batch}")
    model = Path(model)
    if not model.is_file():
        raise InputError(f"{model}: no such model file")
    check_gpu_request(gpus_per_worker, backend, model)
    level = png_level()  # the driver's PTX_PNG_LEVEL for every actor; a bad one fails here
    if gpus_per_worker > 0:
        backend = gpu_backend(model, backend)
    if task == "generate" and backend == "auto":
        backend = "onnxruntime"  # ptx run generate's backend unless one is asked for
    ray = import_ray()
    if task == "generate":
        planned = plan_generate(input, out)
    else:
        planned = [{"source": str(it.source), "dest": str(it.dest.resolve())}
                   for it in plan_batch(input, out)]  # fmt: skip
    book = Manifest(manifest or Path(out) / MANIFEST_NAME, sha256_file(model))
    done = book.done()
    todo = [row for row in planned if row["dest"] not in done]
    resumed = len(planned) - len(todo)
    cpus = local_cpus()
    per = cpus_per_worker or (1.0 if address else min(1.0, cpus / (workers + 1)))
    if threads is None:
        threads = max(1, physical_cores() // workers) if not address else max(1, int(per))
    skipped: list[tuple[str, str]] = []
    images = 0
    devices: set[str] = set()
    start = time.perf_counter()
    started = start_ray(ray, address, cpus) if todo else False
    try:  # before anything is written; Ray would wait for missing GPUs without a word
        if todo:
            check_cluster_gpus(ray.cluster_resources(), gpus_per_worker, workers)
    except InputError:
        if started:
            ray.shutdown()
        raise
    Path(out).mkdir(parents=True, exist_ok=True)
    if Path(input).is_dir():
        mark_output(input, out)
    bar = tqdm(total=len(todo), unit="img", file=sys.stderr, disable=not progress, leave=False)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our bar and summary, not Ray's
    try:
        if todo:
            warnings.filterwarnings("ignore", module="ray.data")
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            rows = max(batch, min(ROWS_PER_CALL, -(-len(todo) // (2 * workers))))
            if task == "generate":
                ds = ray.data.from_items(todo, override_num_blocks=-(-len(todo) // rows))
                worker = GenerateWorker
                kwargs = dict(
                    model=str(model.resolve()), threads=threads, backend=backend, level=level
                )
            else:
                # One planned block a decode task and a CPU actor's call (batch_size
                # None: Ray neither merges blocks up to a row count nor splits them); a
                # GPU actor gets the uniform blocks' row count (Ray wants one for GPUs).
                blocks = plan_blocks(todo, rows, block_bytes, uniform=gpus_per_worker > 0)
                ds = ray.data.from_arrow([block_table(block) for block in blocks])
                ds = ds.map_batches(
                    decode_rows,
                    batch_size=None,
                    num_cpus=DECODE_CPUS,
                    compute=ray.data.TaskPoolStrategy(size=decoders(workers, gpus_per_worker)),
                )
                worker = Worker
                rows = max(len(block) for block in blocks)  # a GPU actor's row count
                kwargs = dict(
                    task=task,
                    model=str(model.resolve()),
                    threads=threads,
                    backend=backend,
                    batch=batch,
                    kill_on=kill_on,
                    level=level,
                )
            kwargs.update(gpus=gpus_per_worker, loader=loader)
            gpu_args = {"num_gpus": gpus_per_worker} if gpus_per_worker > 0 else {}
            ds = ds.map_batches(
                worker,
                fn_constructor_kwargs=kwargs,
                batch_size=None if worker is Worker and not gpu_args else rows,
                batch_format="pyarrow" if worker is Worker else "numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=per,
                **gpu_args,
            )  # fmt: skip
            for row in _rows(ray, ds):
                source, dest = str(row["source"]), str(row["dest"])
                if row["error"]:
                    skipped.append((source, str(row["error"])))
                    book.append(source, dest, error=str(row["error"]))
                else:
                    images += 1
                    book.append(source, dest, sha256=str(row["sha256"]))
                devices.add(str(row["device"]))
                bar.update(1)
                if on_result is not None:
                    on_result(dict(row))
    finally:
        book.close()
        bar.close()
        local = bool(todo) and one_machine(ray, address)
        if started:
            ray.shutdown()
        if local:
            # Temp files of actors killed mid-write (their outputs were redone): on one
            # machine the writers' pids are this machine's, so which are dead is known.
            for folder in {Path(row["dest"]).parent for row in todo}:
                remove_stale_parts_in(folder)
    seconds = time.perf_counter() - start
    return BatchSummary(
        images=images,
        failed=len(skipped),
        resumed=resumed,
        seconds=seconds,
        images_per_s=images / seconds if seconds > 0 else 0.0,
        workers=workers,
        out=str(out),
        manifest=str(book.path),
        skipped=skipped,
        devices=sorted(devices),
    )


__all__ = [
    "TASKS", "BatchSummary", "Worker", "decode_row", "import_ray", "local_ray_options", "run_batch",
]  # fmt: skip
