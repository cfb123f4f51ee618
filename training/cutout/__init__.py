"""The "cutout" family: a soft-alpha product matting network trained on the synthetic catalogue."""
