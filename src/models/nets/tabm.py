"""TabM: an ensemble of k MLPs in one network (Gorishniy et al., ICLR 2025), from the authors' `tabm` package,
over optional numeric embeddings from their `rtdl_num_embeddings`."""

from __future__ import annotations

from typing import Any

import tabm
import torch
from torch import nn

from src.errors import UserError, require
from src.models.nets.cheap_dropout import with_cheap_dropout
from src.models.nets.checks import check_choice, check_dropout, check_int
from src.models.nets.inputs import fit_piecewise_linear_bins, numeric_embedding

ARCH_TYPES = ("tabm", "tabm-mini", "tabm-packed")
EMBEDDINGS = ("piecewise_linear", "periodic", "linear")


class TabM(nn.Module):
    """k members that share most weights and see the same mini-batch, returning `(batch, k, n_outputs)`. Piecewise-linear
    bins come from the training rows (`fit_to_training_rows`) and stay in the net's config as plain lists, so a checkpoint
    rebuilds the same net. TabM one-hot encodes the categorical codes itself, as its authors recommend."""

    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: list[int],
        n_outputs: int,
        k: int = 32,
        arch_type: str = "tabm-mini",
        n_blocks: int = 2,
        d_block: int = 256,
        dropout: float = 0.1,
        embedding: str | None = "piecewise_linear",
        n_bins: int = 48,
        d_embedding: int = 16,
        tree: dict | None = None,
        bins: list[list[float]] | None = None,
    ) -> None:
        # `tree` only chooses how `bins` are fitted (fit_to_training_rows); the net is built from the bins
        super().__init__()
        check_choice("arch_type", arch_type, ARCH_TYPES)
        require(
            embedding is None or embedding in EMBEDDINGS,
            f"model.net.embedding must be null or one of {', '.join(EMBEDDINGS)}; got {embedding!r}",
        )
        for key, value in (("k", k), ("n_blocks", n_blocks), ("d_block", d_block), ("d_embedding", d_embedding)):
            check_int(key, value)
        check_int("n_bins", n_bins, minimum=2)
        check_dropout("dropout", dropout)
        self.n_num_features = n_num_features
        self.cat_cardinalities = list(cat_cardinalities)
        num_embeddings = None
        if n_num_features and embedding is not None:
            num_embeddings = numeric_embeddings(embedding, n_num_features, d_embedding, bins)
        self.tabm = with_cheap_dropout(
            tabm.TabM.make(
                n_num_features=n_num_features,
                cat_cardinalities=self.cat_cardinalities,
                d_out=n_outputs,
                num_embeddings=num_embeddings,
                k=k,
                arch_type=arch_type,
                n_blocks=n_blocks,
                d_block=d_block,
                dropout=dropout,
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # no empty slices: tabm takes None for a kind of input the table does not have
        x_num = x[:, : self.n_num_features] if self.n_num_features else None
        x_cat = x[:, self.n_num_features :].long() if self.cat_cardinalities else None
        return self.tabm(x_num, x_cat)

    @staticmethod
    def fit_to_training_rows(
        x_num_train: torch.Tensor, config: dict[str, Any], y_train: torch.Tensor | None = None, task: str = "regression"
    ) -> dict[str, Any]:
        """Piecewise-linear `bins` from the preprocessed numeric training columns: quantiles or, with `tree`, a decision
        tree's splits on the target. Never from validation or test rows."""
        fitted = config.get("bins") is not None  # a checkpoint's settings, or given by hand
        if fitted or config.get("embedding", "piecewise_linear") != "piecewise_linear" or x_num_train.shape[1] == 0:
            return {}
        tree = config.get("tree")
        if tree is not None and y_train is None:
            raise UserError("model.net.tree (target-aware bins) needs the training targets: pass y_train")
        check_int("n_bins", config.get("n_bins", 48), minimum=2)  # before the work of fitting
        settings = {"kind": "piecewise_linear", "n_bins": config.get("n_bins", 48), "tree": tree}
        return {"bins": fit_piecewise_linear_bins(settings, x_num_train, y_train, task, key="model.net")["bins"]}


def numeric_embeddings(kind: str, n_features: int, d_embedding: int, bins: list[list[float]] | None) -> nn.Module:
    settings = {"kind": "linear_relu" if kind == "linear" else kind, "d_embedding": d_embedding}
    if kind == "piecewise_linear":
        if bins is None:
            raise UserError(
                "model.net.embedding=piecewise_linear needs bins from the training rows: "
                "build the net with TabM.fit_to_training_rows(x_num_train, config) merged into its config"
            )
        if len(bins) != n_features:
            raise UserError(f"model.net.bins has edges for {len(bins)} features; the data has {n_features} numeric features")
        settings["bins"] = bins
    return numeric_embedding(settings, n_features)  # version B beside TabM, as its authors use it
