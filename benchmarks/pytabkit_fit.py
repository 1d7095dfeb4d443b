"""RealMLP-TD or LightGBM-TD (pytabkit's tuned defaults) on a template run's own split, for the table suite:

    python -m benchmarks.pytabkit_fit experiment=csv data.path=t.csv data.target=y contender=realmlp_td

The rows are the LightGBM baseline's (the network's split, unscaled, categories as pandas categories), so the four
contenders of `make suite` see the same training, validation and test rows. pytabkit picks its best epoch or round
on the validation rows; the test rows are scored once. It writes metrics.json into logs/<name>/pytabkit/<time>/.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

import src.config  # noqa: F401  (registers the config's resolvers before Hydra composes anything)
from src.errors import UserError, user_errors_exit
from src.runs.run_dir import register_resolvers

register_resolvers()

CONTENDERS = {
    "realmlp_td": ("RealMLP_TD_Regressor", "RealMLP_TD_Classifier"),
    "lightgbm_td": ("LGBM_TD_Regressor", "LGBM_TD_Classifier"),
}


def fit_contender(cfg: DictConfig) -> dict:
    import pytabkit
    import torch

    from src.baseline import raw_splits
    from src.reporting.prediction_metrics import metrics_from_predictions
    from src.reporting.results import RunResult, write_metrics_json
    from src.train import build_datamodule

    if cfg.contender not in CONTENDERS:
        raise UserError(f"contender must be one of {', '.join(CONTENDERS)}; got {cfg.contender!r}")
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    start = time.perf_counter()
    datamodule = build_datamodule(cfg)
    task, labels = datamodule.task, list(datamodule.class_labels)
    splits = raw_splits(datamodule)
    regressor, classifier = CONTENDERS[cfg.contender]
    model = getattr(pytabkit, regressor if task == "regression" else classifier)(
        random_state=cfg.seed, n_threads=cfg.torch_threads or None, device="cpu", verbosity=0
    )
    fill_missing_numbers(splits)
    train, val, test = splits["train"], splits["val"], splits["test"]
    model.fit(train.x, train.y, val.x, val.y)
    if task == "regression":
        predicted = np.asarray(model.predict(test.x), dtype=float).reshape(-1)
    else:
        proba = np.asarray(model.predict_proba(test.x), dtype=float)
        predicted = proba[:, 1] if task == "binary" else proba
    metrics, matrices = metrics_from_predictions(task, test.y, predicted, 0.5, labels)
    wall = time.perf_counter() - start
    result = RunResult(
        runner=cfg.contender,
        test=metrics,
        best_epoch=0,
        best_val_loss=float("nan"),
        stopped_epoch=0,
        wall_time_s=wall,
        matrices=matrices,
    )
    write_metrics_json(
        out_dir / "metrics.json",
        result,
        extra={
            "experiment": cfg.name,
            "seed": cfg.seed,
            "model": cfg.contender,
            "pytabkit": pytabkit.__version__ if hasattr(pytabkit, "__version__") else None,
        },
    )
    print(f"{cfg.contender} on {cfg.name}: {metrics} in {wall:.1f} s")
    return metrics


def fill_missing_numbers(splits: dict) -> None:
    """pytabkit refuses NaN in numeric columns: each such column gets the training median and a 0/1 missing
    indicator column beside it, as the template's own `data.missing: impute` does."""
    import pandas as pd

    train = splits["train"].x
    numeric = [c for c in train.columns if not isinstance(train[c].dtype, pd.CategoricalDtype)]
    gaps = [c for c in numeric if any(split.x[c].isna().any() for split in splits.values())]
    for split in splits.values():
        for column in gaps:
            split.x[f"{column}.missing"] = split.x[column].isna().astype(float)
            split.x[column] = split.x[column].fillna(train[column].median())


@hydra.main(version_base="1.3", config_path="../conf", config_name="pytabkit_fit")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        fit_contender(cfg)


if __name__ == "__main__":
    main()
