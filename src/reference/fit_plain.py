"""The lesson's loop as a runner (`runner=plain`, and `src.compare`): the same RunResult and loggers as the Lightning
path (src/runs/fit.py), and a Ctrl+C or SIGTERM ends it with the epochs it finished."""

from __future__ import annotations

import time

import torch
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from src.reference.plain_loop import train_plain
from src.reporting.report import RunReport
from src.reporting.results import RunResult
from src.runs.stop_on_signal import signals_raise_keyboard_interrupt


def fit_with_plain_loop(
    cfg: DictConfig, datamodule, model, loggers: list[Logger], resume=None, report: RunReport | None = None
) -> RunResult:
    """`resume` is always None (src.runs.resume refuses runner=plain): the signature is the Lightning path's. `report`
    writes what the tested model shows, as RunReport does on the Lightning path when testing ends."""
    # the lesson's loop on the trainer's accelerator: model and every split on the device, shuffled there
    on_gpu = cfg.trainer.accelerator in ("gpu", "cuda") or (cfg.trainer.accelerator == "auto" and torch.cuda.is_available())
    datamodule.device = torch.device("cuda" if on_gpu else "cpu")
    model.to(datamodule.device)

    start = time.perf_counter()
    history = {"train_loss": [], "val_loss": []}  # kept here too: an interrupted loop returns nothing

    def log_epoch(metrics: dict, epoch: int) -> None:
        for name, losses in history.items():  # recorded before logging: a signal while logging keeps the epoch
            losses.append(metrics[name])
        for logger in loggers:  # at the step the Lightning path uses for an epoch: its 0-based index
            logger.log_metrics(metrics, step=epoch - 1)

    with signals_raise_keyboard_interrupt() as received:
        try:
            result = train_plain(
                model,
                datamodule,
                max_epochs=cfg.trainer.max_epochs,
                patience=early_stopping.patience if (early_stopping := cfg.callbacks.get("early_stopping")) else None,
                log_epoch=log_epoch,
                metrics_every_n_epochs=cfg.trainer.get("val_metrics_every_n_epochs", 1),
            )
        except KeyboardInterrupt:
            val_loss = history["val_loss"]
            return RunResult.from_history(
                "plain",
                history["train_loss"],
                val_loss,
                start,
                interrupted=True,
                interrupted_by=received[0].name if received else "SIGINT",
                interrupted_epoch=len(val_loss) + 1,
            )
    result = result.finished()  # the lesson's loop builds its own RunResult; this adds why it stopped
    if report is not None and result.test:  # the model holds the best weights, which were tested
        report.write_test_outputs(model, datamodule, step=result.stopped_epoch)
    return result
