"""Reading checkpoint files as data (`torch.load(weights_only=True)`: loading one never runs code); a file that cannot
be read is a one-line error. A model comes back with its data settings, its classes named as strings in the checkpoint
(`TabularModule.on_save_checkpoint`) and only taken from this project's `src.models`, `src.data` and `src.` (net)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.errors import UserError, first_line, require

if TYPE_CHECKING:
    from src.models.tabular_module import TabularModule


def checkpoint_file(path: str | Path, name: str) -> Path:
    """`path` itself, or `<path>/checkpoints/<name>` when `path` is a run's folder (`<path>/<name>` when it is the
    run's checkpoints/ folder)."""
    path = Path(path)
    if not path.is_dir():
        return path
    inside = path / "checkpoints" / name
    for candidate in (inside, path / name):
        if candidate.is_file():
            return candidate
    found = sorted(p.name for p in (path / "checkpoints").glob("*.ckpt"))
    hint = f"it has {', '.join(found)} in checkpoints/" if found else "it has no checkpoints/ folder with .ckpt files"
    raise UserError(f"ckpt_path={path} is a folder without checkpoints/{name} ({hint}); give a checkpoint file, e.g. {inside}")


def read_checkpoint(path: str | Path) -> Any:
    import torch

    path = Path(path)
    require(path.is_file(), f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file it cannot read; each means the same here
        if "allowed global" in str(exc) or "Unsupported global" in str(exc):
            raise UserError(
                f"{path} is not a checkpoint of this project: loading it would unpickle arbitrary objects, which is refused"
            ) from None
        raise UserError(f"{path} is not a readable checkpoint (corrupt, truncated or not a PyTorch file)") from None


def checkpoint_epoch(path: str | Path) -> int | None:
    """The 1-based epoch a checkpoint holds, or None when there is no readable one at `path`."""
    try:
        state = read_checkpoint(path)
    except UserError:
        return None
    return int(state["epoch"]) + 1 if isinstance(state, dict) and "epoch" in state else None


@dataclass
class ResumePoint:
    checkpoint: Path
    epochs_done: int  # epochs the checkpoint has trained (1-based count)
    training_done: bool  # early stopping had already stopped the run: only testing and reporting are left


def read_resume_point(checkpoint: Path) -> ResumePoint:
    state = read_checkpoint(checkpoint)  # a truncated, foreign or unsafe file: one line that says which and why
    if not isinstance(state, dict) or "loops" not in state or "callbacks" not in state:
        raise UserError(f"{checkpoint} holds no training state (loops, callbacks); resume from a last.ckpt or best.ckpt of a run")
    stopped = any(s.get("stopped_epoch", 0) > 0 for key, s in state["callbacks"].items() if key.startswith("EarlyStopping"))
    return ResumePoint(checkpoint=checkpoint, epochs_done=int(state["epoch"]) + 1, training_done=stopped)


DATA_KEYS = ("feature_names", "task", "scaler_mean", "scaler_scale")


@dataclass
class SavedRun:
    path: Path
    model: TabularModule  # in eval mode, on the CPU
    datamodule_class: type
    data_state: dict[str, Any]  # the DataModule's state_dict: names, split settings, scaler, class labels
    epoch: int  # 1-based epoch the weights come from

    def __post_init__(self) -> None:
        self.feature_names: list[str] = list(self.data_state["feature_names"])
        self.task: str = self.data_state["task"]
        self.class_labels: list[str] = list(self.data_state.get("class_labels") or [])

    def build_datamodule(self, **source_settings: Any):
        """The DataModule as it was trained (constructor arguments, then its state: the fitted preprocessing). Given
        `source_settings` (data_home, download, path) replace the saved source's own where its function takes them."""
        state = dict(self.data_state)
        given = {k: v for k, v in source_settings.items() if v is not None}
        source = state.get("source")
        takes = source_arguments(source) if isinstance(source, dict) else set()
        if "path" in given and "path" not in takes:
            raise UserError(f"data_path is for a run on a file (data=csv); {self.path} was trained on {state.get('name')!r}")
        if given and takes:
            state["source"] = {**source, **{k: v for k, v in given.items() if k in takes}}
            if "path" in given:
                state["path"] = given["path"]
        accepted = inspect.signature(self.datamodule_class.__init__).parameters
        datamodule = self.datamodule_class(**{k: v for k, v in state.items() if k in accepted})
        datamodule.load_state_dict(state)
        return datamodule

    def test_datamodule(self, cfg: Any):
        """The DataModule set up for testing, with cfg's data_home, download and data_path. A run on a file (data=csv)
        is re-evaluated on that file: if it has moved, say how to give its new place; if its test rows are not those of
        training (the file changed, or data_path names another table), refuse rather than score other rows."""
        from src.data.readers import header_columns, listed

        datamodule = self.build_datamodule(data_home=cfg.data_home, download=cfg.download, path=cfg.data_path)
        require(cfg.data_path is None or Path(cfg.data_path).is_file(), f"data_path: no such file: {cfg.data_path}")
        columns = header_columns(cfg.data_path, "data_path") if cfg.data_path is not None else None
        if columns:  # None: unreadable, the reader says why
            missing = [c for c in [*self.data_state.get("features", []), self.data_state.get("target")] if c not in columns]
            require(not missing, f"data_path {cfg.data_path} lacks the column(s) {listed(missing)} this model was trained with")
        path = datamodule.source.get("path") if isinstance(datamodule.source, dict) else None
        if isinstance(path, str) and cfg.data_path is None and not Path(path).exists():
            raise UserError(
                f"the table this checkpoint was trained on is no longer at {path}; give its place with data_path=FILE"
            )
        datamodule.setup("test")
        saved = self.data_state.get("test_fingerprint")  # None in a checkpoint from before test fingerprints
        if saved is not None and saved != datamodule.test_fingerprint:
            raise UserError(
                f"the test rows of {datamodule.name} are not the ones {self.path} was trained and tested on (the file changed "
                "since training, or data_path names another table); eval scores the test split of training"
            )
        return datamodule


def source_arguments(source: dict) -> set[str]:
    """The arguments of a saved source's function (none if it names no function of this project)."""
    from src.data.sources import source_function

    try:
        return set(inspect.signature(source_function(source)).parameters)
    except UserError:
        return set()


def load_saved_run(path: str | Path) -> SavedRun:
    """The model of a checkpoint file, or of a run's folder (its checkpoints/best.ckpt)."""
    from torch import nn

    from src.models.tabular_module import TabularModule

    path = checkpoint_file(path, "best.ckpt")
    checkpoint = read_checkpoint(path)
    rebuild = checkpoint.get("rebuild") if isinstance(checkpoint, dict) else None
    if not isinstance(rebuild, dict) or "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise UserError(f"{path} is not a checkpoint of this project (no model class, hyperparameters or weights in it)")
    model_class = project_class(rebuild.get("model_class"), "src.models.", TabularModule, path)
    datamodule_class = project_class(rebuild.get("datamodule_class"), "src.data.", object, path)
    data_state = checkpoint.get(datamodule_class.__qualname__)
    if not isinstance(data_state, dict) or any(key not in data_state for key in DATA_KEYS):
        raise UserError(f"{path} is not a checkpoint of this project (no feature names or scaler in it)")
    net = checkpoint["hyper_parameters"].get("net")
    require(isinstance(net, dict), f"{path} is not a checkpoint of this project (no network settings in it)")
    project_class(net.get("_target_"), "src.", nn.Module, path)
    try:
        model = model_class(**checkpoint["hyper_parameters"], optimizer=None)
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError, UserError) as exc:  # unknown hyperparameters or settings, weights of another shape
        raise UserError(f"{path} is corrupt: its weights do not fit the model it describes ({first_line(exc)[:200]})") from None
    model.eval()
    return SavedRun(path, model, datamodule_class, data_state, epoch=int(checkpoint.get("epoch", -1)) + 1)


def project_class(name: Any, package: str, base: type, path: Path) -> type:
    from hydra.utils import get_class

    if not isinstance(name, str) or not name.startswith(package):
        raise UserError(f"{path} is not a checkpoint of this project (class {name!r} is not in {package.rstrip('.')})")
    try:
        cls = get_class(name)
    except Exception:
        raise UserError(f"{path} names a class this project does not have: {name}") from None
    require(issubclass(cls, base), f"{path} is not a checkpoint of this project ({name} is not a {base.__name__})")
    return cls
