"""The batch manifest: one JSON line per finished input, appended by the driver as results come.

A line records input, output, the output's sha256, the model's sha256 and the ptx
version. A rerun counts an output as done only when the manifest says so for the
same model and the file on disk still has the recorded checksum.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ptx import __version__
from ptx.io import sha256_file

MANIFEST_NAME = "manifest.jsonl"
FSYNC_EVERY = 64  # lines between fsyncs (the last line is always made durable on close)


class Manifest:
    """An append-only JSONL manifest (a torn last line from a crash is ignored on reading)."""

    def __init__(self, path: str | Path, model_sha256: str) -> None:
        self.path = Path(path)
        self.model_sha256 = model_sha256
        self._file = None
        self._pending = 0

    def records(self) -> list[dict]:
        """Every well-formed line written so far (any run, any model)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def done(self) -> set[str]:
        """Outputs (as written in the manifest) complete for this model and still intact."""
        latest: dict[str, dict] = {}
        for rec in self.records():
            if rec.get("output"):
                latest[rec["output"]] = rec
        ok = set()
        for output, rec in latest.items():
            if rec.get("error") or rec.get("model_sha256") != self.model_sha256:
                continue
            path = Path(output)
            if path.is_file() and sha256_file(path) == rec.get("sha256"):
                ok.add(output)
        return ok

    def append(self, input: str, output: str, sha256: str = "", error: str = "") -> None:
        """Record one result (an ``error`` marks it failed: a rerun tries it again)."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        rec = {"input": input, "output": output}
        if error:
            rec["error"] = error
        else:
            rec["sha256"] = sha256
        rec.update(model_sha256=self.model_sha256, ptx_version=__version__)
        self._file.write(json.dumps(rec) + "\n")
        self._file.flush()
        self._pending += 1
        if self._pending >= FSYNC_EVERY:
            os.fsync(self._file.fileno())
            self._pending = 0

    def close(self) -> None:
        """Make the appended lines durable and close the file."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
