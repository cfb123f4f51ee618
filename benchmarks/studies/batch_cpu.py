"""CPU time of a process and every process under it (a local Ray's raylet, GCS, workers).

Images/s on a shared machine moves with everyone else's load; the CPU seconds the
run's own processes spent per image do not (much). ``CpuSampler`` reads utime+stime
from /proc/<pid>/stat for the process and all its descendants every ``every`` seconds,
keeps the last value seen of each process (so one that exits mid-run still counts)
and sums them by kind: the driver, the batch actors, the decode tasks, Ray's own
services and actors. The sampler's own thread is taken off the driver. Linux only:
elsewhere ``available()`` is False and nothing is sampled.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

PROC = Path("/proc")
DECODE = "decode tasks"
# Ray retitles its worker processes "ray::<what runs>"; (substring of that title, kind).
RAY_TITLES = (
    ("MapWorker", "batch actors"),
    ("decode_rows", DECODE),
    ("_StatsActor", "ray data actors"),
    ("_AutoscalingCoordinator", "ray data actors"),
    ("ActorLocationTracker", "ray data actors"),
    ("Agent", "ray services"),  # ray::DashboardAgent, ray::RuntimeEnvAgent
)
SERVICES = ("raylet", "gcs_server", "log_monitor.py", "monitor.py", "dashboard", "runtime_env")
OTHER = "other"
WEAK = (OTHER, "other ray workers")  # an idle Ray worker may later run a decode task or an actor


def available() -> bool:
    """True where /proc gives per-process CPU times (Linux)."""
    return (PROC / "self" / "stat").is_file()


def kind_of(cmdline: str) -> str:
    """The kind of a descendant process from its command line (Ray retitles its workers)."""
    if cmdline.startswith("ray::"):
        return next((kind for key, kind in RAY_TITLES if key in cmdline), "other ray workers")
    if "default_worker.py" in cmdline:  # a worker not yet retitled
        return "other ray workers"
    program = [a for a in cmdline.split()[:4] if not a.startswith("-")][:2]  # python script.py
    if any(key in a for a in program for key in SERVICES):
        return "ray services"
    return OTHER


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent pid, start time in ticks, CPU seconds) of ``pid``, None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / ticks


def threads(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid`` (empty once it is gone)."""
    ticks, out = os.sysconf("SC_CLK_TCK"), {}
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def tree(root: int) -> dict[tuple[int, int], tuple[float, str]]:
    """Every process under ``root`` (itself included): (pid, start) -> (CPU s, command line)."""
    stats, children = {}, {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
            children.setdefault(st[0], []).append(int(entry.name))
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if pid in stats:
            try:
                cmd = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = ""
            out[(pid, stats[pid][1])] = (stats[pid][2], cmd)
    return out


class CpuSampler:
    """CPU seconds by kind of this process tree over time (a background sampling thread)."""

    def __init__(self, root: int | None = None, every: float = 0.25) -> None:
        self.root = root if root is not None else os.getpid()
        self.every = every
        self._kinds: dict[tuple[int, int], str] = {}
        self._last: dict[tuple[int, int], float] = {}
        self._base: dict[tuple[int, int], float] = {}
        self._own = 0.0
        self._threads: dict[tuple[int, int, int], float] = {}  # batch actors' threads
        self.timeline: list[tuple[float, dict[str, float]]] = []  # (time.time(), totals)
        self._thread_line: list[dict[tuple[int, int, int], float]] = []  # per timeline sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ptx-cpu-sampler", daemon=True)

    def __enter__(self) -> CpuSampler:
        self._take()
        self._base = dict(self._last)
        self.timeline = [(time.time(), {})]
        self._thread_line = [dict(self._threads)]
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._take()

    def _take(self) -> None:
        start = time.thread_time()
        for key, (cpu, cmd) in tree(self.root).items():
            self._last[key] = cpu
            kind = "driver" if key[0] == self.root else kind_of(cmd)
            # Ray retitles a worker as it goes idle, and a dying process has no cmdline.
            if key not in self._kinds or (self._kinds[key] in WEAK and kind not in WEAK):
                self._kinds[key] = kind
        for key, kind in self._kinds.items():
            if kind == "batch actors":
                for tid, cpu in threads(key[0]).items():
                    self._threads[(*key, tid)] = cpu
        self._own += time.thread_time() - start
        totals: dict[str, float] = {}
        for key, cpu in self._last.items():
            kind = self._kinds[key]
            totals[kind] = totals.get(kind, 0.0) + cpu - self._base.get(key, 0.0)
        totals["driver"] = totals.get("driver", 0.0) - self._own
        self.timeline.append((time.time(), totals))
        self._thread_line.append(dict(self._threads))

    def _index(self, when: float | None) -> int:
        if when is None:
            return len(self.timeline) - 1
        return min(range(len(self.timeline)), key=lambda i: abs(self.timeline[i][0] - when))

    def _at(self, when: float | None) -> dict[str, float]:
        return self.timeline[self._index(when)][1]

    def samples_between(self, since: float, until: float) -> int:
        """How many sampling intervals lie between two time.time() moments (as sampled)."""
        return self._index(until) - self._index(since)

    def by_kind(self, since: float | None = None, until: float | None = None) -> dict[str, float]:
        """CPU seconds of each kind between two time.time() moments (default: all of it)."""
        a = self._at(since) if since is not None else {}
        b = self._at(until)
        return {k: b[k] - a.get(k, 0.0) for k in b if b[k] - a.get(k, 0.0) > 0}

    def model_threads(self, since: float | None = None, until: float | None = None) -> float:
        """CPU seconds of each batch actor's busiest thread between two moments, summed.

        The busiest thread over the window runs the model: decoding, the writes and
        Ray's own threads are elsewhere (an actor's start, before, is another thread).
        """
        a = self._thread_line[self._index(since)] if since is not None else {}
        b = self._thread_line[self._index(until)]
        best: dict[tuple[int, int], float] = {}
        for (pid, start, tid), cpu in b.items():
            used = cpu - a.get((pid, start, tid), 0.0)
            best[(pid, start)] = max(best.get((pid, start), 0.0), used)
        return sum(best.values())


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot, every core (all but idle and iowait)."""
    fields = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuStats:
    """Per side: CPU ms an image over whole calls and the steady window, by kind, and load."""

    def __init__(self) -> None:
        self.calls: dict[str, list[dict]] = {}

    def add(
        self,
        side: str,
        sampler: CpuSampler,
        images: int,
        seconds: float,
        machine: float,
        window: tuple[int, float, float] | None,
    ) -> None:
        """One call of ``side``: its sampler, images, wall seconds, machine busy CPU seconds,
        and the steady window (images, first, last output time) when there is one."""
        whole = sampler.by_kind()
        ours = sum(whole.values())
        call = {
            "whole_ms": 1000 * ours / images,
            "by_kind_ms": {k: 1000 * v / images for k, v in whole.items()},
            "cores": ours / seconds,
            "others_cores": max(0.0, machine - ours) / seconds,
        }
        call["model_thread_ms"] = 1000 * sampler.model_threads() / images
        # A window within one sampling interval (a tiny run) has no CPU figure of its own.
        if window is not None and sampler.samples_between(window[1], window[2]) >= 2:
            count, first, last = window
            steady = sampler.by_kind(first, last)
            call["steady_ms"] = 1000 * sum(steady.values()) / count
            call["steady_by_kind_ms"] = {k: 1000 * v / count for k, v in steady.items()}
            call["model_thread_ms"] = 1000 * sampler.model_threads(first, last) / count
        self.calls.setdefault(side, []).append(call)

    def summary(self) -> dict:
        """Medians over a side's calls (a kind's figure: the mean)."""
        out = {}
        for side, calls in self.calls.items():
            steady = [c["steady_ms"] for c in calls if "steady_ms" in c]
            kinds = sorted({k for c in calls for k in c["by_kind_ms"]})
            steady_kinds = sorted({k for c in calls for k in c.get("steady_by_kind_ms", {})})
            with_steady = [c for c in calls if "steady_by_kind_ms" in c]
            out[side] = {
                "whole_ms_per_image": statistics.median(c["whole_ms"] for c in calls),
                "steady_ms_per_image": statistics.median(steady) if steady else None,
                "model_thread_ms_per_image": statistics.median(c["model_thread_ms"] for c in calls),
                # The decode tasks over a whole call (median: the first call that needs a
                # decode process pays its start, ~1 s of CPU)
                "decode_ms_per_image": statistics.median(
                    c["by_kind_ms"].get(DECODE, 0.0) for c in calls
                ),
                "cores": statistics.median(c["cores"] for c in calls),
                "others_cores": statistics.median(c["others_cores"] for c in calls),
                "by_kind_ms_per_image": {
                    k: statistics.fmean(c["by_kind_ms"].get(k, 0.0) for c in calls) for k in kinds
                },
                # Where the steady CPU goes (batch actors less the model thread: the
                # actors' decode-to-pixels, encode, write and Ray work).
                "steady_by_kind_ms_per_image": {
                    k: statistics.fmean(c["steady_by_kind_ms"].get(k, 0.0) for c in with_steady)
                    for k in steady_kinds
                },
            }
        return out


def ceiling(cpu: dict, cores: int) -> dict | None:
    """The x2/x1 ceiling from CPU alone (load-proof): batch x1 runs at most as fast as its
    model thread (1000 / its ms an image, reached when nothing else wants that core) and
    ``cores`` CPUs at batch x2's steady CPU per image allow cores * 1000 / those ms."""
    x1, x2 = cpu.get("batch_x1") or {}, cpu.get("batch_x2") or {}
    thread, total = x1.get("model_thread_ms_per_image"), x2.get("steady_ms_per_image")
    if not thread or not total:
        return None
    out = {
        "x1_images_per_s": 1000 / thread,
        "x2_images_per_s": cores * 1000 / total,
        "x2_over_x1": cores * thread / total,
    }
    # A short run decodes ahead of its steady window (the decode tasks outrun the
    # actors, then idle); a catalogue run decodes as it goes, so count all of it.
    in_window = (x2.get("steady_by_kind_ms_per_image") or {}).get(DECODE)
    whole = x2.get("decode_ms_per_image")
    if in_window is not None and whole:
        out["x2_over_x1_all_decode"] = cores * thread / (total - in_window + whole)
        out["decode_ms_per_image"] = {"steady_window": in_window, "whole_call": whole}
    return out


