"""training/gan."""
