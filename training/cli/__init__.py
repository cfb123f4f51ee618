"""training/cli."""
