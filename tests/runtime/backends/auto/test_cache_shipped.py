"""The shipped models' folder is the installed package: auto's decisions go to the user cache."""

from __future__ import annotations

from pathlib import Path

import ptx.runtime
from ptx.runtime.backends.auto.cache import cache_files, cache_root


def test_a_shipped_model_is_cached_in_the_user_folder_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path))
    shipped = Path(ptx.runtime.__file__).parent / "models" / "enhance.onnx"
    assert cache_files(shipped, "ab" * 32) == [
        cache_root() / "backend" / f"{'ab' * 8}.ptx-backend.json"
    ]
    mine = tmp_path / "m.onnx"
    assert cache_files(mine, "ab" * 32)[0] == tmp_path / "m.onnx.ptx-backend.json"
