"""Train and test one experiment: `python -m src.train [experiment=housing] [key=value ...]`."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import src.config  # noqa: F401  (registers the config's resolvers before Hydra composes anything)
from src.errors import UserError


def build_datamodule(cfg: DictConfig):
    from hydra.utils import instantiate

    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return datamodule


def build_model(cfg: DictConfig, n_features: int):
    from hydra.utils import instantiate

    return instantiate(cfg.model, n_features=n_features, _convert_="all")


def fit_with_lightning(cfg: DictConfig, datamodule, model, logger):
    import torch
    from hydra.utils import instantiate

    from src.reporting.history import LossHistory
    from src.reporting.results import RunResult

    start = time.perf_counter()
    history = LossHistory()
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None and "_target_" in c]
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, history], logger=logger)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    trainer.strategy.barrier()  # under DDP, rank 0 has written the checkpoint files before anyone reads them
    # read the fit's outcome first: testing from a checkpoint restores the callbacks' states saved in it
    checkpoint, early_stopping = trainer.checkpoint_callback, trainer.early_stopping_callback
    train_loss, val_loss = list(history.train_loss), list(history.val_loss)
    best_val_loss, best_path = float(checkpoint.best_model_score), str(checkpoint.best_model_path)
    stopped_early = early_stopping is not None and early_stopping.stopped_epoch > 0
    best_epoch = torch.load(best_path, map_location="cpu", weights_only=True)["epoch"] + 1  # Lightning counts from 0
    trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)
    return RunResult(
        runner="lightning",
        test=dict(model.test_results),
        best_epoch=best_epoch,
        best_val_loss=best_val_loss,
        stopped_epoch=len(val_loss),
        wall_time_s=time.perf_counter() - start,
        train_loss=train_loss,
        val_loss=val_loss,
        matrices=dict(model.matrices.get("test", {})),
        tested_checkpoint=best_path,
        stopped_early=stopped_early,
    )


def fit_with_plain_loop(cfg: DictConfig, datamodule, model, logger):
    import torch

    from src.reference.plain_loop import train_plain

    # the lesson's loop on the trainer's accelerator: model and every split on the device, shuffled there
    on_gpu = cfg.trainer.accelerator in ("gpu", "cuda") or (cfg.trainer.accelerator == "auto" and torch.cuda.is_available())
    datamodule.device = torch.device("cuda" if on_gpu else "cpu")
    model.to(datamodule.device)

    return train_plain(
        model,
        datamodule,
        max_epochs=cfg.trainer.max_epochs,
        patience=early_stopping.patience if (early_stopping := cfg.callbacks.get("early_stopping")) else None,
        log_epoch=lambda metrics, epoch: logger.log_metrics(metrics, step=epoch),
    )


def quiet_known_noise() -> None:
    """Silence messages that say nothing about the user's run."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*multiple `ModelCheckpoint` callbacks")  # we test the first: best
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # Lightning vs torch 2.13
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda record: "litlogger" not in record.getMessage())


def train(cfg: DictConfig):
    """Compose-validate-build-fit-test-report; returns the RunResult."""
    from src.config import validate_config

    validate_config(cfg)
    if cfg.paths.output_dir is None:  # debug=fast: every file of the run goes into a temporary folder, removed at the end
        with tempfile.TemporaryDirectory(prefix="tabular-debug-") as tmp:
            cfg.paths.output_dir = tmp
            return train(cfg)
    quiet_known_noise()
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from src.reporting.report import write_test_report
    from src.reporting.results import print_metrics_table, write_metrics_json

    from lightning.pytorch.utilities import rank_zero_only

    run_dir = Path(cfg.paths.output_dir)
    writes_files = rank_zero_only.rank == 0  # under DDP only rank 0 writes
    if writes_files:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule.n_features)
    logger = instantiate(cfg.logger)
    fit = fit_with_plain_loop if cfg.runner == "plain" else fit_with_lightning
    result = fit(cfg, datamodule, model, logger)
    if not writes_files:
        return result
    # the model now holds the tested (best) weights: figures, test predictions and the constant-guess check
    diagnosis = write_test_report(run_dir, model, datamodule, result.matrices, logger, step=result.stopped_epoch, history=result)
    result.warnings, result.diagnostics = diagnosis.warnings, diagnosis.details

    logger.log_hyperparams(
        flat_config(cfg), metrics={"hp/best_val_loss": result.best_val_loss, **{f"hp/{k}": v for k, v in result.test.items()}}
    )
    logger.finalize("success")
    write_metrics_json(run_dir / "metrics.json", result, extra={"experiment": cfg.name, "seed": cfg.seed})
    print_metrics_table(result, title=f"{cfg.name} ({cfg.runner}) test metrics — {run_dir}")
    return result


def flat_config(cfg: DictConfig) -> dict:
    """The run's settings as flat key: value pairs for TensorBoard's hyperparameter tab."""
    flat = {}

    def walk(node, prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, f"{name}.")
            elif key == "_target_" or not str(key).startswith("_"):  # the class names matter, _partial_ does not
                flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        result = train(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    return result.best_val_loss


if __name__ == "__main__":
    main()
