"""benchmarks/studies."""
