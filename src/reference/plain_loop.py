"""The lesson's hand-written loop, the reference the Lightning path must agree with: the same DataModule, model,
optimizer and metrics, and each block names the Lightning piece that replaces it. Where the lesson's rules differ, it
follows Lightning's (the README's table): stop after `patience` epochs without improvement, keep the best weights only
on strict improvement, and never treat a NaN loss as an improvement."""

from __future__ import annotations

import math
import time
from copy import deepcopy

import torch

from src.data.datamodule import TabularDataModule
from src.models.tabular_module import TabularModule
from src.reporting.results import RunResult


def train_plain(
    model: TabularModule,
    datamodule: TabularDataModule,
    max_epochs: int,
    patience: int | None,
    log_epoch=None,
    metrics_every_n_epochs: int = 1,
) -> RunResult:
    start = time.perf_counter()
    optimizer = model.make_optimizer()  # Lightning: Trainer calls configure_optimizers()
    # the learning rate schedule, if model.lr_schedule sets one (Lightning: configure_optimizers returns it too)
    scheduler = model.make_lr_scheduler(optimizer, total_steps=max_epochs * datamodule.n_batches("train"))
    train_history, valid_history = [], []
    best_model, lowest_loss, lowest_epoch = None, math.inf, 0
    stopped_early = False

    for epoch in range(max_epochs):  # Lightning: Trainer(max_epochs=...)
        # Shuffle and cut mini-batches: randperm + index_select + split (the DataModule's train batches)
        model.train()
        train_loss, rows = 0.0, 0
        batches = datamodule.epoch_train_batches(epoch)
        for x_i, y_i in batches:  # Lightning: training_step
            loss = model.loss(model(x_i), y_i)
            optimizer.zero_grad()
            (loss * model.loss_scale if model.loss_scale != 1.0 else loss).backward()
            optimizer.step()
            if scheduler is not None:  # one step per mini-batch, as the module does
                scheduler.step()
            train_loss += loss.item() * len(y_i)
            rows += len(y_i)
        train_loss = train_loss / rows  # the epoch's loss over all its rows (the last batch may be smaller)

        # Validate without gradients, in order, batch by batch (Lightning: validation_step under inference_mode)
        model.eval()
        model.every_metric = epoch % metrics_every_n_epochs == 0  # every metric at epochs 1, n + 1, ..., as Lightning's
        with torch.no_grad():
            model.evaluate_batches(datamodule.eval_batches("val"), "val")
            valid = model.epoch_results("val")
        valid_loss = valid["val_loss"]
        train_history.append(train_loss)
        valid_history.append(valid_loss)
        if log_epoch is not None:  # Lightning: self.log(...) once per epoch into TensorBoard
            log_epoch({"train_loss": train_loss, **valid}, epoch + 1)

        if not math.isfinite(valid_loss):  # Lightning: EarlyStopping(check_finite=True)
            stopped_early = True
            break
        # Keep the best weights (Lightning: ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1))
        if valid_loss < lowest_loss:
            lowest_loss, lowest_epoch = valid_loss, epoch + 1
            best_model = deepcopy(model.state_dict())
        # Stop early (Lightning: EarlyStopping(monitor="val_loss", patience=patience))
        elif patience is not None and epoch + 1 - lowest_epoch >= patience:
            stopped_early = True
            break

    # Restore the best weights and evaluate on the test split (Lightning: trainer.test(ckpt_path="best"))
    if best_model is not None:
        model.load_state_dict(best_model)
    model.eval()
    with torch.no_grad():
        model.evaluate_batches(datamodule.eval_batches("test"), "test")
        test = model.epoch_results("test")
    return RunResult(
        runner="plain",
        test=test,
        best_epoch=lowest_epoch,
        best_val_loss=lowest_loss,
        stopped_epoch=len(valid_history),
        wall_time_s=time.perf_counter() - start,
        train_loss=train_history,
        val_loss=valid_history,
        matrices=dict(model.matrices.get("test", {})),
        stopped_early=stopped_early,
    )
