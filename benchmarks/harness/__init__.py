"""benchmarks/harness."""
