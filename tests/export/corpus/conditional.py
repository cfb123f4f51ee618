"""An integer-label conditional generator (cGAN, Mirza & Osindero 2014; DCGAN layers).

The class label indexes a learnt embedding that is concatenated with the latent z; a
linear layer makes a 4x4 feature map, then DCGAN-style 4x4 stride-2 ConvTransposes with
BatchNorm and ReLU up to 32x32, and a 3x3 conv with tanh. Class-conditional BatchNorm
is left out: the label enters through the embedding only.
"""

from __future__ import annotations

import torch
from corpus_common import Arch, unit_scale, warm_batchnorm
from torch import nn

CLASSES, Z = 10, 32


class CondGenerator(nn.Module):
    """(z, label) -> 32x32 RGB image in [-1, 1]."""

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(CLASSES, Z)
        self.fc = nn.Linear(2 * Z, c * 16)

        def up(cin: int, cout: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU()]  # fmt: skip

        self.net = nn.Sequential(*up(c, c // 2), *up(c // 2, c // 4), *up(c // 4, c // 4),
                                 nn.Conv2d(c // 4, 3, 3, padding=1), nn.Tanh())  # fmt: skip

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """A picture of class ``label``."""
        h = self.fc(torch.cat([z, self.embed(label)], 1)).view(-1, self.c, 4, 4)
        return self.net(torch.relu(h))


def make() -> nn.Module:
    """Fixed-seed weights at unit variance, BatchNorm statistics from a few passes."""
    torch.manual_seed(0)
    model = CondGenerator()
    g = torch.Generator().manual_seed(1)
    example = [torch.randn(8, Z, generator=g), torch.randint(0, CLASSES, (8,), generator=g)]
    unit_scale(model, example)
    return warm_batchnorm(model, example)


ARCH = Arch("Integer-label conditional generator", make, ["z:1x32", f"label:1:int64:{CLASSES}"],
            {"z": (3, 32), "label": (3,)}, dynamic_hw=False, span=2.0)  # fmt: skip
