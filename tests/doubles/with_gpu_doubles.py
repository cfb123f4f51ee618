#!/usr/bin/env python
"""Run a ``ptx`` command with CUDA and TensorRT replaced by the strict CPU doubles.

For tests and for driving the GPU code paths by hand on a machine without a GPU,
never for users:

    python tests/doubles/with_gpu_doubles.py ptx bench --engine m.plan --batch 2
    python tests/doubles/with_gpu_doubles.py ptx run enhance --model m.plan --device cuda ...

Build the plan first with plain ``ptx build`` (the real TensorRT-RTX builder needs no
GPU). Everything runs on the CPU; the first line on stderr says so, and no time printed
by a command run this way is GPU time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_doubles  # noqa: E402


def main(argv: list[str]) -> int:
    """Run ``ptx ARGS...`` under the doubles; returns its exit status."""
    if not argv or argv[0] != "ptx":
        print("usage: with_gpu_doubles.py ptx COMMAND [ARGS...]", file=sys.stderr)
        return 2
    from ptx.cli import main as ptx_main

    print(gpu_doubles.NOTE, file=sys.stderr, flush=True)
    with gpu_doubles.installed():
        try:
            ptx_main.main(args=argv[1:], prog_name="ptx", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
