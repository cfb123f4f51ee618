"""Print the corpus table by hand: `.venv/bin/python tests/export/corpus/table.py [NAME ...]`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from corpus_harness import arch_files, run

HEADER = ["architecture", "nodes FP16 / FP32", "debug +FP32", "parity", "plan", "s", "checked at"]


def main(names: list[str]) -> int:
    """Run the chosen (default: all) architectures and print a Markdown table."""
    files = [p for p in arch_files() if not names or p.stem in names]
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            row = run(path, Path(tmp))
            failed += not (row.passed and row.plan)
            print("| " + " | ".join(row.cells()) + " |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
