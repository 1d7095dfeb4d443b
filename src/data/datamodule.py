"""One LightningDataModule for every tabular source: the lesson's 60/20/20 split and train-only scaling."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split

from src.data.batches import BatchGroups, ordered_batches, shuffled_batches
from src.data.folds import split_for_fold
from src.data.sources import Table, load_table
from src.data.transforms import apply_feature_transform, fit_feature_transform
from src.errors import UserError


def split_like_the_lesson(
    x: np.ndarray, y: np.ndarray, test_fraction: float, val_fraction: float, random_state: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Test first, then validation out of the rest: 0.2 and 0.2 of all rows give the lesson's 0.2 / 0.25 calls."""
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_fraction, random_state=random_state)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1 - test_fraction), random_state=random_state
    )
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def split_sizes(n_rows: int, test_fraction: float, val_fraction: float) -> tuple[int, int, int]:
    """Rows in train, validation and test, as scikit-learn's train_test_split rounds them (test sizes up)."""
    n_test = math.ceil(test_fraction * n_rows)
    n_val = math.ceil(val_fraction / (1 - test_fraction) * (n_rows - n_test))
    return n_rows - n_test - n_val, n_val, n_test


def check_enough_rows(n_rows: int, test_fraction: float, val_fraction: float, source: str) -> None:
    """Two rows per split at least: R2 and the scaler need a spread, and training needs something to learn from."""
    if min(split_sizes(n_rows, test_fraction, val_fraction)) >= 2:
        return
    needed = next(n for n in range(n_rows + 1, 10 * n_rows + 100) if min(split_sizes(n, test_fraction, val_fraction)) >= 2)
    train, val, test = split_sizes(n_rows, test_fraction, val_fraction)
    raise UserError(
        f"{source} has too few rows for the split: {n_rows} rows give {train} train / {val} validation / {test} test; "
        f"data.test_fraction={test_fraction} and data.val_fraction={val_fraction} need at least {needed} rows"
    )


