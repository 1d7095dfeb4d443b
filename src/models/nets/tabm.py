"""TabM: an ensemble of k MLPs in one network (Gorishniy et al., ICLR 2025), from the authors' `tabm` package,
over optional numeric embeddings from their `rtdl_num_embeddings`.
"""

from __future__ import annotations

from typing import Any

import rtdl_num_embeddings
import tabm
import torch
from torch import nn

from src.errors import UserError, require
from src.models.nets.cheap_dropout import with_cheap_dropout
from src.models.nets.checks import check_choice, check_dropout, check_int
from src.models.nets.inputs import fit_piecewise_linear_bins

ARCH_TYPES = ("tabm", "tabm-mini", "tabm-packed")
EMBEDDINGS = ("piecewise_linear", "periodic", "linear")


class TabM(nn.Module):
    """The k members see the same mini-batch and share most weights (tabm-mini: one shared MLP, a separate random
    scaling of each member's input), so an epoch of k members costs far less than k epochs of one MLP. The forward
    pass returns every member's prediction, `(batch, k, n_outputs)`: the task module trains on the mean of the
    member losses and predicts with the mean prediction, as the authors do.

    Piecewise-linear embeddings take bins from the *training* rows (quantiles, or with `tree` a decision tree's
    splits on the targets): `fit_to_training_rows` computes them before the net is built and they stay in the net's
    config as plain lists, so a checkpoint rebuilds the same net. Categorical columns (integer codes, 0 = unknown)
    are one-hot encoded by TabM itself, as its authors recommend. Dropout is the package's, with a cheaper mask on
    a CPU (cheap_dropout.py)."""

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
        # the same dropout with a cheaper mask on a CPU, where nn.Dropout's draws cost more than the products
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

    @property
    def k(self) -> int:
        return self.tabm.k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: numeric columns first, then one integer code per categorical column -> (batch, k, n_outputs)."""
        x_num = x[:, : self.n_num_features] if self.n_num_features else None
        x_cat = x[:, self.n_num_features :].long() if self.cat_cardinalities else None
        return self.tabm(x_num, x_cat)

    @staticmethod
    def fit_to_training_rows(
        x_num_train: torch.Tensor, config: dict[str, Any], y_train: torch.Tensor | None = None, task: str = "regression"
    ) -> dict[str, Any]:
        """The constructor arguments that come from the training rows (plain data, for the net's saved config):
        piecewise-linear bins, at quantiles of each numeric feature or, with `tree`, at a decision tree's splits
        on the target (target-aware bins). Call before building the net, on the preprocessed numeric training
        columns (and targets); never on validation or test rows."""
        if config.get("embedding", "piecewise_linear") != "piecewise_linear" or x_num_train.shape[1] == 0:
            return {}
        if config.get("bins") is not None:  # fitted already (a checkpoint's settings, or given by hand)
            return {}
        tree = config.get("tree")
        if tree is not None and y_train is None:
            raise UserError("model.net.tree (target-aware bins) needs the training targets: pass y_train")
        settings = {"kind": "piecewise_linear", "n_bins": int(config.get("n_bins", 48)), "tree": tree}
        return {"bins": fit_piecewise_linear_bins(settings, x_num_train, y_train, task)["bins"]}


def numeric_embeddings(kind: str, n_features: int, d_embedding: int, bins: list[list[float]] | None) -> nn.Module:
    if kind == "piecewise_linear":
        if bins is None:
            raise UserError(
                "model.net.embedding=piecewise_linear needs bins from the training rows: "
                "build the net with TabM.fit_to_training_rows(x_num_train, config) merged into its config"
            )
        if len(bins) != n_features:
            raise UserError(f"model.net.bins has edges for {len(bins)} features; the data has {n_features} numeric features")
        edges = [torch.tensor(b, dtype=torch.float32) for b in bins]
        # version B is what TabM's authors use with TabM (a linear term beside the piecewise-linear one)
        return rtdl_num_embeddings.PiecewiseLinearEmbeddings(edges, d_embedding, activation=False, version="B")
    if kind == "periodic":
        return rtdl_num_embeddings.PeriodicEmbeddings(n_features, d_embedding, lite=False)
    return rtdl_num_embeddings.LinearReLUEmbeddings(n_features, d_embedding)