def cpu_markdown(cpu: dict, cores: int) -> list[str]:
    """The CPU table (whole and steady ms an image, by kind) and the x2/x1 ceiling."""
    kinds = sorted({k for c in cpu.values() for k in c["by_kind_ms_per_image"]})
    lines = [
        "CPU per image (utime+stime of the whole process tree: driver, Ray's services "
        "and workers, robust to other load; the idle Ray beside the `ptx run` sides "
        "counts for them too). Model thread = the batch actors' busiest threads, steady:",
        "",
        "| side | whole ms/img | steady ms/img | model thread ms/img | our cores | "
        "others' cores | " + " | ".join(f"{k} (whole)" for k in kinds) + " |",
        "|---|" + "---:|" * (5 + len(kinds)),
    ]
    for side, c in cpu.items():
        steady = c["steady_ms_per_image"] or float("nan")
        by = c["by_kind_ms_per_image"]
        lines.append(
            f"| {side} | {c['whole_ms_per_image']:.1f} | {steady:.1f} | "
            f"{c['model_thread_ms_per_image']:.1f} | {c['cores']:.2f} | "
            f"{c['others_cores']:.2f} | "
            + " | ".join(f"{by.get(k, 0.0):.1f}" for k in kinds)
            + " |"
        )
    steady_kinds = sorted(
        {k for c in cpu.values() for k in c.get("steady_by_kind_ms_per_image") or {}}
    )
    if steady_kinds:
        lines += [
            "",
            "Steady CPU per image by kind (first to last quarter of the outputs):",
            "",
            "| side | " + " | ".join(steady_kinds) + " | batch actors less model thread |",
            "|---|" + "---:|" * (len(steady_kinds) + 1),
        ]
        for side, c in cpu.items():
            by = c.get("steady_by_kind_ms_per_image") or {}
            if not by:
                continue
            rest = by.get("batch actors", 0.0) - c["model_thread_ms_per_image"]
            lines.append(
                f"| {side} | "
                + " | ".join(f"{by.get(k, 0.0):.1f}" for k in steady_kinds)
                + f" | {rest:.1f} |"
            )
    top = ceiling(cpu, cores)
    if top:
        lines += [
            "",
            f"- ceiling from CPU alone: batch x1 at most {top['x1_images_per_s']:.1f} images/s "
            f"(its model thread's {cpu['batch_x1']['model_thread_ms_per_image']:.1f} ms an "
            f"image); {cores} cores at batch x2's {cpu['batch_x2']['steady_ms_per_image']:.1f} "
            f"ms an image at most {top['x2_images_per_s']:.1f} images/s: x2/x1 <= "
            f"{top['x2_over_x1']:.2f} (target 1.5) on an otherwise idle machine",
        ]
        if "x2_over_x1_all_decode" in top:
            dec = top["decode_ms_per_image"]
            lines.append(
                f"- batch x2's decode tasks ran ahead of the window: {dec['whole_call']:.1f} ms "
                f"an image over the whole call, {dec['steady_window']:.1f} in the window; with "
                f"all of it (a catalogue run decodes as it goes) x2/x1 <= "
                f"{top['x2_over_x1_all_decode']:.2f}"
            )
    return lines


__all__ = [
    "DECODE",
    "RAY_TITLES",
    "SERVICES",
    "CpuSampler",
    "CpuStats",
    "ceiling",
    "cpu_markdown",
    "available",
    "kind_of",
    "machine_busy",
    "tree",
]
