"""Dropout whose mask takes a quarter of the random draws on a CPU; every net of the project uses it."""

from __future__ import annotations

import torch
from torch import nn

LANES = 4  # 16-bit lanes in one 64-bit draw


class CheapDropout(nn.Dropout):
    """torch's CPU generator draws one number per element of `nn.Dropout`'s mask, and for TabM's (batch, k, width)
    activations those draws outweigh the matrix products around them (docs/speed.md). This draws 64 random bits per
    four elements from the same generator (so seeds and resumed runs replay it) and drops an element when its 16
    bits fall below round(p * 65536): a Bernoulli(p) mask with p rounded to 1/65536, each element independent, kept
    elements scaled by 1 / (1 - p) as `nn.Dropout` scales them. Off the CPU, and in eval mode, it is `nn.Dropout`.
    The MLP builds it; the nets from `tabm` and `rtdl_revisiting_models` get theirs swapped (`with_cheap_dropout`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.p >= 1 or self.inplace or x.device.type != "cpu":
            return super().forward(x)
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, (-(-n // LANES),), dtype=torch.int64).view(torch.int16)[:n]
        keep = bits.view(x.shape) >= round(self.p * 65536) - 32768
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


def with_cheap_dropout(module: nn.Module) -> nn.Module:
    """`module` with every `nn.Dropout` inside it replaced by a `CheapDropout` of the same rate (no weights change)."""
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, CheapDropout(child.p))
        else:
            with_cheap_dropout(child)
    return module
