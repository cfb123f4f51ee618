"""training/vae."""
