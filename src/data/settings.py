"""The data config checked before any work: one line naming the setting, the bad value and what is allowed."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from src.data.target import TASKS
from src.errors import is_int, is_number, require

MISSING_POLICIES = ("impute", "refuse")
FEATURE_TRANSFORMS = ("standard", "quantile")


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v != "" for v in value)


def validate_data_settings(data: DictConfig) -> None:
    source = data.get("source")
    require(
        OmegaConf.is_dict(source) and isinstance(source.get("_target_"), str),
        "data.source must be a config node with a _target_, e.g. {_target_: src.data.sources.breast_cancer}",
    )
    if source._target_ == "src.data.sources.read_file":
        for key, example in (("path", "data.path=houses.csv"), ("target", "data.target=price")):
            require(not OmegaConf.is_missing(data, key), f"data.{key} is required with data=csv, e.g. {example}")
        require(isinstance(data.path, str) and data.path.strip() != "", f"data.path must be a file name; got {data.path!r}")
    target = data.get("target")
    require(target is None or (isinstance(target, str) and target != ""), f"data.target must be a column name; got {target!r}")
    task = data.get("task")
    require(task is None or task in TASKS, f"data.task must be null (inferred) or one of {', '.join(TASKS)}; got {task!r}")
    features = _plain(data.get("features"))
    require(
        features is None or (_names(features) and len(features) > 0),
        f"data.features must be null or a non-empty list of column names, e.g. [MedInc,HouseAge]; got {features!r}",
    )
    lists = {}
    for key in ("categorical", "numeric", "drop"):
        value = _plain(data.get(key)) or []
        require(_names(value), f"data.{key} must be a list of column names, e.g. [island,sex]; got {value!r}")
        lists[key] = value
    for column in dict.fromkeys(c for names in lists.values() for c in names):
        where = [f"data.{key}" for key, names in lists.items() if column in names]
        require(len(where) == 1, f"column {column!r} is in both {' and '.join(where)}; give each column one kind")
    missing = data.get("missing", "impute")
    require(missing in MISSING_POLICIES, f"data.missing must be one of {', '.join(MISSING_POLICIES)}; got {missing!r}")
    transform = data.get("feature_transform", "standard")
    require(
        transform in FEATURE_TRANSFORMS,
        f"data.feature_transform must be one of {', '.join(FEATURE_TRANSFORMS)}; got {transform!r}",
    )
    require(isinstance(data.get("stratify", False), bool), f"data.stratify must be true or false; got {data.get('stratify')!r}")
    require(
        data.batch_size == "auto" or (is_int(data.batch_size) and data.batch_size >= 1),
        f"data.batch_size must be an integer >= 1 or auto; got {data.batch_size!r}",
    )
    for key in ("test_fraction", "val_fraction"):
        value = data[key]
        require(is_number(value) and 0 < value < 1, f"data.{key} must be in (0, 1); got {value!r}")
    require(
        data.test_fraction + data.val_fraction < 1,
        "data.test_fraction + data.val_fraction must leave room for training (sum < 1); "
        f"got {data.test_fraction} + {data.val_fraction}",
    )
    spe = data.steps_per_execution
    require(spe is None or (is_int(spe) and spe >= 1), f"data.steps_per_execution must be null or an integer >= 1; got {spe!r}")
