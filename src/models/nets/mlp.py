"""The lesson's network: Linear + ReLU for each hidden width, then a linear output layer. Options beyond the lesson
(normalisation, dropout, a numeric embedding) are off by default, which builds exactly the lesson's layers in its
order, so the same seed gives the same initial weights; categorical columns add the input encoder (inputs.py) first."""

from __future__ import annotations

from torch import nn

from src.models.nets.cheap_dropout import CheapDropout
from src.models.nets.checks import check_choice, check_dropout, check_widths
from src.models.nets.inputs import InputEncoder, check_input_settings, fit_embedding_to_training_rows

NORMS = ("none", "batch", "layer")


class MLP(nn.Sequential):
    """A plain nn.Sequential, so `net[0]` is the first Linear of the lesson's network (or the input encoder)."""

    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: list[int] = (),
        n_outputs: int = 1,
        hidden: list[int] = (3, 3, 3),
        norm: str = "none",
        dropout: float = 0.0,
        embedding: dict | None = None,
        categorical: str = "embedding",
        cat_embedding_dim: int | None = None,
    ) -> None:
        check_widths("hidden", hidden)
        check_choice("norm", norm, NORMS)
        check_dropout("dropout", dropout)
        check_input_settings(categorical, cat_embedding_dim, embedding)
        layers: list[nn.Module] = []
        width = n_num_features
        if embedding or cat_cardinalities:  # without either, the lesson's network exactly
            encoder = InputEncoder(n_num_features, cat_cardinalities, categorical, cat_embedding_dim, embedding)
            layers.append(encoder)
            width = encoder.out_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm != "none":
                layers.append(nn.BatchNorm1d(h) if norm == "batch" else nn.LayerNorm(h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(CheapDropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        super().__init__(*layers)

    fit_to_training_rows = staticmethod(fit_embedding_to_training_rows)  # piecewise-linear bins, if any
