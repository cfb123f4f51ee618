"""training/style."""
