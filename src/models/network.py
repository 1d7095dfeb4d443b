"""The lesson's network: Linear + ReLU for each hidden width, then one linear output unit."""

from __future__ import annotations

from torch import nn


def build_relu_stack(n_features: int, hidden: list[int], n_outputs: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)
