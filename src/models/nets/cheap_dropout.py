"""Dropout whose mask takes a quarter of the random draws on a CPU; every net of the project uses it."""

from __future__ import annotations

import torch
from torch import nn

LANES = 4  # 16-bit lanes in one 64-bit draw


class CheapDropout(nn.Dropout):
    """`nn.Dropout`'s mask draws one number per element, which for TabM's (batch, k, width) activations outweighs the
    products around it (docs/speed.md). This draws 64 bits per four elements from the same generator (so seeds and
    resumes replay it) and drops an element when its 16 bits fall below round(p * 65536): Bernoulli(p) with p rounded
    to 1/65536, kept elements scaled by 1 / (1 - p). Off the CPU, and in eval mode, it is `nn.Dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.p >= 1 or self.inplace or x.device.type != "cpu":
            return super().forward(x)
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, (-(-n // LANES),), dtype=torch.int64).view(torch.int16)[:n]
        keep = bits.view(x.shape) >= round(self.p * 65536) - 32768
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


def with_cheap_dropout(module: nn.Module) -> nn.Module:
    """`module` with every `nn.Dropout` inside it replaced by a `CheapDropout` of the same rate (no weights change)."""
    for name, child in list(module.named_modules(remove_duplicate=False)):
        if type(child) is nn.Dropout and name:
            module.set_submodule(name, CheapDropout(child.p))
    return module
