"""ptx.demo: `ptx demo`, every stage end to end on synthetic data.

stages.py (config, workspace, the enhancer's stages), generative.py (VAE, style,
GAN), report.py (report.md / report.json), run.py (the order), cli.py (the command).
"""
