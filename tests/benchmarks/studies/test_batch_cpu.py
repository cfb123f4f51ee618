"""CPU by process of a batch run: kinds from Ray titles, exited children counted, model threads."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ptx.benchmarks.studies.batch_cpu import (
    CpuSampler,
    CpuStats,
    available,
    ceiling,
    cpu_markdown,
    kind_of,
)

pytestmark = pytest.mark.skipif(not available(), reason="needs /proc (Linux)")

# Burns ``s`` seconds of CPU on one thread (by the CPU clock, so however loaded the machine).
BURN = "import time\nt = time.thread_time()\nwhile time.thread_time() - t < {s}: pass\n"
LINGER = "time.sleep(0.5)\n"  # a process seen last before its exit: let a loaded sampler see it


def test_kinds_from_ray_process_titles_and_command_lines():
    venv = "/v/bin/python"
    assert kind_of("ray::MapWorker(MapBatches(Worker))") == "batch actors"
    assert kind_of("ray::MapBatches(decode_rows)") == "decode tasks"
    assert kind_of("ray::_StatsActor") == "ray data actors"
    assert kind_of("ray::RuntimeEnvAgent") == "ray services"
    assert kind_of("ray::IDLE") == "other ray workers"
    worker = f"{venv} /v/ray/_private/workers/default_worker.py --raylet-name=/tmp/ray/raylet"
    assert kind_of(worker) == "other ray workers"  # not the raylet its arguments name
    assert kind_of("/v/ray/core/src/ray/raylet/raylet --raylet_socket_name=x") == "ray services"
    assert kind_of(f"{venv} -u /v/ray/_private/log_monitor.py --x") == "ray services"
    assert kind_of(f"{venv} -m pytest tests") == "other"


def test_a_child_that_exits_mid_run_still_counts_and_the_sampler_does_not(tmp_path):
    with CpuSampler(every=0.05) as cpu:
        subprocess.run([sys.executable, "-c", BURN.format(s=0.4) + LINGER], check=True)
        t = time.thread_time()
        while time.thread_time() - t < 0.2:
            pass
    kinds = cpu.by_kind()
    assert kinds["other"] >= 0.39  # the child, read before it exited
    # The driver's own burn, without the sampler thread's reading of /proc.
    assert 0.18 <= kinds["driver"] < 0.35
    assert cpu.model_threads() == 0.0  # no batch actor here


def test_model_threads_are_each_actors_busiest_thread_and_windows_subtract(tmp_path):
    code = (
        "import threading, time\n"
        f"b = threading.Thread(target=exec, args=({BURN.format(s=0.6) + LINGER!r},)); b.start()\n"
        f"exec({BURN.format(s=0.15)!r}); b.join()\n" + LINGER
    )
    with CpuSampler(every=0.05) as cpu:
        # Titled as Ray titles a batch actor (argv[0] is what /proc/<pid>/cmdline shows).
        subprocess.run(["ray::MapWorker(MapBatches(Worker))", "-c", code],
                       executable=sys.executable, check=True)  # fmt: skip
    assert 0.59 <= cpu.model_threads() <= 0.7  # the busy thread, not the main one
    assert cpu.by_kind()["batch actors"] >= 0.7  # both threads
    middle = cpu.timeline[len(cpu.timeline) // 2][0]
    assert cpu.model_threads(middle) + cpu.model_threads(None, middle) == pytest.approx(
        cpu.model_threads(), abs=0.05
    )

    stats = CpuStats()
    stats.add("batch_x1", cpu, images=10, seconds=2.0, machine=2.0, window=None)
    stats.add("batch_x2", cpu, images=20, seconds=2.0, machine=2.0, window=None)
    summary = stats.summary()
    x1, x2 = summary["batch_x1"], summary["batch_x2"]
    assert x1["model_thread_ms_per_image"] == pytest.approx(2 * x2["model_thread_ms_per_image"])
    assert x1["whole_ms_per_image"] == pytest.approx(2 * x2["whole_ms_per_image"])
    assert x1["steady_ms_per_image"] is None
    assert x1["steady_by_kind_ms_per_image"] == {}
    window = (10, cpu.timeline[0][0], cpu.timeline[-1][0])  # the whole run as the window
    stats.add("steady", cpu, images=10, seconds=2.0, machine=2.0, window=window)
    steady = stats.summary()["steady"]
    by = steady["steady_by_kind_ms_per_image"]
    assert by["batch actors"] == pytest.approx(x1["by_kind_ms_per_image"]["batch actors"])
    assert sum(by.values()) == pytest.approx(steady["steady_ms_per_image"])


def test_the_x2_over_x1_ceiling_from_cpu_alone():
    cpu = {
        "batch_x1": {"model_thread_ms_per_image": 25.0},
        "batch_x2": {"steady_ms_per_image": 40.0},
    }
    top = ceiling(cpu, cores=2)
    assert top["x1_images_per_s"] == pytest.approx(40.0)
    assert top["x2_images_per_s"] == pytest.approx(50.0)
    assert top["x2_over_x1"] == pytest.approx(1.25)
    assert ceiling({"batch_x1": {"model_thread_ms_per_image": 0.0}}, cores=2) is None
    row = {
        "whole_ms_per_image": 50.0, "steady_ms_per_image": 40.0, "model_thread_ms_per_image": 25.0,
        "cores": 1.5, "others_cores": 0.2, "by_kind_ms_per_image": {"driver": 2.0},
    }  # fmt: skip
    text = "\n".join(cpu_markdown({"batch_x1": row, "batch_x2": row}, cores=2))
    assert "x2/x1 <= 1.25" in text and "| driver (whole) |" in text
    assert "Steady CPU per image by kind" not in text  # no steady window, no table
    steady = {**row, "steady_by_kind_ms_per_image": {"batch actors": 31.5, "driver": 1.25}}
    text = "\n".join(cpu_markdown({"batch_x1": row, "batch_x2": steady}, cores=2))
    # The actors' CPU beside their model thread: 31.5 - 25.0.
    assert "| batch_x2 | 31.5 | 1.2 | 6.5 |" in text and "| batch_x1 |" in text
    assert "ran ahead" not in text  # no decode figures, no catalogue line
    # Decode that ran ahead of the window counts in full for a catalogue run:
    # 2 * 25 / (40 - 0.5 + 2.5) = 1.19.
    ahead = {**steady, "steady_by_kind_ms_per_image": {"decode tasks": 0.5},
             "decode_ms_per_image": 2.5}  # fmt: skip
    top = ceiling({"batch_x1": row, "batch_x2": ahead}, cores=2)
    assert top["x2_over_x1"] == pytest.approx(1.25)
    assert top["x2_over_x1_all_decode"] == pytest.approx(50 / 42)
    text = "\n".join(cpu_markdown({"batch_x1": row, "batch_x2": ahead}, cores=2))
    assert "2.5 ms an image over the whole call, 0.5 in the window" in text
    assert "x2/x1 <= 1.19" in text
