"""User models that must fail the FP16 pipeline in one clear line (for test_bad_input)."""

from __future__ import annotations

import torch
from torch import nn


def make_nan() -> nn.Module:
    """A conv net with one NaN weight (a diverged training run)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    with torch.no_grad():
        net[0].weight[0, 0, 0, 0] = float("nan")
    return net.eval()


class ColourDet(nn.Module):
    """Scales an image by the determinant of its learnt 3x3 colour matrix (ONNX Det)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.matrix = nn.Parameter(torch.eye(3) + 0.1 * torch.randn(3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """conv(x) * det(M) (one value per image)."""
        m = self.matrix[None].expand(x.shape[0], 3, 3) + 0.01 * x.mean(dim=(2, 3))[:, :, None]
        return self.conv(x) * torch.linalg.det(m)[:, None, None, None]


def make_det() -> nn.Module:
    """The Det model with fixed-seed weights."""
    torch.manual_seed(0)
    return ColourDet().eval()
