"""The file-fidelity study: profiles, JPEG tables and alpha through ptx run's folder path."""

from __future__ import annotations

from click.testing import CliRunner

from ptx.benchmarks.studies import file_fidelity
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL


def test_good_photos_files_come_back_as_they_were_shown(tmp_path):
    # 128 px: the shipped model leaves these photos alone there (not at 64 px), so what is
    # measured is the file handling
    result = file_fidelity.run(SHIPPED_MODEL, max_side=128)
    s = result["summary"]
    assert set(s) == {"display-p3", "adobe-rgb", "jpeg-q95-444", "jpeg-q75-420", "cutout"}
    assert all(v["files"] == 6 for v in s.values())
    # read as sRGB, a tagged photo's stored values are 20-35 dB off the photo
    assert s["display-p3"]["worst_db"] > 50 and s["adobe-rgb"]["worst_db"] > 50
    # fixed quality 95 with 4:2:0: 30 dB worst on the 4:4:4 files, 0.8-1.9x the size
    assert s["jpeg-q95-444"]["worst_db"] > 50
    assert s["jpeg-q75-420"]["worst_db"] > 35  # 4:2:0 chroma re-subsampled: the gift box
    assert all(0.95 < s[k]["mean_size_ratio"] < 1.05 for k in ("jpeg-q95-444", "jpeg-q75-420"))
    assert s["cutout"]["alpha_kept"] == 1.0 and s["cutout"]["mean_edge_error"] < 3


def test_command_writes_the_table(tmp_path):
    res = CliRunner().invoke(
        file_fidelity.main, ["--max-side", "32", "--out", str(tmp_path)], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    md = (tmp_path / "file_fidelity.md").read_text()
    assert md.startswith("# File fidelity") and "| cutout | 6 |" in md
    assert (tmp_path / "file_fidelity.json").is_file()
