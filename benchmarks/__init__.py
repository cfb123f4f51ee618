"""ptx.benchmarks: harness, reports, plots and suites."""
