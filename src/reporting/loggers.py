"""The run's loggers (conf/logger/, a named dict). Each epoch's scalars come from the task module; at the end of a
run each logger gets the hyperparameters, the final metrics (`hp/...`) and the figures, as it takes them."""

from __future__ import annotations

import os
from pathlib import Path

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger
from omegaconf import DictConfig

from src.atomic import creating_alone, credentials_hidden
from src.errors import UserError, first_line


def build_loggers(cfg: DictConfig) -> list[Logger]:
    """One logger per entry of `cfg.logger` (`logger=none` or `~logger`: none), in the order of the config."""
    from hydra.utils import instantiate

    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        if node is None:  # `logger.csv=null` drops one logger of a group
            continue
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise UserError(
                f"logger.{name} must be a node with a _target_ (e.g. lightning.pytorch.loggers.CSVLogger); got {node!r}"
            )
        if not str(node._target_).endswith("MLFlowLogger"):
            loggers.append(instantiate(node))
            continue
        # tracking_uri=null: MLflow's own MLFLOW_TRACKING_URI (Lightning would fall back to ./mlruns)
        uri = node.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise UserError(f"logger.{name}.tracking_uri=null takes MLFLOW_TRACKING_URI, which is not set; set one of them")
        with creating_alone(uri):
            try:  # parallel jobs on one SQLite file create its tables one after another; a server answers now
                logger = instantiate(node, tracking_uri=uri)
                experiment_id(logger)
            except Exception as exc:  # noqa: BLE001 - MlflowException, or the store's own error
                shown = credentials_hidden(uri)
                raise UserError(
                    # Hydra's InstantiationException has MLflow's own reason on its second line, as its __cause__
                    f"logger.{name}.tracking_uri={shown} cannot be used: {first_line(exc.__cause__ or exc).replace(uri, shown)}"
                ) from None
        loggers.append(logger)
    return loggers


def experiment_id(logger: MLFlowLogger) -> str:
    """Gets or creates the logger's experiment, once more if a parallel job of the sweep created it between
    Lightning's look-up and its create."""
    try:
        return logger.experiment_id
    except Exception as exc:
        if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
            raise
        return logger.experiment_id


def hyperparameters(settings: dict) -> dict[str, int | float | str | bool]:
    """The settings (the config flattened to dotted keys) a logger's hyperparameter table shows: plain values (lists
    as text), the class names (`_target_`) but not Hydra's other underscore keys (`_partial_`)."""
    return {
        key: value if isinstance(value, (int, float, str, bool)) else str(value)
        for key, value in settings.items()
        if key.rsplit(".", 1)[-1] == "_target_" or not key.rsplit(".", 1)[-1].startswith("_")
    }


def log_final_metrics(loggers: list[Logger], hyperparameters: dict, metrics: dict[str, float], step: int) -> None:
    """The run's settings and its final metrics (`hp/best_val_loss`, `hp/test_...`), to each logger as it takes them."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            # the HParams tab pairs the settings with these metrics; TensorBoard also keeps them as scalars
            logger.log_hyperparams(hyperparameters, metrics=metrics)
        else:  # CSVLogger's log_hyperparams takes no metrics, nor does MLflow's
            logger.log_hyperparams(hyperparameters)
            logger.log_metrics(metrics, step=step)


def log_figure(loggers: list[Logger], name: str, path: Path, step: int) -> None:
    """A saved PNG to each logger that takes images (TensorBoard) or artifacts (MLflow)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            # the saved PNG, read back: add_figure would draw the figure a second time
            from matplotlib.image import imread

            image = imread(path)[..., :3]
            logger.experiment.add_image(f"figures/{name}", image, global_step=step, dataformats="HWC")
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_path="figures")
