"""benchmarks/serving."""
