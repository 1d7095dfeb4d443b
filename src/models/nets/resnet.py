"""The ResNet-like MLP of Gorishniy et al. (NeurIPS 2021): the authors' `rtdl_revisiting_models.ResNet` behind the
shared input encoder (inputs.py)."""

from __future__ import annotations

import rtdl_revisiting_models
import torch
from torch import nn

from src.models.nets.cheap_dropout import with_cheap_dropout
from src.models.nets.checks import check_dropout, check_int, check_multiplier
from src.models.nets.inputs import InputEncoder, fit_embedding_to_training_rows


class ResNet(nn.Module):
    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: list[int] = (),
        n_outputs: int = 1,
        n_blocks: int = 2,
        d_block: int = 128,
        d_hidden_multiplier: float = 2.0,
        dropout1: float = 0.15,
        dropout2: float = 0.0,
        embedding: dict | None = None,
        categorical: str = "embedding",
        cat_embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        check_int("n_blocks", n_blocks)
        check_int("d_block", d_block)
        check_multiplier("d_hidden_multiplier", d_hidden_multiplier, d_block)
        check_dropout("dropout1", dropout1)
        check_dropout("dropout2", dropout2)
        self.inputs = InputEncoder(n_num_features, cat_cardinalities, categorical, cat_embedding_dim, embedding)
        self.backbone = with_cheap_dropout(
            rtdl_revisiting_models.ResNet(
                d_in=self.inputs.out_features,
                d_out=n_outputs,
                n_blocks=n_blocks,
                d_block=d_block,
                d_hidden_multiplier=d_hidden_multiplier,
                dropout1=dropout1,
                dropout2=dropout2,
            )
        )

    fit_to_training_rows = staticmethod(fit_embedding_to_training_rows)  # piecewise-linear bins, if any

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.inputs(x))
