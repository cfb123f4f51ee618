"""benchmarks/cli."""
