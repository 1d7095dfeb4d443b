"""One validation step for the composed config: every mistake is reported before any work starts."""

from __future__ import annotations

from omegaconf import DictConfig

from src.errors import UserError


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_config(cfg: DictConfig) -> None:
    data, model, trainer = cfg.data, cfg.model, cfg.trainer
    _check(cfg.runner in ("lightning", "plain"), f"runner must be lightning or plain; got {cfg.runner!r}")
    _check(
        cfg.runner == "lightning" or str(trainer.get("devices", 1)) in ("1", "auto"),
        f"runner=plain runs in one process; got trainer.devices={trainer.get('devices')!r} (use trainer=default or trainer=gpu)",
    )
    _check(_is_int(cfg.seed), f"seed must be an integer; got {cfg.seed!r}")
    threads = cfg.torch_threads
    _check(threads is None or (_is_int(threads) and threads >= 1), f"torch_threads must be null or an integer >= 1; got {threads!r}")
    _check(_is_int(data.batch_size) and data.batch_size >= 1, f"data.batch_size must be an integer >= 1; got {data.batch_size!r}")
    for key in ("test_fraction", "val_fraction"):
        value = data[key]
        _check(
            isinstance(value, (int, float)) and 0 < value < 1,
            f"data.{key} must be in (0, 1); got {value!r}",
        )
    _check(
        data.test_fraction + data.val_fraction < 1,
        "data.test_fraction + data.val_fraction must leave room for training (sum < 1); "
        f"got {data.test_fraction} + {data.val_fraction}",
    )
    spe = data.steps_per_execution
    _check(spe is None or (_is_int(spe) and spe >= 1), f"data.steps_per_execution must be null or an integer >= 1; got {spe!r}")
    precision = str(trainer.get("precision", "32-true"))
    _check(
        not precision.startswith("16") or spe == 1,
        f"trainer.precision={precision} needs data.steps_per_execution=1 (only Lightning's own steps scale the fp16 loss); got {spe!r}",
    )
    hidden = model.hidden
    _check(
        hidden is not None and all(_is_int(h) and h >= 1 for h in hidden),
        f"model.hidden must be a list of positive integers; got {list(hidden) if hidden is not None else None!r}",
    )
    _check(_is_int(trainer.max_epochs) and trainer.max_epochs >= 1, f"trainer.max_epochs must be an integer >= 1; got {trainer.max_epochs!r}")
    optimizer = model.optimizer
    _check(isinstance(optimizer.lr, (int, float)) and optimizer.lr > 0, f"model.optimizer.lr must be > 0; got {optimizer.lr!r}")
    es = cfg.callbacks.get("early_stopping")
    if es is not None:
        _check(_is_int(es.patience) and es.patience >= 0, f"callbacks.early_stopping.patience must be an integer >= 0; got {es.patience!r}")
