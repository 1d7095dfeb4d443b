"""The input encoding every net shares. `x` holds the numeric columns, then one integer code per categorical column
(0: unknown). Numeric columns go in as they are or through an `rtdl_num_embeddings` embedding; categorical ones as
a learned embedding each (`categorical: embedding`) or one-hot (`categorical: onehot`)."""

from __future__ import annotations

import rtdl_num_embeddings as rne
import torch
import torch.nn.functional as F
from torch import nn

from src.errors import UserError, first_line, is_number, require, require_int
from src.models.nets.checks import check_choice, check_int

CATEGORICAL = ("embedding", "onehot")
# Each numeric embedding's settings: required, then optional (rtdl_num_embeddings' argument names).
EMBEDDING_SETTINGS = {
    "periodic": ({"n_frequencies", "d_embedding", "frequency_init_scale"}, {"lite", "activation"}),
    "piecewise_linear": ({"n_bins", "d_embedding"}, {"activation", "version", "tree", "bins"}),
    "linear_relu": ({"d_embedding"}, set()),
}


def split_inputs(x: torch.Tensor, n_num_features: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The numeric columns, and the category codes (floats in the batch) as integers."""
    return x[:, :n_num_features], x[:, n_num_features:].long()


def default_cat_embedding_dim(cardinality: int) -> int:
    """fastai's rule of thumb, min(600, round(1.6 * cardinality ** 0.56)): 2 for 2 codes, 3 for 4, 11 for 30."""
    return min(600, round(1.6 * cardinality**0.56))


def numeric_embedding(settings: dict, n_num_features: int) -> nn.Module:
    """An `rtdl_num_embeddings` module for `model.net.embedding`: (batch, features) -> (batch, features, d)."""
    settings = dict(settings)
    kind = settings.pop("kind", None)
    if kind == "periodic":  # PLR: ReLU(Linear([cos 2πcx, sin 2πcx])), learned frequencies c per feature
        return rne.PeriodicEmbeddings(n_num_features, **{"lite": False, **settings})
    if kind == "piecewise_linear":  # PLE: bins fitted on the training rows (fit_piecewise_linear_bins)
        bins = settings.pop("bins", None)
        for fitting_only in ("n_bins", "tree"):
            settings.pop(fitting_only, None)
        require(bins is not None, "model.net.embedding.bins are fitted from the training rows at build time; none were given")
        tensors = [torch.tensor(b, dtype=torch.float32) for b in bins]
        return rne.PiecewiseLinearEmbeddings(tensors, **{"activation": False, "version": "B", **settings})
    if kind == "linear_relu":
        return rne.LinearReLUEmbeddings(n_num_features, **settings)
    raise UserError(f"model.net.embedding.kind must be one of {', '.join(EMBEDDING_SETTINGS)}; got {kind!r}")


def check_embedding(embedding) -> None:
    """`model.net.embedding` of the MLP and the ResNet: null, or a mapping naming its kind and that kind's settings."""
    if embedding is None:
        return
    example = "e.g. {kind: periodic, n_frequencies: 16, d_embedding: 16, frequency_init_scale: 0.1}"
    require(isinstance(embedding, dict), f"model.net.embedding must be null or a mapping, {example}; got {embedding!r}")
    kind = embedding.get("kind")
    check_choice("embedding.kind", kind, tuple(EMBEDDING_SETTINGS))
    required, optional = EMBEDDING_SETTINGS[kind]
    given = set(embedding) - {"kind"}
    require(
        required <= given <= required | optional,
        f"model.net.embedding (kind={kind}) takes {', '.join(sorted(required))} and optionally "
        f"{', '.join(sorted(optional)) or 'nothing else'}; got {', '.join(sorted(given)) or 'nothing'}",
    )
    for key, minimum in (("n_frequencies", 1), ("d_embedding", 1), ("n_bins", 2)):
        if key in embedding:
            check_int(f"embedding.{key}", embedding[key], minimum)
    if "frequency_init_scale" in embedding:
        scale = embedding["frequency_init_scale"]
        require(is_number(scale) and scale > 0, f"model.net.embedding.frequency_init_scale must be > 0; got {scale!r}")
    if "version" in embedding:
        check_choice("embedding.version", embedding["version"], ("A", "B"))


def check_input_settings(categorical: str, cat_embedding_dim: int | None, embedding: dict | None) -> None:
    check_choice("categorical", categorical, CATEGORICAL)
    require_int("model.net.cat_embedding_dim", cat_embedding_dim, null=True)
    check_embedding(embedding)


def fit_embedding_to_training_rows(x_num_train: torch.Tensor, config: dict, y_train=None, task: str = "regression") -> dict:
    """The `fit_to_training_rows` hook of the nets that take `embedding`: piecewise-linear bins, once."""
    embedding = config.get("embedding")
    check_embedding(embedding)  # before the work of fitting
    return {} if embedding is None else {"embedding": fit_piecewise_linear_bins(embedding, x_num_train, y_train, task)}


def fit_piecewise_linear_bins(
    embedding: dict | None,
    x_num: torch.Tensor,
    y: torch.Tensor | None = None,
    task: str = "regression",
    key: str = "model.net.embedding",
) -> dict | None:
    """The embedding settings with `bins` (plain lists, kept in the checkpoint) fitted on the training rows when it is
    piecewise-linear: quantile bins, or with `tree: {min_samples_leaf: 64, ...}` a decision tree's target-aware ones.
    `key` is where the settings are in the config, for the errors."""
    if not embedding or embedding.get("kind") != "piecewise_linear" or embedding.get("bins") is not None:
        return embedding
    tree = embedding.get("tree")
    require(
        tree is None or isinstance(tree, dict),
        f"{key}.tree must be null or a mapping of decision-tree settings, e.g. {{min_samples_leaf: 64}}; got {tree!r}",
    )
    n_bins = min(int(embedding.get("n_bins", 48)), len(x_num) - 1)
    # a column constant on the training rows gets one bin (it carries nothing, and rtdl cannot bin it)
    varying = [i for i in range(x_num.shape[1]) if not bool((x_num[:, i] == x_num[0, i]).all())]
    target = {} if tree is None else {"tree_kwargs": dict(tree), "y": y.reshape(-1).float(), "regression": task == "regression"}
    try:
        fitted = iter(rne.compute_bins(x_num[:, varying].float(), n_bins, **target) if varying else [])
    except (ValueError, TypeError) as exc:  # e.g. a tree setting scikit-learn refuses, or too few rows to bin
        raise UserError(f"{key}.{'n_bins' if tree is None else 'tree'}: {first_line(exc)}") from None
    bins = [
        next(fitted).tolist() if i in varying else [float(x_num[0, i]), float(x_num[0, i]) + 1.0] for i in range(x_num.shape[1])
    ]
    return {**embedding, "bins": bins}


class InputEncoder(nn.Module):
    """x -> one flat row per example: numeric columns (raw or embedded), then each categorical column encoded."""

    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: list[int] = (),
        categorical: str = "embedding",
        cat_embedding_dim: int | None = None,
        embedding: dict | None = None,
    ) -> None:
        super().__init__()
        check_input_settings(categorical, cat_embedding_dim, embedding)
        self.n_num_features = n_num_features
        self.cat_cardinalities = list(cat_cardinalities)
        self.categorical = categorical
        self.numeric = numeric_embedding(embedding, n_num_features) if embedding and n_num_features else None
        width = n_num_features if self.numeric is None else int(torch.Size(self.numeric.get_output_shape()).numel())
        if categorical == "embedding":
            dims = [cat_embedding_dim or default_cat_embedding_dim(c) for c in self.cat_cardinalities]
            self.cat_embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(self.cat_cardinalities, dims))
            width += sum(dims)
        else:
            width += sum(self.cat_cardinalities)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_num, x_cat = split_inputs(x, self.n_num_features)
        parts = [x_num if self.numeric is None else self.numeric(x_num).flatten(1)]
        for i, cardinality in enumerate(self.cat_cardinalities):
            codes = x_cat[:, i]
            if self.categorical == "embedding":
                parts.append(self.cat_embeddings[i](codes))
            else:
                parts.append(F.one_hot(codes, cardinality).to(x.dtype))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
