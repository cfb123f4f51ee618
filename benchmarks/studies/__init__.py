"""One-off measurements (``python -m ptx.benchmarks.studies.NAME``), written to results_dir()."""
