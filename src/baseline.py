"""LightGBM on the network run's own split and unscaled features: `python -m src.baseline experiment=housing
[baseline.trials=50]` (an Optuna search on the validation rows); tested once, reported as a run in logs/<name>/baseline/.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.config import check_command_line  # importing it registers the resolvers Hydra composes with
from src.errors import require, require_int, user_errors_exit

METRICS = {"regression": "l2", "binary": "binary_logloss", "multiclass": "multi_logloss"}  # LightGBM's objective: the task
LIGHTGBM_MODEL = "lightgbm_model.txt"  # the booster at its best round, in the run's folder (src.ensemble reads it)


@dataclass
class Split:
    x: Any  # pandas.DataFrame, indexed by the row's position in the table
    y: np.ndarray


@dataclass
class Fitted:
    booster: Any  # lightgbm.Booster
    params: dict
    best_iteration: int  # 1-based, like a network run's best epoch
    best_val_loss: float
    train_loss: list[float]  # per boosting round
    val_loss: list[float]


def raw_splits(datamodule) -> dict[str, Split]:
    """The network run's rows and columns before scaling: numbers (NaN where missing), pandas categories over the
    training vocabulary (an unseen value is missing) and dates' calendar features, with the encoded targets."""
    import pandas as pd

    from src.data.preprocessing import DATE_FEATURES, category_codes, date_features, prepare_columns

    table, state = datamodule.load_table(), datamodule.preprocessing
    kinds = {c: state["columns"][c] for c in datamodule.feature_names}
    frame = table.frame[list(kinds)].copy()
    rows = np.sort(np.concatenate(list(datamodule.split_positions.values())))
    prepare_columns(frame, kinds, rows, datamodule.missing, table.name)  # text numbers and ISO dates typed, as in setup
    columns = {}
    for column, kind in kinds.items():
        if kind == "numeric":
            columns[column] = frame[column]
        elif kind == "date":
            features = date_features(frame[column])
            columns.update({f"{column}.{name}": features[:, i] for i, name in enumerate(DATE_FEATURES)})
        else:  # the network's codes (0 unknown, 1 missing, 2.. the vocabulary), with unknown read as missing
            vocabulary = state["vocabularies"][column]
            codes = category_codes(frame[column], vocabulary)
            columns[column] = pd.Categorical.from_codes(np.where(codes >= 2, codes - 2, -1), categories=vocabulary)
    x = pd.DataFrame(columns, index=frame.index)
    x.columns = lightgbm_names(list(columns))
    return {
        stage: Split(x.iloc[positions], datamodule.splits[stage][1].reshape(-1).numpy())
        for stage, positions in datamodule.split_positions.items()
    }


def lightgbm_names(columns: list[str]) -> list[str]:
    """Column names LightGBM takes: it refuses the characters of JSON's syntax ("price [usd]", "a:b"), so those become
    _, and a name that then repeats another gets its position appended."""
    names = [re.sub(r'[",:\[\]{}]', "_", c) for c in columns]
    return [f"{n}_{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def lightgbm_params(task: str, n_classes: int, settings: dict, seed: int, threads: int) -> dict:
    return {
        "objective": task,
        "metric": METRICS[task],
        "seed": seed,
        "num_threads": threads,
        "deterministic": True,  # same seed and threads, same trees
        "force_col_wise": True,
        "verbose": -1,
        **settings,
        **({"num_class": n_classes} if task == "multiclass" else {}),
    }


def fit_lightgbm(train: Split, val: Split, params: dict, max_rounds: int, early_stopping_rounds: int) -> Fitted:
    import lightgbm as lgb

    train_set = lgb.Dataset(train.x, train.y, free_raw_data=False)
    val_set = lgb.Dataset(val.x, val.y, reference=train_set, free_raw_data=False)
    history: dict = {}
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=max_rounds,
        # LightGBM's early stopping skips the training set, so only the validation rows decide
        valid_sets=[train_set, val_set],
        valid_names=["train", "val"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False), lgb.record_evaluation(history)],
    )
    metric = params["metric"]
    val_loss = [float(v) for v in history["val"][metric]]
    best = booster.best_iteration or len(val_loss)
    return Fitted(booster, params, best, val_loss[best - 1], [float(v) for v in history["train"][metric]], val_loss)


def search_space(trial) -> dict:
    """A small space in the spirit of the tabular benchmarks' LightGBM spaces."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


def search_on_validation(
    train: Split, val: Split, base: dict, trials: int, seed: int, max_rounds: int, early_stopping_rounds: int
):
    """Optuna's TPE over `search_space` on the validation loss; returns the best Fitted and the search's summary."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    best: dict[str, Fitted] = {}

    def objective(trial) -> float:
        fitted = fit_lightgbm(train, val, {**base, **search_space(trial)}, max_rounds, early_stopping_rounds)
        if "fitted" not in best or fitted.best_val_loss < best["fitted"].best_val_loss:
            best["fitted"] = fitted
        return fitted.best_val_loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    summary = {"trials": len(study.trials), "best_trial": study.best_trial.number, "best_val_loss": study.best_value}
    return best["fitted"], {**summary, "on": "validation"}


