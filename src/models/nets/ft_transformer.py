"""The FT-Transformer of Gorishniy et al. (NeurIPS 2021): the authors' `rtdl_revisiting_models.FTTransformer`, which
embeds numeric features and category codes as tokens; `categorical: onehot` feeds one-hot columns as numeric ones."""

from __future__ import annotations

import rtdl_revisiting_models
import torch
from torch import nn

from src.errors import require
from src.models.nets.cheap_dropout import with_cheap_dropout
from src.models.nets.checks import check_choice, check_dropout, check_int, check_multiplier
from src.models.nets.inputs import CATEGORICAL, InputEncoder, split_inputs


class FTTransformer(nn.Module):
    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: list[int] = (),
        n_outputs: int = 1,
        n_blocks: int = 1,
        d_block: int = 96,
        attention_n_heads: int = 8,
        attention_dropout: float = 0.1,
        ffn_d_hidden_multiplier: float = 4 / 3,
        ffn_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        categorical: str = "embedding",
    ) -> None:
        super().__init__()
        check_choice("categorical", categorical, CATEGORICAL)
        for key, value in (("n_blocks", n_blocks), ("d_block", d_block), ("attention_n_heads", attention_n_heads)):
            check_int(key, value)
        require(
            d_block % attention_n_heads == 0,
            f"model.net.d_block must be a multiple of model.net.attention_n_heads={attention_n_heads}; got {d_block}",
        )
        check_multiplier("ffn_d_hidden_multiplier", ffn_d_hidden_multiplier, d_block)
        check_dropout("attention_dropout", attention_dropout)
        check_dropout("ffn_dropout", ffn_dropout)
        check_dropout("residual_dropout", residual_dropout)
        self.n_num_features = n_num_features
        self.onehot = InputEncoder(n_num_features, cat_cardinalities, "onehot") if categorical == "onehot" else None
        self.cat_cardinalities = [] if self.onehot is not None else list(cat_cardinalities)
        self.model = with_cheap_dropout(
            rtdl_revisiting_models.FTTransformer(
                n_cont_features=self.onehot.out_features if self.onehot is not None else n_num_features,
                cat_cardinalities=self.cat_cardinalities,
                d_out=n_outputs,
                n_blocks=n_blocks,
                d_block=d_block,
                attention_n_heads=attention_n_heads,
                attention_dropout=attention_dropout,
                ffn_d_hidden=None,
                ffn_d_hidden_multiplier=ffn_d_hidden_multiplier,
                ffn_dropout=ffn_dropout,
                residual_dropout=residual_dropout,
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.onehot is not None:
            return self.model(self.onehot(x), None)
        x_num, x_cat = split_inputs(x, self.n_num_features)
        return self.model(x_num if self.n_num_features else None, x_cat if self.cat_cardinalities else None)
