"""One validation step for the composed config: every mistake is reported before any work starts.

Each message names the setting, what is allowed and the bad value, on one line. Nothing here imports torch or
Lightning, so a bad override fails in about a second.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from src.errors import UserError
from src.sweeps.checks import validate_cv_and_seeds
from src.sweeps.resolvers import register_resolvers as register_sweep_resolvers

TASKS = ("regression", "binary")
FEATURE_TRANSFORMS = ("standard", "quantile")
NORMS = ("none", "batch", "layer")
LR_SCHEDULES = ("cosine", "onecycle")
# torch.optim's optimizers that take a plain step() on dense gradients (tests/test_config.py keeps this list true):
# LBFGS needs a closure, SparseAdam sparse gradients, Muon 2-D parameters only.
OPTIMIZERS = (
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD",
)


def repeat(value, times: int) -> list:
    """`${repeat:256,3}` is [256, 256, 256]: lets a search sample a width and a depth for model.hidden."""
    return [value] * times


OmegaConf.register_new_resolver("repeat", repeat, replace=True)
register_sweep_resolvers()  # hydra.sweep.dir and the joblib launcher's n_jobs call them


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_of(value, allowed: tuple, key: str) -> None:
    _check(value in allowed, f"{key} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def validate_config(cfg: DictConfig) -> None:
    validate_run(cfg)
    validate_cv_and_seeds(cfg)
    validate_data(cfg.data)
    validate_model(cfg.model)
    validate_training(cfg)


def validate_run(cfg: DictConfig) -> None:
    trainer = cfg.trainer
    _check(cfg.runner in ("lightning", "plain"), f"runner must be lightning or plain; got {cfg.runner!r}")
    _check(
        cfg.runner == "lightning" or str(trainer.get("devices", 1)) in ("1", "auto"),
        f"runner=plain runs in one process; got trainer.devices={trainer.get('devices')!r} (use trainer=default or trainer=gpu)",
    )
    _check(_is_int(cfg.seed), f"seed must be an integer; got {cfg.seed!r}")
    threads = cfg.torch_threads
    _check(threads is None or (_is_int(threads) and threads >= 1), f"torch_threads must be null or an integer >= 1; got {threads!r}")


def validate_data(data: DictConfig) -> None:
    if data.name == "csv":
        for key, example in (("path", "data.path=houses.csv"), ("target", "data.target=price"), ("task", "data.task=regression")):
            _check(not OmegaConf.is_missing(data, key), f"data.{key} is required with data=csv, e.g. {example}")
        _check(isinstance(data.path, str) and data.path.strip() != "", f"data.path must be a file name; got {data.path!r}")
        _check(isinstance(data.target, str) and data.target != "", f"data.target must be a column name; got {data.target!r}")
    task = data.get("task")
    _check(task is None or task in TASKS, f"data.task must be one of {', '.join(TASKS)}; got {task!r}")
    features = _plain(data.get("features"))
    _check(
        features is None or (isinstance(features, list) and len(features) > 0 and all(isinstance(f, str) for f in features)),
        f"data.features must be null or a non-empty list of column names, e.g. [MedInc,HouseAge]; got {features!r}",
    )
    _one_of(data.get("feature_transform", "standard"), FEATURE_TRANSFORMS, "data.feature_transform")
    _check(_is_int(data.batch_size) and data.batch_size >= 1, f"data.batch_size must be an integer >= 1; got {data.batch_size!r}")
    for key in ("test_fraction", "val_fraction"):
        value = data[key]
        _check(_is_number(value) and 0 < value < 1, f"data.{key} must be in (0, 1); got {value!r}")
    _check(
        data.test_fraction + data.val_fraction < 1,
        "data.test_fraction + data.val_fraction must leave room for training (sum < 1); "
        f"got {data.test_fraction} + {data.val_fraction}",
    )
    spe = data.steps_per_execution
    _check(spe is None or (_is_int(spe) and spe >= 1), f"data.steps_per_execution must be null or an integer >= 1; got {spe!r}")


def validate_model(model: DictConfig) -> None:
    hidden = _plain(model.hidden)
    _check(
        isinstance(hidden, list) and all(_is_int(h) and h >= 1 for h in hidden),
        f"model.hidden must be a list of positive integers, e.g. [64,64]; got {hidden!r}",
    )
    if "threshold" in model:
        _check(_is_number(model.threshold) and 0 < model.threshold < 1, f"model.threshold must be in (0, 1); got {model.threshold!r}")
    _one_of(model.get("norm", "none"), NORMS, "model.norm")
    dropout = model.get("dropout", 0.0)
    _check(_is_number(dropout) and 0 <= dropout < 1, f"model.dropout must be in [0, 1); got {dropout!r}")
    schedule = model.get("lr_schedule")
    _check(
        schedule is None or schedule in LR_SCHEDULES,
        f"model.lr_schedule must be null or one of {', '.join(LR_SCHEDULES)}; got {schedule!r}",
    )
    validate_embedding(_plain(model.get("embedding")))
    validate_optimizer(model.optimizer)


def validate_embedding(embedding) -> None:
    if embedding is None:
        return
    example = "e.g. {n_frequencies: 16, dim: 16, sigma: 0.1}"
    _check(
        isinstance(embedding, dict) and set(embedding) == {"n_frequencies", "dim", "sigma"},
        f"model.embedding must be null or have exactly n_frequencies, dim and sigma, {example}; got {embedding!r}",
    )
    for key in ("n_frequencies", "dim"):
        value = embedding[key]
        _check(_is_int(value) and value >= 1, f"model.embedding.{key} must be an integer >= 1; got {value!r}")
    sigma = embedding["sigma"]
    _check(_is_number(sigma) and sigma > 0, f"model.embedding.sigma must be > 0; got {sigma!r}")


def validate_optimizer(optimizer: DictConfig) -> None:
    target = optimizer.get("_target_")
    allowed = ", ".join(f"torch.optim.{name}" for name in OPTIMIZERS)
    _check(
        isinstance(target, str) and target.startswith("torch.optim.") and target.removeprefix("torch.optim.") in OPTIMIZERS,
        f"model.optimizer._target_ must be one of {allowed}; got {target!r}",
    )
    _check(_is_number(optimizer.get("lr")) and optimizer.lr > 0, f"model.optimizer.lr must be > 0; got {optimizer.get('lr')!r}")
    decay = optimizer.get("weight_decay", 0.0)
    _check(_is_number(decay) and decay >= 0, f"model.optimizer.weight_decay must be >= 0; got {decay!r}")


def validate_training(cfg: DictConfig) -> None:
    trainer = cfg.trainer
    precision = str(trainer.get("precision", "32-true"))
    _check(
        not precision.startswith("16") or cfg.data.steps_per_execution == 1,
        f"trainer.precision={precision} needs data.steps_per_execution=1 (only Lightning's own steps scale the fp16 loss); "
        f"got {cfg.data.steps_per_execution!r}",
    )
    _check(_is_int(trainer.max_epochs) and trainer.max_epochs >= 1, f"trainer.max_epochs must be an integer >= 1; got {trainer.max_epochs!r}")
    es = cfg.callbacks.get("early_stopping")
    if es is not None:
        _check(_is_int(es.patience) and es.patience >= 0, f"callbacks.early_stopping.patience must be an integer >= 0; got {es.patience!r}")