def fit_baseline(cfg: DictConfig, out_dir: Path):
    from importlib.metadata import version

    import torch

    from src.reporting.diagnosis import constant_guess
    from src.reporting.prediction_metrics import metrics_from_predictions
    from src.reporting.report import write_prediction_report
    from src.reporting.results import RunResult
    from src.train import build_datamodule

    settings = cfg.baseline
    start, cpu_start = time.perf_counter(), time.process_time()
    datamodule = build_datamodule(cfg)
    task = datamodule.task
    require(task in METRICS, f"the LightGBM baseline handles {', '.join(METRICS)} targets; this data's task is {task!r}")
    splits = raw_splits(datamodule)
    class_labels = list(datamodule.class_labels)
    base = lightgbm_params(task, len(class_labels), dict(settings.params), cfg.seed, settings.threads)
    rounds, patience = settings.max_rounds, settings.early_stopping_rounds
    search = None
    if settings.trials > 0:
        fitted, search = search_on_validation(splits["train"], splits["val"], base, settings.trials, cfg.seed, rounds, patience)
    else:
        fitted = fit_lightgbm(splits["train"], splits["val"], base, rounds, patience)
    training_s = time.perf_counter() - start

    test, val = splits["test"], splits["val"]
    predicted = np.asarray(fitted.booster.predict(test.x, num_iteration=fitted.best_iteration))
    threshold = float(cfg.model.get("threshold", 0.5) or 0.5)
    # the networks' check (src/reporting/diagnosis.py) on LightGBM's validation predictions
    val_predicted = torch.as_tensor(np.asarray(fitted.booster.predict(val.x, num_iteration=fitted.best_iteration)))
    cause = "LightGBM found no split that helps (too few rows) or the features do not predict the target"
    warning, diagnostics = constant_guess(task, torch.as_tensor(val.y), val_predicted, threshold, class_labels, cause)
    metrics, matrices = metrics_from_predictions(task, test.y, predicted, threshold, class_labels)
    result = RunResult.from_history(
        "lightgbm",
        fitted.train_loss,
        fitted.val_loss,
        start,
        best_epoch=fitted.best_iteration,  # boosting rounds play the part of epochs
        best_val_loss=fitted.best_val_loss,
        test=metrics,
        matrices=matrices,
        stopped_early=len(fitted.val_loss) < rounds,
    )
    result.warnings, result.diagnostics = [warning] if warning else [], diagnostics
    rows = datamodule.split_positions["test"]
    write_prediction_report(
        out_dir, rows, test.y, predicted, task, datamodule.target_name, class_labels, threshold, matrices, result
    )
    fitted.booster.save_model(str(out_dir / LIGHTGBM_MODEL), num_iteration=fitted.best_iteration)
    extra = {
        "experiment": cfg.name,
        "seed": cfg.seed,
        "model": "lightgbm",
        "lightgbm_params": {k: v for k, v in fitted.params.items() if k != "verbose"},
        "training_s": training_s,  # wall seconds of data, search and training; cpu_time_s: this process's CPU seconds
        "cpu_time_s": time.process_time() - cpu_start,
        "rows": {stage: len(split.y) for stage, split in splits.items()},
        "class_labels": class_labels,
        **({"positive_class": class_labels[1]} if task == "binary" else {}),
        "versions": {name: version(name) for name in ("lightgbm", "optuna", "scikit-learn")},
        "search": search,
    }
    return result, extra


def baseline(cfg: DictConfig):
    from src.reporting.results import print_metrics_table, print_run_folder, write_metrics_json

    validate_baseline(cfg.baseline)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    result, extra = fit_baseline(cfg, out_dir)
    write_metrics_json(out_dir / "metrics.json", result, extra=extra)
    print_metrics_table(result, title=f"{cfg.name} (LightGBM) test metrics", class_labels=extra["class_labels"])
    print(f"best round {result.best_epoch} of {result.stopped_epoch}", file=sys.stderr)
    print_run_folder(out_dir)
    return result


@hydra.main(version_base="1.3", config_path="../conf", config_name="baseline")
def main(cfg: DictConfig) -> None:
    with user_errors_exit():
        baseline(cfg)


def validate_baseline(settings: DictConfig) -> None:
    for key, low in (("trials", 0), ("max_rounds", 1), ("early_stopping_rounds", 1), ("threads", 1)):
        require_int(f"baseline.{key}", settings[key], low)


if __name__ == "__main__":
    check_command_line("baseline")
    main()
