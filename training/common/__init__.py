"""training/common."""
