"""One LightningDataModule for every table: `data.source` loads the rows; setup() splits them, fits the preprocessing on
the training rows and builds one float32 matrix in split order, of which each split's tensors are views."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from src.data.batches import BatchGroups, auto_batch_size, ordered_batches, shuffled_batches
from src.data.columns import describe_columns, infer_column_kinds, override_list
from src.data.preprocessing import columns_of, fit_preprocessing, prepare_columns, transform_rows
from src.data.readers import listed, not_a_column
from src.data.sources import Table, source_function
from src.data.splits import check_enough_rows, fold_positions, split_rows, warn_of_absent_classes
from src.data.splits import split_like_the_lesson as split_like_the_lesson  # re-exported for the lesson's notebook
from src.data.target import describe_task, encode_target, with_positive_label
from src.errors import UserError, require

STAGES = ("train", "val", "test")
# saved in the state_dict besides the constructor's arguments: what was fitted on the training rows
FITTED_KEYS = "columns medians missing_indicators vocabularies identifiers quantiles scaler_mean scaler_scale".split()
# the constructor's settings a checkpoint keeps as they are (cv: a fold's checkpoint validates on its own fold)
SETTINGS = (
    "source path positive_label categorical numeric drop missing feature_transform test_fraction val_fraction random_state"
    " stratify batch_size name cv"
).split()


class TabularDataModule(L.LightningDataModule):
    def __init__(
        self,
        source: Mapping | Callable[[], Table] | None = None,
        batch_size: int | str = 32,  # or "auto": chosen from the training rows (src/data/batches.py)
        target: str | None = None,
        task: str | None = None,
        positive_label: str | int | None = None,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        numeric: list[str] | None = None,
        drop: list[str] | None = None,
        missing: str = "impute",
        feature_transform: str = "standard",
        test_fraction: float = 0.2,
        val_fraction: float = 0.2,
        random_state: int = 21,
        stratify: bool = False,
        seed: int = 0,
        steps_per_execution: int | None = None,
        path: str | None = None,
        cv: dict | None = None,  # {folds: k, fold: i}: fold i validates (src/data/splits.py); null = the lesson's split
    ) -> None:
        """`source`: a config node ({_target_: src.data.sources.<fn>, ...}) or a function returning a Table.
        `path`: data=csv's user-facing `data.path`, which its YAML passes on to `source.path`."""
        super().__init__()
        self.source = None if source is None else source_config(source)  # None: a checkpoint's state names it
        self.batch_size = batch_size
        self.target = target
        self.requested_task = task
        self.positive_label = positive_label
        self.features = list(features) if features is not None else None
        self.categorical, self.numeric, self.drop = (list(x or []) for x in (categorical, numeric, drop))
        self.missing = missing
        self.feature_transform = feature_transform
        self.test_fraction = test_fraction
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.stratify = stratify
        self.seed = seed
        self.steps_per_execution = steps_per_execution
        self.path = path
        self.name: str | None = None
        self.target_name: str | None = None
        self.task: str | None = task
        self.class_labels: list[str] = []
        self.class_counts: list[int] = []
        self.preprocessing: dict[str, Any] | None = None  # fitted on the training rows, or restored from a checkpoint
        self.cv = dict(cv) if cv and cv.get("folds") else None
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.test_fingerprint: str | None = None  # of the test rows as setup() made them; eval compares it to the saved one
        self._device_splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.device = torch.device("cpu")  # where batches live when no Trainer is attached (the plain loop)

    # what the model is built from
    @property
    def n_num_features(self) -> int:
        """Numeric and date inputs (a median each), then the missing indicators."""
        return len(self.preprocessing["medians"]) + len(self.preprocessing["missing_indicators"])

    @property
    def cat_cardinalities(self) -> list[int]:
        vocabularies = self.preprocessing["vocabularies"]
        return [len(vocabularies[c]) + 2 for c in columns_of(self.preprocessing, "categorical")]  # + unknown and missing

    @property
    def n_outputs(self) -> int:
        return len(self.class_labels) if self.task == "multiclass" else 1

    @property
    def n_features(self) -> int:
        """Width of a batch's x: numeric inputs, then one code per categorical column."""
        return self.n_num_features + len(self.cat_cardinalities)

    @property
    def feature_names(self) -> list[str]:
        """The columns a new row must have (numeric, categorical and date), in table order."""
        return [c for c, kind in self.preprocessing["columns"].items() if kind in ("numeric", "categorical", "date")]

    def load_table(self) -> Table:
        require(self.source is not None, "data.source is required, e.g. {_target_: src.data.sources.breast_cancer}")
        if callable(self.source):
            table = self.source()
        else:
            table = source_function(self.source)(**{k: v for k, v in self.source.items() if not k.startswith("_")})
        if not isinstance(table, Table):
            raise TypeError(f"the data source {self.source!r} returned {type(table).__name__}, not a src.data.sources.Table")
        return table

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        table = self.load_table()
        self.name, self.table_columns = table.name, list(table.frame.columns)  # predict accepts any of them
        frame, target = table.frame, self.target or table.target
        features = self.check_columns(table, target)
        what = f"data.target {target!r} of {table.name}"
        known = (table.task, table.class_labels) if target == table.target else (None, None)
        trained = self.preprocessing is not None  # a checkpoint's: its task is the model's, its preprocessing used as it is
        encoded = encode_target(frame[target], what, self.requested_task, self.missing, *known, trained=trained)
        encoded = with_positive_label(encoded, self.positive_label, what)
        self.target_name, self.task, self.class_labels = target, encoded.task, encoded.class_labels
        rows = np.flatnonzero(encoded.keep)  # positions of the rows that have a target
        check_enough_rows(len(rows), self.test_fraction, self.val_fraction, table.name)
        if self.stratify and self.task == "regression":
            raise UserError("data.stratify=true needs class labels; the target is a regression target (set data.stratify=false)")
        labels = encoded.y[rows] if self.stratify else None
        if self.cv is None:
            positions = split_rows(len(rows), self.test_fraction, self.val_fraction, self.random_state, labels, self.class_labels)
        else:  # k-fold: fold i validates, the other folds train; the lesson's test rows stay the test rows
            folds, fold, by_class = self.cv["folds"], self.cv["fold"], self.task != "regression"
            positions = fold_positions(encoded.y[rows], self.test_fraction, self.random_state, folds, fold, by_class)
        parts = {stage: rows[p] for stage, p in positions.items()}
        self.split_positions = parts  # file rows (0-based) of each split, e.g. for out-of-fold predictions
        if self.batch_size == "auto":
            self.batch_size = auto_batch_size(len(parts["train"]))
            print_once(f"batch size: {self.batch_size} (data.batch_size=auto for {len(parts['train']):,} training rows)")
        if trained:
            kinds = self.preprocessing["columns"]
        else:
            kinds = infer_column_kinds(frame, features, parts["train"], self.categorical, self.numeric, self.drop, table.name)
        unused = [c for c, kind in kinds.items() if kind not in ("numeric", "categorical", "date")]
        if len(unused) == len(kinds):
            raise UserError(
                f"no feature column of {table.name} is left to train on: {', '.join(f'{c} ({kinds[c]})' for c in unused)}; "
                f"give one a kind, e.g. data.categorical={override_list(unused[0])}"
            )
        prepare_columns(frame, kinds, rows, self.missing, table.name)
        if not trained:
            self.preprocessing = fit_preprocessing(frame, parts["train"], kinds, self.feature_transform, table.name)
            print_once(describe_columns(kinds, self.preprocessing["vocabularies"], self.preprocessing["identifiers"]))
            if encoded.inferred or self.requested_task is not None:
                print_once(describe_task(encoded, target))
            if self.task == "binary":
                print_once(
                    f"positive class: {self.class_labels[1]} (class 1, the one precision, recall and F1 are about; "
                    "data.positive_label=<label> chooses)"
                )
        order = np.concatenate([parts[s] for s in STAGES])
        # transformed in file order (columns read as views, not gathered), then the rows put in split order at once
        x_in_file_order = transform_rows(frame, rows, self.preprocessing, f"the rows of {table.name}")
        positions = order if len(rows) == len(frame) else np.searchsorted(rows, order)  # rows without a target left out
        x = torch.from_numpy(x_in_file_order).index_select(0, torch.from_numpy(positions))
        del x_in_file_order
        y = torch.from_numpy(encoded.y[order]).float().unsqueeze(1)
        sizes = [len(parts[s]) for s in STAGES]
        self.splits = dict(zip(STAGES, zip(x.split(sizes), y.split(sizes))))  # views of x and y
        self.test_fingerprint = split_fingerprint(*self.splits["test"], self.class_labels)
        if self.task != "regression":
            codes = {stage: y.reshape(-1).long().numpy() for stage, (_, y) in self.splits.items()}
            self.class_counts = np.bincount(codes["train"], minlength=len(self.class_labels)).tolist()
            hint = "" if self.stratify or self.cv else "; data.stratify=true puts every class in every split"
            warn_of_absent_classes(codes, self.class_labels, hint)

    def check_columns(self, table: Table, target: str | None) -> list[str]:
        """The feature columns, after checking data.target, data.features and the kind overrides name real columns."""
        columns = list(table.frame.columns)
        if target is None:
            raise UserError(
                f"data.target is required for {table.name}: name the column to predict, e.g. data.target={columns[-1]}"
            )
        require(target in columns, not_a_column("data.target", target, columns, table.name))
        features = self.features if self.features is not None else [c for c in columns if c != target]
        unknown = [f for f in features if f not in columns]
        require(not unknown, f"data.features {', '.join(map(repr, unknown))} not in {table.name} (columns: {listed(columns)})")
        require(target not in features, f"data.features includes the target {target!r}; a model cannot be given its own answer")
        overrides = {"data.categorical": self.categorical, "data.numeric": self.numeric, "data.drop": self.drop}
        for column in dict.fromkeys(c for names in overrides.values() for c in names):
            where = [key for key, names in overrides.items() if column in names]
            require(len(where) == 1, f"column {column!r} is in both {' and '.join(where)}; give each column one kind")
        for key, names in overrides.items():
            strangers = [c for c in names if c not in features]
            if strangers:
                raise UserError(
                    f"{key} names {', '.join(map(repr, strangers))}, not a feature column of {table.name} (feature columns: {listed(features)})"
                )
        kept = [f for f in features if f not in self.drop]
        require(kept, f"data.features is empty: {table.name} needs at least one feature column besides {target!r}")
        require(len(table.frame) > 0, f"{table.name} has a header but no rows")
        return features

    def transform_frame(self, frame, where: str, row_offset: int = 0) -> torch.Tensor:
        """New rows (e.g. for predict) as model inputs, with the saved preprocessing only; rows are named from row_offset + 1."""
        rows = np.arange(len(frame))
        prepare_columns(frame, self.preprocessing["columns"], rows, self.missing, where, row_offset)
        return torch.from_numpy(transform_rows(frame, rows, self.preprocessing, where))

    def on_device(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's tensors on the device that trains: moved once, not per batch."""
        device = self.trainer.strategy.root_device if self.trainer is not None else self.device
        cached = self._device_splits.get(stage)
        if cached is None or cached[0].device != device:
            cached = tuple(t.to(device) for t in self.splits[stage])
            self._device_splits[stage] = cached
        return cached

    def rank_and_world(self) -> tuple[int, int]:
        return (0, 1) if self.trainer is None else (self.trainer.global_rank, self.trainer.world_size)

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

    def batch_groups(self, stage: str, make_batches: Callable[[], list]) -> BatchGroups:
        # DDP reduces gradients once per Lightning step (one forward + backward), so each batch is a step there
        steps_per_execution = 1 if self.rank_and_world()[1] > 1 else self.steps_per_execution
        return BatchGroups(make_batches, self.n_batches(stage), steps_per_execution)

    def train_dataloader(self) -> BatchGroups:
        if self.trainer is not None and self.trainer.overfit_batches > 0:
            # as Lightning does for DataLoaders under overfit_batches: the same first batches every epoch
            return self.batch_groups("train", lambda: self.eval_batches("train"))
        return self.batch_groups("train", lambda: self.epoch_train_batches(self.trainer.current_epoch if self.trainer else 0))

    def val_dataloader(self) -> BatchGroups:
        return self.batch_groups("val", lambda: self.eval_batches("val"))

    def test_dataloader(self) -> BatchGroups:
        return self.batch_groups("test", lambda: self.eval_batches("test"))

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # batches are cut on the training device (see on_device); only the model summary's example row comes from the CPU
        return batch.to(device) if isinstance(batch, torch.Tensor) else batch

    # in every checkpoint, as plain data for torch.load(weights_only=True): the constructor's arguments and what was fitted
    def state_dict(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in SETTINGS},
            "target": self.target_name,
            "task": self.task,
            "features": list(self.preprocessing["columns"]),  # every column considered, the ignored and dropped too
            "table_columns": self.table_columns,
            "feature_names": self.feature_names,
            "target_name": self.target_name,
            "class_labels": list(self.class_labels),
            "class_counts": list(self.class_counts),
            "test_fingerprint": self.test_fingerprint,
            **{key: self.preprocessing[key] for key in FITTED_KEYS},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.source is None and "source" not in state:  # a checkpoint from before data sources: data.name and data.path
            name = state.get("name")
            read_file = {"_target_": "src.data.sources.read_file", "path": state.get("path")}
            self.source = read_file if name == "csv" else {"_target_": f"src.data.sources.{name}"}
        if "columns" not in state:  # a checkpoint from before column kinds: every feature was numeric
            state = {
                **state,
                "columns": {c: "numeric" for c in state["feature_names"]},
                "medians": [0.0] * len(state["feature_names"]),
                "missing_indicators": [],
                "vocabularies": {},
                "identifiers": {},
            }
        self.preprocessing = {key: state.get(key) for key in FITTED_KEYS}
        self.name, self.target_name = state.get("name"), state.get("target_name") or state.get("target")
        self.task = state["task"]
        self.class_labels = list(state.get("class_labels") or [])
        self.class_counts = list(state.get("class_counts") or [])
        # test_fingerprint is left as setup() computed it (or None before setup): the saved one is what it is checked against

    @property
    def scaler_mean(self) -> list[float] | None:
        return None if self.preprocessing is None else self.preprocessing["scaler_mean"]

    @property
    def scaler_scale(self) -> list[float] | None:
        return None if self.preprocessing is None else self.preprocessing["scaler_scale"]


def split_fingerprint(x: torch.Tensor, y: torch.Tensor, class_labels: list[str]) -> str:
    """sha256 of a split's rows as the model gets them (x, y) and of the class labels y's codes stand for."""
    digest = hashlib.sha256(
        json.dumps([list(x.shape), list(y.shape), str(x.dtype), str(y.dtype), class_labels], default=str).encode()
    )
    for tensor in (x, y):  # the contiguous bytes at once: no loop over rows, cheap for million-row tables
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).data)
    return digest.hexdigest()


def source_config(source: Mapping | Callable[[], Table]) -> dict[str, Any] | Callable[[], Table]:
    """A config node as a plain dict (it goes into checkpoints); a function (or partial) by its import path."""
    if OmegaConf.is_config(source):
        source = OmegaConf.to_container(source, resolve=True)
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, functools.partial):
        return {"_target_": f"{source.func.__module__}.{source.func.__qualname__}", **source.keywords}
    if callable(source) and getattr(source, "__module__", "").startswith("src."):
        return {"_target_": f"{source.__module__}.{source.__qualname__}"}
    if callable(source):
        return source
    raise TypeError(f"data.source must be a config node or a function returning a Table; got {type(source).__name__}")


@rank_zero_only  # under DDP every rank sets up its data; one prints
def print_once(line: str) -> None:
    print(line, flush=True)