class TabularDataModule(L.LightningDataModule):
    def __init__(
        self,
        name: str,
        batch_size: int,
        test_fraction: float = 0.2,
        val_fraction: float = 0.2,
        random_state: int = 21,
        seed: int = 0,
        steps_per_execution: int | None = None,
        data_home: str | None = None,
        download: bool = True,
        task: str | None = None,
        path: str | None = None,
        target: str | None = None,
        features: list[str] | None = None,
        feature_transform: str = "standard",
        cv: dict | None = None,  # {folds: k, fold: i}: fold i validates (src/data/folds.py); null = the lesson's split
    ) -> None:
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self.test_fraction = test_fraction
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.seed = seed
        self.steps_per_execution = steps_per_execution
        self.data_home = data_home
        self.download = download
        self.requested_task = task
        self.path = path
        self.target = target
        self.features = list(features) if features is not None else None
        self.feature_transform = feature_transform
        self.cv = dict(cv) if cv and cv.get("folds") else None
        self.table: Table | None = None
        self.scaler_mean: list[float] | None = None
        self.scaler_scale: list[float] | None = None
        self.quantiles: list[list[float]] | None = None  # feature_transform=quantile: per-feature training quantiles
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._device_splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.device = torch.device("cpu")  # where batches live when no Trainer is attached (the plain loop)

    def load_table(self) -> Table:
        return load_table(
            self.name, self.data_home, self.download, self.path, self.target, self.requested_task, self.features
        )

    @property
    def feature_names(self) -> list[str]:
        return self.table.feature_names

    @property
    def n_features(self) -> int:
        return len(self.table.feature_names)

    @property
    def task(self) -> str:
        return self.table.task

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.table = self.load_table()
        check_enough_rows(len(self.table.y), self.test_fraction, self.val_fraction, self.path or self.name)
        arrays = split_like_the_lesson(
            self.table.x, self.table.y, self.test_fraction, self.val_fraction, self.random_state
        ) if self.cv is None else split_for_fold(
            self.table.x, self.table.y, self.test_fraction, self.random_state, self.cv["folds"], self.cv["fold"], self.task != "regression"
        )
        if self.scaler_mean is None:  # a checkpoint's transform, when restored, is used as it is
            fitted = fit_feature_transform(self.feature_transform, arrays["train"][0])
            self.quantiles, self.scaler_mean, self.scaler_scale = fitted["quantiles"], fitted["scaler_mean"], fitted["scaler_scale"]
        self.splits = {stage: (self.scale(x), torch.from_numpy(y).float().unsqueeze(1)) for stage, (x, y) in arrays.items()}

    def scale(self, x: np.ndarray) -> torch.Tensor:
        """The fitted feature transform (the lesson's StandardScaler by default) applied to raw feature rows."""
        state = {"quantiles": self.quantiles, "scaler_mean": self.scaler_mean, "scaler_scale": self.scaler_scale}
        return torch.from_numpy(apply_feature_transform(x, state)).float()

    def on_device(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's tensors on the device that trains: moved once, not per batch."""
        device = self.trainer.strategy.root_device if self.trainer is not None else self.device
        cached = self._device_splits.get(stage)
        if cached is None or cached[0].device != device:
            cached = tuple(t.to(device) for t in self.splits[stage])
            self._device_splits[stage] = cached
        return cached

    def rank_and_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def current_epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def n_batches(self, stage: str) -> int:
        """This rank's number of batches per epoch (the same on every rank for training, as DDP needs)."""
        return len(self.epoch_train_batches(0) if stage == "train" else self.eval_batches(stage))

    def epoch_train_batches(self, epoch: int) -> list:
        x, y = self.on_device("train")
        rank, world = self.rank_and_world()
        leftover = x.size(0) % (self.batch_size * world)
        if 0 < leftover < world:
            raise UserError(
                f"data.batch_size={self.batch_size} on {world} processes leaves a last batch of {leftover} rows, "
                "fewer than one per process; choose another batch size"
            )
        return shuffled_batches(x, y, self.batch_size, self.seed, epoch, rank, world)

    def eval_batches(self, stage: str) -> list:
        x, y = self.on_device(stage)
        rank, world = self.rank_and_world()
        return ordered_batches(x, y, self.batch_size, rank, world)

    def batches_per_step(self) -> int | None:
        # DDP reduces gradients once per Lightning step (one forward + backward), so each batch is a step there
        return 1 if self.rank_and_world()[1] > 1 else self.steps_per_execution

    def train_dataloader(self) -> BatchGroups:
        if self.trainer is not None and self.trainer.overfit_batches > 0:
            # as Lightning does for DataLoaders under overfit_batches: the same first batches every epoch
            return BatchGroups(lambda: self.eval_batches("train"), self.n_batches("train"), self.batches_per_step())
        return BatchGroups(
            lambda: self.epoch_train_batches(self.current_epoch()), self.n_batches("train"), self.batches_per_step()
        )

    def val_dataloader(self) -> BatchGroups:
        return BatchGroups(lambda: self.eval_batches("val"), self.n_batches("val"), self.batches_per_step())

    def test_dataloader(self) -> BatchGroups:
        return BatchGroups(lambda: self.eval_batches("test"), self.n_batches("test"), self.batches_per_step())

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch  # already on the training device (see on_device): skip Lightning's per-batch walk

    # Saved in every checkpoint as plain lists and strings (loadable with torch.load(weights_only=True)).
    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feature_names": list(self.table.feature_names),
            "target_name": self.table.target_name,
            "task": self.table.task,
            "class_labels": list(self.table.class_labels),
            "test_fraction": self.test_fraction,
            "val_fraction": self.val_fraction,
            "random_state": self.random_state,
            "batch_size": self.batch_size,
            "scaler_mean": list(self.scaler_mean),
            "scaler_scale": list(self.scaler_scale),
            # what rebuilds this DataModule (each key is a constructor argument) and its fitted feature transform
            "path": self.path,
            "target": self.table.target_name,
            "features": list(self.table.feature_names),
            "feature_transform": self.feature_transform,
            "quantiles": self.quantiles,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scaler_mean = list(state["scaler_mean"])
        self.scaler_scale = list(state["scaler_scale"])
        self.quantiles = state.get("quantiles")  # absent in checkpoints from before feature transforms
