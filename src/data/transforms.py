"""Feature transforms fitted on the training split only, kept as plain lists so a checkpoint can rebuild them.

`standard` is the lesson's StandardScaler. `quantile` first maps each feature through its training quantiles to a
normal distribution (scikit-learn's QuantileTransformer), which tames skewed, heavy-tailed columns such as
housing's population and room counts, then standardises as usual.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import QuantileTransformer, StandardScaler


def fit_scaler_on_train(x_train: np.ndarray) -> StandardScaler:
    return StandardScaler().fit(x_train)


def fit_quantiles_on_train(x_train: np.ndarray, seed: int = 0) -> QuantileTransformer:
    n_quantiles = min(1000, x_train.shape[0])
    return QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal", random_state=seed).fit(x_train)


def quantile_transformer_from_state(quantiles: list[list[float]]) -> QuantileTransformer:
    """The fitted transformer again, from its quantiles (n_quantiles x n_features) as saved in a checkpoint."""
    table = np.asarray(quantiles, dtype=np.float64)
    transformer = QuantileTransformer(n_quantiles=table.shape[0], output_distribution="normal")
    transformer.quantiles_ = table
    transformer.references_ = np.linspace(0, 1, table.shape[0], endpoint=True)
    transformer.n_quantiles_ = table.shape[0]
    transformer.n_features_in_ = table.shape[1]
    return transformer


def fit_feature_transform(kind: str, x_train: np.ndarray) -> dict[str, Any]:
    """What `apply_feature_transform` needs, as plain lists: the quantiles (if any), then the scaler's mean and scale."""
    state: dict[str, Any] = {"quantiles": None}
    if kind == "quantile":
        transformer = fit_quantiles_on_train(x_train)
        state["quantiles"] = transformer.quantiles_.tolist()
        x_train = transformer.transform(x_train)
    scaler = fit_scaler_on_train(x_train)
    state.update(scaler_mean=scaler.mean_.tolist(), scaler_scale=scaler.scale_.tolist())
    return state


def apply_feature_transform(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    if state.get("quantiles") is not None:
        x = quantile_transformer_from_state(state["quantiles"]).transform(x)
    return (x - np.asarray(state["scaler_mean"])) / np.asarray(state["scaler_scale"])
