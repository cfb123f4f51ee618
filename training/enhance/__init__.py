"""training/enhance."""
