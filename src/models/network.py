"""The lesson's network: Linear + ReLU for each hidden width, then one linear output unit.

Options beyond the lesson (all off by default, which builds exactly the lesson's layers in the lesson's order,
so the same seed gives the same initial weights): a normalisation layer and dropout in each hidden block, and
periodic embeddings of the numerical features in front of the stack.
"""

from __future__ import annotations

import math

import torch
from torch import nn

def build_relu_stack(
    n_features: int, hidden: list[int], n_outputs: int = 1, norm: str = "none", dropout: float = 0.0
) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(h))
        elif norm == "layer":
            layers.append(nn.LayerNorm(h))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class PeriodicEmbedding(nn.Module):
    """Each feature x becomes ReLU(Linear([cos 2πcx, sin 2πcx])) with learned frequencies c, one set per feature.

    The "PLR" embedding of Gorishniy et al., "On Embeddings for Numerical Features in Tabular Deep Learning"
    (NeurIPS 2022): it lets an MLP draw sharp, non-monotonic shapes of a single feature (house prices along a
    coastline, in latitude and longitude) that a ReLU stack on the raw value needs many units for.
    """

    def __init__(self, n_features: int, n_frequencies: int, dim: int, sigma: float) -> None:
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n_features, n_frequencies) * sigma)
        # one Linear(2k -> dim) per feature, as a batched weight: (features, 2k, dim)
        bound = 1 / math.sqrt(2 * n_frequencies)
        self.weight = nn.Parameter(torch.empty(n_features, 2 * n_frequencies, dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_features, dim).uniform_(-bound, bound))
        self.out_features = n_features * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * x.unsqueeze(-1) * self.frequencies  # (batch, features, k)
        periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # (batch, features, 2k)
        embedded = torch.einsum("bfk,fkd->bfd", periodic, self.weight) + self.bias
        return torch.relu(embedded).flatten(1)


def build_network(
    n_features: int,
    hidden: list[int],
    norm: str = "none",
    dropout: float = 0.0,
    embedding: dict | None = None,
) -> nn.Sequential:
    """The ReLU stack, with a periodic embedding in front when `embedding` gives its n_frequencies, dim, sigma."""
    if not embedding:
        return build_relu_stack(n_features, hidden, norm=norm, dropout=dropout)
    embed = PeriodicEmbedding(n_features, **embedding)
    return nn.Sequential(embed, *build_relu_stack(embed.out_features, hidden, norm=norm, dropout=dropout))
